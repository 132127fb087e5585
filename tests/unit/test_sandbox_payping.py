"""The sandbox's PayPing v3 protocol, driven over real HTTP by the real PayPing adapter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from local.sandbox import Sandbox
from paylink.payments.gateways import CallbackData, ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.payping import PayPingAdapter

TOKEN = "payping-sandbox-token"
CALLBACK = "http://127.0.0.1:9/callback/sandbox-payping"  # never listened on
AMOUNT = 125_000  # rials


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(instances={"p": "payping"}, port=0, slow_seconds=2.0, merchant=TOKEN)
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _mode_ok(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.set_mode("p", "ok")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=3.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def adapter(sandbox: Sandbox, http: httpx.Client) -> PayPingAdapter:
    return _adapter(sandbox, http)


def _adapter(sandbox: Sandbox, http: httpx.Client, token: str = TOKEN) -> PayPingAdapter:
    config = GatewayConfig(
        name="sandbox-payping",
        protocol="payping",
        base_url=f"{sandbox.url}/p",
        merchant_id=token,
        timeout_seconds=1.0,  # a loaded CI can stall a loopback answer; slow mode sleeps 2 s
    )
    return PayPingAdapter(config, http)


def _create(adapter: PayPingAdapter, amount: int = AMOUNT):
    return adapter.create(
        order_id="pay_123", amount_irr=amount, callback_url=CALLBACK, description="Tea", mobile="09121234567"
    )


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"method": attributes.get("method"), "action": attributes.get("action"), "fields": {}}
            )
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value") or ""


def _forms(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def _press(http: httpx.Client, url: str, action: str) -> httpx.Response:
    return http.post(url, data={"paymentCode": url.rsplit("/", 1)[1], "action": action})


def _returned(response: httpx.Response) -> dict[str, str]:
    """The fields of the auto-submitted POST form that carries the buyer back."""
    (form,) = _forms(response.text)
    assert (form["method"], form["action"]) == ("post", CALLBACK)
    return form["fields"]


def _pay(adapter: PayPingAdapter, http: httpx.Client, action: str = "pay") -> tuple[str, CallbackData]:
    created = _create(adapter)
    response = _press(http, created.redirect.url, action)
    return created.token, adapter.parse_callback({}, _returned(response))


def _raises(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


# -- the happy path ----------------------------------------------------------------------------


def test_pay_then_verify_is_verified_in_rials(sandbox, adapter, http):
    # Given a created payment that the buyer pays
    token, returned = _pay(adapter, http)
    # When the return is read and verified with our amount
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # Then the payment is verified for our amount, with PayPing's reference and a masked card
    assert (returned.claimed_success, returned.order_id, returned.claimed_amount_irr) == (
        True,
        "pay_123",
        AMOUNT,
    )
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == AMOUNT
    assert result.reference == returned.refs["paymentRefId"]
    assert str(result.card_mask).startswith("603799******")
    # And the sandbox saw toman on the wire
    create_call = next(c for c in sandbox.calls("p") if c["path"] == "/v3/pay")
    assert create_call["body"]["amount"] == AMOUNT // 10


def test_start_page_holds_one_post_form_with_the_payment_code(adapter, http):
    # Given a created payment
    created = _create(adapter)
    # When the buyer opens the redirect URL
    page = http.get(created.redirect.url)
    # Then it is one POST form carrying the paymentCode
    (form,) = _forms(page.text)
    assert page.status_code == 200
    assert form["method"] == "post"
    assert form["fields"]["paymentCode"] == created.token


def test_repeated_verify_is_already_verified(adapter, http):
    # Given a verified payment
    token, returned = _pay(adapter, http)
    first = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # When it is verified again
    second = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # Then the sandbox answered 409/110 and it reads as already verified, same reference and card
    assert second.outcome is VerifyOutcome.ALREADY_VERIFIED
    assert (second.amount_irr, second.reference, second.card_mask) == (
        AMOUNT,
        first.reference,
        first.card_mask,
    )


def test_cancel_returns_status_0_and_verifies_as_cancelled(adapter, http):
    # Given the buyer presses cancel
    token, returned = _pay(adapter, http, action="cancel")
    # Then the return claims a cancel without a reference
    assert (returned.claimed_success, returned.cancelled, returned.refs) == (False, True, {})
    # And the adapter cannot verify it without a reference
    assert _raises(lambda: adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)).code == (
        "missing_reference"
    )
    # And asked with any reference, PayPing's 127 reads as cancelled
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"})
    assert result.outcome is VerifyOutcome.CANCELLED


def test_reverse_gives_the_money_back_once(adapter, http):
    # Given a verified payment
    token, returned = _pay(adapter, http)
    adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # When it is reversed, twice
    assert adapter.reverse(token=token, amount_irr=AMOUNT, refs=returned.refs) is True
    error = _raises(lambda: adapter.reverse(token=token, amount_irr=AMOUNT, refs=returned.refs))
    # Then the second reverse is refused as not reversible
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "not_reversible")


def test_reverse_after_the_window_is_refused(sandbox, adapter, http):
    # Given a payment verified 31 minutes ago
    token, returned = _pay(adapter, http)
    adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    sandbox.advance_clock(31 * 60)
    # When it is reversed / Then the window is over
    error = _raises(lambda: adapter.reverse(token=token, amount_irr=AMOUNT, refs=returned.refs))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "reverse_window_over")


def test_payment_left_unverified_past_10_minutes_is_voided(sandbox, adapter, http):
    # Given a paid payment nobody verified for 11 minutes
    token, returned = _pay(adapter, http)
    sandbox.advance_clock(11 * 60)
    # When it is verified / Then PayPing answers 121 "not paid" (pending: reconciliation expires it)
    assert adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs).outcome is VerifyOutcome.PENDING


def test_wrong_token_is_a_config_error(sandbox, http):
    # Given an adapter with another bearer token / When it creates a payment / Then config error
    error = _raises(lambda: _create(_adapter(sandbox, http, token="not-the-token")))
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "http_401")


def test_a_reference_that_is_not_the_payments_is_refused(sandbox, adapter, http):
    # Given a paid payment / When verified with another paymentRefId / Then 133 invalid payment
    token, _ = _pay(adapter, http)
    body = {"paymentRefId": 42, "paymentCode": token, "amount": AMOUNT // 10}
    answer = http.post(
        f"{sandbox.url}/p/v3/pay/verify", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (answer.status_code, answer.json()["metaData"]["code"]) == (409, 133)
    assert sandbox.payment("p", token).state == "PAID"


def test_a_planted_reference_does_not_stop_the_adapter_verifying_through_the_report(sandbox, adapter, http):
    # Given a paid payment whose stored reference is not its own (a forged return planted it)
    token, returned = _pay(adapter, http)
    # When the adapter verifies with it
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "42"})
    # Then PayPing's 133 sends it to the report, whose refId verifies the payment
    assert (result.outcome, result.reference) == (VerifyOutcome.VERIFIED, returned.refs["paymentRefId"])


# -- modes ---------------------------------------------------------------------------------------


def test_down_makes_create_and_verify_transient(sandbox, adapter, http):
    # Given a paid payment and then the gateway goes down
    token, returned = _pay(adapter, http)
    sandbox.set_mode("p", "down")
    # When create and verify are called / Then both are transient
    assert _raises(lambda: _create(adapter)).kind is ErrorKind.TRANSIENT
    assert _raises(lambda: adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)).kind is (
        ErrorKind.TRANSIENT
    )


def test_slow_times_out_as_transient(sandbox, adapter):
    # Given the gateway answers after slow_seconds, beyond the adapter's timeout
    sandbox.set_mode("p", "slow")
    # When a payment is created / Then it times out
    assert _raises(lambda: _create(adapter)).code == "timeout"


def test_flaky_fails_every_second_call_with_payping_codes(sandbox, adapter, http):
    # Given a paid payment and a flaky gateway
    token, returned = _pay(adapter, http)
    sandbox.set_mode("p", "flaky")
    # When verify is called three times
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs).outcome)
        except GatewayError as exc:
            outcomes.append(exc.code)
    # Then one in two fails with PayPing's 155 and the payment still verifies exactly once
    assert "verify_in_progress" in outcomes
    assert outcomes.count(VerifyOutcome.VERIFIED) == 1


def test_decline_returns_a_failure_and_verify_says_not_paid(sandbox, adapter, http):
    # Given the card is declined
    sandbox.set_mode("p", "decline")
    token, returned = _pay(adapter, http)
    # Then the return claims no payment and verify says not paid (121: pending, it credits nothing)
    assert (returned.claimed_success, returned.refs) == (False, {})
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"})
    assert result.outcome is VerifyOutcome.PENDING


def test_cancel_mode_turns_pay_into_cancel(sandbox, adapter, http):
    # Given cancel mode / When the buyer presses pay / Then it is a cancel
    sandbox.set_mode("p", "cancel")
    token, returned = _pay(adapter, http)
    assert returned.cancelled
    assert adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"}).outcome is (
        VerifyOutcome.CANCELLED
    )


def test_no_return_is_verified_through_the_report(sandbox, adapter, http):
    # Given the buyer pays but is never sent back
    sandbox.set_mode("p", "no_return")
    created = _create(adapter)
    page = _press(http, created.redirect.url, "pay")
    assert _forms(page.text) == []
    # When verified without a return's paymentRefId
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=None)
    # Then the report's refId verifies it, inside PayPing's window
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.reference == sandbox.payment("p", created.token).ref_number
    assert sandbox.payment("p", created.token).state == "VERIFIED"


def test_double_return_delivers_the_same_return_server_side(sandbox, adapter, http):
    # Given double_return mode
    sandbox.set_mode("p", "double_return")
    token, returned = _pay(adapter, http)
    # When the sandbox's own delivery is read
    delivery = next(c for c in reversed(sandbox.calls("p")) if c["kind"] == "delivery")
    again = adapter.parse_callback({}, delivery["body"])
    # Then it is a POST of the same return
    assert delivery["method"] == "POST"
    assert (again.token, again.refs) == (token, returned.refs)


def test_forged_return_claims_success_but_verify_says_not_paid(sandbox, adapter, http):
    # Given a return that claims success for an unpaid payment
    sandbox.set_mode("p", "forged_return")
    token, returned = _pay(adapter, http)
    # When it is verified
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # Then the claim is not believed (121: not paid yet)
    assert returned.claimed_success
    assert result.outcome is VerifyOutcome.PENDING


def test_verify_timeout_then_verify_again_is_already_verified(sandbox, adapter, http):
    # Given verify commits but its answer comes too late
    token, returned = _pay(adapter, http)
    sandbox.set_mode("p", "verify_timeout")
    assert (
        _raises(lambda: adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)).code == "timeout"
    )
    sandbox.set_mode("p", "ok")
    # When verify is retried / Then PayPing's 409/110 says it is already verified
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.ALREADY_VERIFIED, AMOUNT)


def test_verify_in_progress_is_transient_then_verified(sandbox, adapter, http):
    # Given the first verify of each token answers 202 ("still in progress, call again")
    sandbox.set_mode("p", "verify_in_progress")
    token, returned = _pay(adapter, http)
    error = _raises(lambda: adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs))
    # When verify is retried / Then it is verified
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "verify_in_progress")
    assert result.outcome is VerifyOutcome.VERIFIED


def test_amount_mismatch_is_refused_with_137(sandbox, adapter, http):
    # Given the buyer is charged 10,000 rials more than asked
    sandbox.set_mode("p", "amount_mismatch")
    token, returned = _pay(adapter, http)
    # When verified with our amount
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # Then the return shows the charged amount and verify says the amount is wrong
    assert returned.claimed_amount_irr == AMOUNT + 10_000
    assert result.outcome is VerifyOutcome.AMOUNT_MISMATCH


def test_token_expired_returns_a_failure_and_verify_says_cancelled_or_timeout(sandbox, adapter, http):
    # Given the token expires when the page is used
    sandbox.set_mode("p", "token_expired")
    token, returned = _pay(adapter, http)
    # Then the return claims nothing, and verify reads 127 (cancelled or timed out)
    assert (returned.claimed_success, returned.refs) == (False, {})
    assert adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"}).outcome is (
        VerifyOutcome.CANCELLED
    )


def test_returns_are_form_posts_with_the_v3_fields(adapter, http):
    # Given a paid payment / When the return form is read
    created = _create(adapter)
    fields = _returned(_press(http, created.redirect.url, "pay"))
    # Then it carries status, errorCode and data as a JSON string
    assert (fields["status"], fields["errorCode"]) == ("1", "")
    assert json.loads(fields["data"])["paymentCode"] == created.token


# -- as PayPing publishes v3 (reference/payping-v3-facts.md) ------------------------------------


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _paid_without_return(sandbox: Sandbox, adapter: PayPingAdapter, http: httpx.Client) -> str:
    sandbox.set_mode("p", "no_return")
    created = _create(adapter)
    _press(http, created.redirect.url, "pay")
    sandbox.set_mode("p", "ok")
    return created.token


def test_the_return_carries_payment_ref_id_as_an_int64(adapter, http):
    # Given a paid payment / When the return's data is read
    created = _create(adapter)
    data = json.loads(_returned(_press(http, created.redirect.url, "pay"))["data"])
    # Then paymentRefId is a JSON integer
    assert isinstance(data["paymentRefId"], int)
    assert not isinstance(data["paymentRefId"], bool)


def test_verify_answers_payment_ref_id_as_an_int64_and_payping_vat(adapter, sandbox, http):
    # Given a paid payment whose return is read
    token, returned = _pay(adapter, http)
    body = {"paymentRefId": int(returned.refs["paymentRefId"]), "paymentCode": token, "amount": AMOUNT // 10}
    # When verified over HTTP as the published VerifyModel
    answer = http.post(f"{sandbox.url}/p/v3/pay/verify", json=body, headers=_auth())
    # Then VerifyDto carries an int64 paymentRefId and paypingVat
    assert answer.status_code == 200
    assert isinstance(answer.json()["paymentRefId"], int)
    assert "paypingVat" in answer.json()


def test_pay_answers_payping_vat(sandbox, http):
    # Given the published PaymentModel / When a payment is created
    body = {"amount": 1000, "returnUrl": CALLBACK, "clientRefId": "pay_9"}
    answer = http.post(f"{sandbox.url}/p/v3/pay", json=body, headers=_auth())
    # Then PaymentDto carries paypingVat next to the wages
    assert answer.status_code == 200
    assert {"paymentCode", "url", "gatewayAmount", "paypingVat"} <= set(answer.json())


@pytest.mark.parametrize("ref", ["not-a-number", 1.5, True, 2**63, -1, None])
def test_verify_refuses_a_payment_ref_id_that_is_not_an_int64(adapter, sandbox, http, ref):
    # Given a paid payment
    token, _ = _pay(adapter, http)
    # When verified with a paymentRefId no int64 can hold
    body = {"paymentRefId": ref, "paymentCode": token, "amount": AMOUNT // 10}
    answer = http.post(f"{sandbox.url}/p/v3/pay/verify", json=body, headers=_auth())
    # Then it is refused as invalid data, and the payment is not verified
    assert (answer.status_code, answer.json()["metaData"]["code"]) == (400, 101)
    assert sandbox.payment("p", token).state == "PAID"


def test_verify_in_progress_answers_http_202(adapter, sandbox, http):
    # Given verify_in_progress mode and a paid payment
    sandbox.set_mode("p", "verify_in_progress")
    token, returned = _pay(adapter, http)
    body = {"paymentRefId": int(returned.refs["paymentRefId"]), "paymentCode": token, "amount": AMOUNT // 10}
    # When verified twice
    first = http.post(f"{sandbox.url}/p/v3/pay/verify", json=body, headers=_auth())
    second = http.post(f"{sandbox.url}/p/v3/pay/verify", json=body, headers=_auth())
    # Then the first answers 202 (still in progress, call again) and the second verifies
    assert (first.status_code, second.status_code) == (202, 200)


def test_report_gives_the_ref_id_of_a_payment_waiting_for_verify(adapter, sandbox, http):
    # Given a payment paid at the bank whose buyer never came back
    token = _paid_without_return(sandbox, adapter, http)
    # When the report is read
    answer = http.get(f"{sandbox.url}/p/v1/report/{token}", headers=_auth())
    # Then it says: back from the bank, waiting for verify (5), with the int64 refId
    report = answer.json()
    assert answer.status_code == 200
    assert (report["PaymentStatus"], report["isPaid"]) == (5, False)
    assert report["refId"] == int(sandbox.payment("p", token).ref_number)
    assert (report["amount"], report["clientRefId"]) == (AMOUNT // 10, "pay_123")
    assert {"reqDate", "payDate", "wage", "shaparakWage", "paypingVat", "isRefund", "refundStatus"} <= set(
        report
    )


def test_report_says_is_paid_once_verified(adapter, sandbox, http):
    # Given a payment verified through the report's refId
    token = _paid_without_return(sandbox, adapter, http)
    adapter.verify(token=token, amount_irr=AMOUNT)
    # When the report is read / Then it is paid (verified)
    assert http.get(f"{sandbox.url}/p/v1/report/{token}", headers=_auth()).json()["isPaid"] is True


def test_report_needs_the_bearer_token_and_a_known_code(adapter, sandbox, http):
    # Given a payment
    token = _create(adapter).token
    # When the report is read without the token, or for an unknown code
    anonymous = http.get(f"{sandbox.url}/p/v1/report/{token}")
    unknown = http.get(f"{sandbox.url}/p/v1/report/{'0' * 32}", headers=_auth())
    # Then 401, and PayPing's "payment not found"
    assert anonymous.status_code == 401
    assert (unknown.status_code, unknown.json()["metaData"]["code"]) == (400, 122)


def test_verify_reports_the_paying_cards_sha256_as_card_hash_pan(sandbox, adapter, http):
    # Given a payment the sandbox buyer paid with its card (the mask's first Luhn-valid card)
    import hashlib

    from local.sandbox.protocols.base import paying_card

    token, returned = _pay(adapter, http)
    # When it is verified
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs)
    # Then cardHashPan is that card's SHA-256 in hex
    card = paying_card(str(result.card_mask)[-4:])
    assert str(result.card_hash).lower() == hashlib.sha256(card.encode()).hexdigest()
