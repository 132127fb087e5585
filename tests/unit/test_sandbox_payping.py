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
    # When it is verified / Then PayPing has voided it: not paid
    assert (
        adapter.verify(token=token, amount_irr=AMOUNT, refs=returned.refs).outcome is VerifyOutcome.NOT_PAID
    )


def test_wrong_token_is_a_config_error(sandbox, http):
    # Given an adapter with another bearer token / When it creates a payment / Then config error
    error = _raises(lambda: _create(_adapter(sandbox, http, token="not-the-token")))
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "http_401")


def test_a_reference_that_is_not_the_payments_is_refused(adapter, http):
    # Given a paid payment / When verified with another paymentRefId / Then 133 invalid payment
    token, _ = _pay(adapter, http)
    error = _raises(lambda: adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "42"}))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "invalid_payment")


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
    # Then the return claims no payment and verify says not paid (121)
    assert (returned.claimed_success, returned.refs) == (False, {})
    result = adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"})
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_cancel_mode_turns_pay_into_cancel(sandbox, adapter, http):
    # Given cancel mode / When the buyer presses pay / Then it is a cancel
    sandbox.set_mode("p", "cancel")
    token, returned = _pay(adapter, http)
    assert returned.cancelled
    assert adapter.verify(token=token, amount_irr=AMOUNT, refs={"paymentRefId": "1"}).outcome is (
        VerifyOutcome.CANCELLED
    )


def test_no_return_leaves_the_payment_unverifiable_by_the_adapter(sandbox, adapter, http):
    # Given the buyer pays but is never sent back
    sandbox.set_mode("p", "no_return")
    created = _create(adapter)
    page = _press(http, created.redirect.url, "pay")
    # Then no return form exists, and without paymentRefId the adapter cannot verify
    assert _forms(page.text) == []
    error = _raises(lambda: adapter.verify(token=created.token, amount_irr=AMOUNT, refs=None))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "missing_reference")
    # And the payment is PAID at the gateway until the verify window voids it
    assert sandbox.payment("p", created.token).state == "PAID"


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
    # Then the claim is not believed
    assert returned.claimed_success
    assert result.outcome is VerifyOutcome.NOT_PAID


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
    # Given the first verify of each token answers 155
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
