"""The sandbox's Zarinpal v4 plugin, driven over real HTTP by the real Zarinpal adapter.

The buyer's side (StartPay page, pay/cancel, the GET return with Authority and Status) is played
with a plain HTTP client that does not follow redirects; the return is read from the 303.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.sandbox import MODES, Sandbox
from paylink.payments.gateways import CallbackData, ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.zarinpal import ZarinpalAdapter

MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CALLBACK = "http://127.0.0.1:9/callback/sandbox-zp"
AMOUNT = 125_000
# Loopback answers in milliseconds, but a loaded 2-core CI can stall a thread for a few hundred:
# the adapter waits 1 s, and slow mode sleeps well beyond that.
SLOW = 2.0
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(instances={"zp": "zarinpal"}, port=0, slow_seconds=SLOW, merchant=MERCHANT)
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _mode_ok(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.set_mode("zp", "ok")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=3.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def adapter(sandbox: Sandbox, http: httpx.Client) -> ZarinpalAdapter:
    config = GatewayConfig(
        name="sandbox-zp",
        protocol="zarinpal",
        base_url=f"{sandbox.url}/zp",
        merchant_id=MERCHANT,
        timeout_seconds=TIMEOUT,
    )
    return ZarinpalAdapter(config, http)


def _create(adapter: ZarinpalAdapter, amount: int = AMOUNT, callback: str = CALLBACK):
    return adapter.create(
        order_id="pay_123", amount_irr=amount, callback_url=callback, description="Tea", mobile="09121234567"
    )


def _buyer(http: httpx.Client, url: str, action: str) -> httpx.Response:
    """The buyer opens the StartPay page, then presses pay or cancel on its form."""
    page = http.get(url)
    assert page.status_code == 200
    return http.post(url, data={"Authority": url.rsplit("/", 1)[1], "action": action})


def _returned(adapter: ZarinpalAdapter, response: httpx.Response) -> CallbackData:
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return adapter.parse_callback(query, {})


def _raised(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


def _verify(adapter: ZarinpalAdapter, token: str, amount: int = AMOUNT):
    return adapter.verify(token=token, amount_irr=amount)


# -- the happy path, cancel, repeated verify ---------------------------------------------------


def test_pay_returns_ok_and_verifies_with_reference_and_masked_card(sandbox, http, adapter):
    # Given a payment created on the sandbox
    created = _create(adapter)
    assert created.redirect.url == f"{sandbox.url}/zp/pg/StartPay/{created.token}"
    # When the buyer pays and comes back, and we verify with our amount
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    result = _verify(adapter, created.token)
    # Then the return claims OK for that authority, and verify says verified with ref and card
    assert (returned.token, returned.claimed_success, returned.cancelled) == (created.token, True, False)
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == AMOUNT
    assert result.reference == sandbox.payment("zp", created.token).ref_number
    assert result.card_mask == sandbox.payment("zp", created.token).card_number
    assert result.card_mask.startswith("603799******")


def test_create_sends_currency_irr_and_the_sandbox_counts_rials(sandbox, adapter):
    # Given the adapter
    # When a payment is created
    created = _create(adapter)
    # Then the recorded request carries currency IRR and the payment holds the same rials
    call = [c for c in sandbox.calls("zp") if c["path"].endswith("/request.json")][-1]
    assert call["body"]["currency"] == "IRR"
    assert sandbox.payment("zp", created.token).amount_irr == AMOUNT


def test_second_verify_is_already_verified(sandbox, http, adapter):
    # Given a paid and verified payment
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    assert _verify(adapter, created.token).outcome is VerifyOutcome.VERIFIED
    # When it is verified again
    again = _verify(adapter, created.token)
    # Then Zarinpal's 101 reads as already verified, with the same reference
    assert again.outcome is VerifyOutcome.ALREADY_VERIFIED
    assert again.reference == sandbox.payment("zp", created.token).ref_number
    assert [c["result"] for c in sandbox.calls("zp") if c["path"].endswith("/verify.json")][-2:] == [100, 101]


def test_cancel_returns_nok_and_verifies_as_not_paid(sandbox, http, adapter):
    # Given a payment the buyer cancels
    created = _create(adapter)
    returned = _returned(adapter, _buyer(http, created.redirect.url, "cancel"))
    # When it is verified
    result = _verify(adapter, created.token)
    # Then the return is a cancel hint and verify's -51 is an outcome: not paid
    assert (returned.claimed_success, returned.cancelled) == (False, True)
    assert result.outcome is VerifyOutcome.NOT_PAID
    assert [c["result"] for c in sandbox.calls("zp") if c["path"].endswith("/verify.json")][-1] == -51


def test_verify_before_the_buyer_pays_is_pending(adapter):
    # Given a payment whose buyer is still at the bank page
    created = _create(adapter)
    # When it is verified early (a forged or early return)
    result = _verify(adapter, created.token)
    # Then nothing is decided: -51 with inquiry IN_BANK
    assert result.outcome is VerifyOutcome.PENDING


def test_unknown_authority_is_a_business_error(adapter):
    # Given an authority the sandbox never issued
    # When it is verified
    error = _raised(lambda: _verify(adapter, "A" + "0" * 35))
    # Then it is Zarinpal's -54
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "invalid_authority")


def test_wrong_merchant_id_is_a_config_error(sandbox, http):
    # Given an adapter configured with another merchant_id
    config = GatewayConfig(
        name="zp-bad", protocol="zarinpal", base_url=f"{sandbox.url}/zp", merchant_id="x" * 36
    )
    # When a payment is created
    error = _raised(lambda: _create(ZarinpalAdapter(config, http)))
    # Then it is Zarinpal's -10, and the merchant_id is not in the error
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "terminal_invalid")
    assert "x" * 36 not in str(error)


def test_amount_below_1000_rials_is_a_business_error(adapter):
    # Given an amount under Zarinpal's minimum
    # When a payment is created
    error = _raised(lambda: _create(adapter, amount=900))
    # Then it is a -9 validation error naming the amount
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "validation_error")
    assert "amount" in error.message


# -- inquiry and reverse -----------------------------------------------------------------------


def test_inquiry_follows_the_payment_through_its_states(http, adapter):
    # Given a payment
    created = _create(adapter)

    def inquire() -> VerifyOutcome:
        return adapter.inquire(token=created.token, amount_irr=AMOUNT).outcome

    # When it is inquired before payment, after payment, after verify and after reverse
    before = inquire()
    _buyer(http, created.redirect.url, "pay")
    paid = inquire()
    _verify(adapter, created.token)
    verified = inquire()
    adapter.reverse(token=created.token, amount_irr=AMOUNT)
    reversed_ = inquire()
    # Then IN_BANK and PAID are pending, VERIFIED is already verified, REVERSED is reversed
    assert (before, paid, verified, reversed_) == (
        VerifyOutcome.PENDING,
        VerifyOutcome.PENDING,
        VerifyOutcome.ALREADY_VERIFIED,
        VerifyOutcome.REVERSED,
    )


def test_inquiry_of_a_cancelled_payment_is_not_paid(http, adapter):
    # Given a cancelled payment
    created = _create(adapter)
    _buyer(http, created.redirect.url, "cancel")
    # When it is inquired
    # Then FAILED reads as not paid
    assert adapter.inquire(token=created.token, amount_irr=AMOUNT).outcome is VerifyOutcome.NOT_PAID


def test_reverse_within_30_minutes_succeeds_once(sandbox, http, adapter):
    # Given a verified payment
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    _verify(adapter, created.token)
    # When it is reversed, then reversed again
    first = adapter.reverse(token=created.token, amount_irr=AMOUNT)
    error = _raised(lambda: adapter.reverse(token=created.token, amount_irr=AMOUNT))
    # Then the first is confirmed and the second is Zarinpal's -61 (already reversed)
    assert first is True
    assert sandbox.payment("zp", created.token).state == "REVERSED"
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "not_in_success_status")


def test_reverse_after_30_minutes_is_refused(sandbox, http, adapter):
    # Given a verified payment, 31 minutes later
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    _verify(adapter, created.token)
    sandbox.advance_clock(31 * 60)
    # When it is reversed
    error = _raised(lambda: adapter.reverse(token=created.token, amount_irr=AMOUNT))
    # Then the window is over (-63) and the payment stays verified
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "reverse_window_over")
    assert sandbox.payment("zp", created.token).state == "VERIFIED"


def test_unverified_payment_is_kept_not_auto_reversed(sandbox, http, adapter):
    # Given a paid payment nobody verifies for two hours
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    sandbox.advance_clock(2 * 3600)
    # When it is verified late
    # Then it still verifies: Zarinpal keeps unverified money [U]
    assert _verify(adapter, created.token).outcome is VerifyOutcome.VERIFIED


# -- every mode the sandbox lists ----------------------------------------------------------------


def test_every_sandbox_mode_is_covered_here():
    # Given the modes the sandbox core lists
    # When compared with the modes this file drives
    covered = {
        "ok", "down", "slow", "flaky", "decline", "cancel", "no_return", "double_return",
        "forged_return", "verify_timeout", "verify_in_progress", "amount_mismatch", "token_expired",
    }  # fmt: skip
    # Then none is left out
    assert set(MODES) == covered


def test_down_mode_is_transient(sandbox, adapter):
    # Given the gateway is down (HTML 502)
    sandbox.set_mode("zp", "down")
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_slow_mode_times_out_as_transient(sandbox, adapter):
    # Given the gateway answers slower than the adapter waits
    sandbox.set_mode("zp", "slow")
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then it is a transient timeout
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_flaky_mode_answers_too_many_attempts_every_second_call(sandbox, adapter):
    # Given a flaky gateway
    sandbox.set_mode("zp", "flaky")
    # When two payments are created in a row
    first = _create(adapter)
    error = _raised(lambda: _create(adapter))
    # Then the first works and the second is Zarinpal's -12: transient
    assert first.token
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "too_many_attempts")


def test_decline_mode_returns_nok_and_verifies_not_paid(sandbox, http, adapter):
    # Given the buyer's card is declined
    sandbox.set_mode("zp", "decline")
    created = _create(adapter)
    # When the buyer pays and the payment is verified
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    result = _verify(adapter, created.token)
    # Then the return says NOK and verify says not paid
    assert returned.claimed_success is False
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_cancel_mode_turns_pay_into_cancel(sandbox, http, adapter):
    # Given the cancel mode
    sandbox.set_mode("zp", "cancel")
    created = _create(adapter)
    # When the buyer presses pay
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    # Then it is a cancel, not paid
    assert returned.cancelled is True
    assert _verify(adapter, created.token).outcome is VerifyOutcome.NOT_PAID


def test_no_return_mode_leaves_a_paid_payment_inquiry_finds(sandbox, http, adapter):
    # Given the buyer pays but never comes back
    sandbox.set_mode("zp", "no_return")
    created = _create(adapter)
    response = _buyer(http, created.redirect.url, "pay")
    # When the reconciler inquires, then verifies
    inquired = adapter.inquire(token=created.token, amount_irr=AMOUNT)
    verified = _verify(adapter, created.token)
    # Then there was no redirect; inquiry says PAID (pending) and verify completes it
    assert response.status_code == 200
    assert inquired.outcome is VerifyOutcome.PENDING
    assert verified.outcome is VerifyOutcome.VERIFIED


def test_double_return_verifies_once_then_already_verified(sandbox, http, adapter):
    # Given the return is delivered twice (server-side, then the browser)
    sandbox.set_mode("zp", "double_return")
    created = _create(adapter)
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    deliveries = [c for c in sandbox.calls("zp") if c["kind"] == "delivery"]
    # When each return is verified
    outcomes = [_verify(adapter, created.token).outcome, _verify(adapter, created.token).outcome]
    # Then the delivery carried the same Authority/Status, and only the first verify credits
    assert deliveries[-1]["body"] == {"Authority": created.token, "Status": "OK"}
    assert returned.token == created.token
    assert outcomes == [VerifyOutcome.VERIFIED, VerifyOutcome.ALREADY_VERIFIED]


def test_forged_return_claims_ok_but_verify_decides_nothing(sandbox, http, adapter):
    # Given a return that claims OK while nothing was paid
    sandbox.set_mode("zp", "forged_return")
    created = _create(adapter)
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    # When it is verified
    result = _verify(adapter, created.token)
    # Then the claim is not believed: -51 with the payment still in bank -> pending
    assert returned.claimed_success is True
    assert result.outcome is VerifyOutcome.PENDING
    assert not result.paid


def test_verify_timeout_commits_then_the_retry_is_already_verified(sandbox, http, adapter):
    # Given verify commits at the gateway but its answer comes too late
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    sandbox.set_mode("zp", "verify_timeout")
    # When verify times out and is retried
    error = _raised(lambda: _verify(adapter, created.token))
    retried = _verify(adapter, created.token)
    # Then the first is transient and the retry reads Zarinpal's 101
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")
    assert retried.outcome is VerifyOutcome.ALREADY_VERIFIED


def test_verify_in_progress_is_transient_once_then_verified(sandbox, http, adapter):
    # Given the first verify of a token answers "busy" (Zarinpal has no code: HTML 503)
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    sandbox.set_mode("zp", "verify_in_progress")
    # When verify is called twice
    error = _raised(lambda: _verify(adapter, created.token))
    result = _verify(adapter, created.token)
    # Then the first is transient and the second verifies
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_503")
    assert result.outcome is VerifyOutcome.VERIFIED


def test_amount_mismatch_mode_verifies_as_amount_mismatch(sandbox, http, adapter):
    # Given the buyer is charged more than the payment's amount
    sandbox.set_mode("zp", "amount_mismatch")
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    # When it is verified with our stored amount
    result = _verify(adapter, created.token)
    # Then Zarinpal's -50 reads as an amount mismatch and nothing is verified
    assert result.outcome is VerifyOutcome.AMOUNT_MISMATCH
    assert sandbox.payment("zp", created.token).state == "PAID"


def test_token_expired_mode_returns_nok_and_verifies_not_paid(sandbox, http, adapter):
    # Given the token expires when the buyer opens the page
    sandbox.set_mode("zp", "token_expired")
    created = _create(adapter)
    # When the buyer submits and the payment is verified
    returned = _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    result = _verify(adapter, created.token)
    # Then the return says NOK and verify says not paid
    assert returned.claimed_success is False
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_token_older_than_15_minutes_verifies_not_paid(sandbox, adapter):
    # Given a payment never paid, 16 minutes later
    created = _create(adapter)
    sandbox.advance_clock(16 * 60)
    # When it is verified
    # Then the expired token is not paid (-51, inquiry FAILED)
    assert _verify(adapter, created.token).outcome is VerifyOutcome.NOT_PAID


# -- unVerified.json (zarinpal.com/docs .../otherMethods/unVerified) ------------------------------


def _unverified(sandbox: Sandbox, http: httpx.Client, merchant: str = MERCHANT) -> httpx.Response:
    return http.post(f"{sandbox.url}/zp/pg/v4/payment/unVerified.json", json={"merchant_id": merchant})


def test_unverified_lists_a_paid_payment_whose_buyer_never_returned(sandbox, http, adapter):
    # Given a payment paid at the gateway and never verified (the buyer did not come back)
    sandbox.set_mode("zp", "no_return")
    created = _create(adapter)
    _buyer(http, created.redirect.url, "pay")
    # When the unverified list is read
    answer = _unverified(sandbox, http)
    # Then it lists the authority with its amount, callback_url, referer and date
    data = answer.json()["data"]
    assert (answer.status_code, data["code"]) == (200, 100)
    [listed] = [item for item in data["authorities"] if item["authority"] == created.token]
    assert (listed["amount"], listed["callback_url"]) == (AMOUNT, CALLBACK)
    assert {"referer", "date"} <= set(listed)


def test_unverified_leaves_out_verified_and_unpaid_payments(sandbox, http, adapter):
    # Given one payment verified, one cancelled and one still at the gateway
    paid = _create(adapter)
    _buyer(http, paid.redirect.url, "pay")
    _verify(adapter, paid.token)
    cancelled = _create(adapter)
    _buyer(http, cancelled.redirect.url, "cancel")
    waiting = _create(adapter)
    # When the unverified list is read
    listed = {item["authority"] for item in _unverified(sandbox, http).json()["data"]["authorities"]}
    # Then none of them is in it
    assert not listed & {paid.token, cancelled.token, waiting.token}


def test_unverified_with_another_merchant_id_is_refused(sandbox, http):
    # Given another merchant id / When the list is read / Then -10, as every other call
    answer = _unverified(sandbox, http, merchant="00000000-0000-0000-0000-000000000000")
    assert answer.json()["errors"]["code"] == -10


def test_verify_reports_the_paying_cards_sha256_as_card_hash(sandbox, http, adapter):
    # Given a payment the sandbox buyer paid with its card (the mask's first Luhn-valid card)
    import hashlib

    from local.sandbox.protocols.base import paying_card

    created = _create(adapter)
    _returned(adapter, _buyer(http, created.redirect.url, "pay"))
    # When it is verified
    result = _verify(adapter, created.token)
    # Then card_hash is that card's SHA-256 in upper-case hex, as Zarinpal's answers show it
    card = paying_card(str(result.card_mask)[-4:])
    assert card == sandbox.payment("zp", created.token).card_pan
    assert result.card_hash == hashlib.sha256(card.encode()).hexdigest().upper()
