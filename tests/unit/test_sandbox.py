"""The local sandbox gateway, driven over real HTTP by the real Zibal adapter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.sandbox import Sandbox
from paylink.payments.gateways import ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.zibal import ZibalAdapter

CALLBACK = "http://127.0.0.1:3000/callback/sandbox-a"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(port=0, slow_seconds=1.5)
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _modes_ok(sandbox: Sandbox) -> Iterator[None]:
    yield
    for name in ("a", "b"):
        sandbox.set_mode(name, "ok")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=3.0, follow_redirects=False) as client:
        yield client


def _adapter(sandbox: Sandbox, http: httpx.Client, instance: str = "a", timeout: float = 2.0) -> ZibalAdapter:
    config = GatewayConfig(
        name=f"sandbox-{instance}",
        protocol="zibal",
        base_url=f"{sandbox.url}/{instance}",
        merchant_id="zibal",
        timeout_seconds=timeout,
    )
    return ZibalAdapter(config, http)


def _create(adapter: ZibalAdapter, callback: str = CALLBACK, amount: int = 125_000):
    return adapter.create(
        order_id="pay_123", amount_irr=amount, callback_url=callback, description="Tea", mobile=None
    )


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"method": attributes.get("method"), "inputs": []})
        elif tag in ("input", "button") and self.forms:
            inputs = self.forms[-1]["inputs"]
            assert isinstance(inputs, list)
            inputs.append({"tag": tag, **attributes})


def _press(http: httpx.Client, url: str, action: str) -> httpx.Response:
    track_id = url.rsplit("/", 1)[1]
    return http.post(url, data={"trackId": track_id, "action": action})


def _callback_query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


# -- buyer flow -----------------------------------------------------------------------------


def test_start_page_holds_one_post_form_with_hidden_track_id_and_pay_cancel(sandbox, http):
    # Given a created payment
    created = _create(_adapter(sandbox, http))
    # When the buyer opens the start page
    page = http.get(created.redirect.url)
    # Then it shows the amount in rials and toman and holds one POST form with trackId and action
    assert page.status_code == 200
    assert "125,000" in page.text
    assert "12,500" in page.text
    parser = _Forms()
    parser.feed(page.text)
    assert len(parser.forms) == 1
    (form,) = parser.forms
    assert form["method"] == "post"
    inputs = form["inputs"]
    assert isinstance(inputs, list)
    hidden = [i for i in inputs if i.get("type") == "hidden"]
    assert hidden == [{"tag": "input", "type": "hidden", "name": "trackId", "value": created.token}]
    actions = sorted(i["value"] for i in inputs if i.get("name") == "action")
    assert actions == ["cancel", "pay"]


def test_redirect_url_is_the_instance_start_page(sandbox, http):
    # Given the adapter for instance b
    # When a payment is created
    created = _create(_adapter(sandbox, http, "b"))
    # Then the buyer goes to b's start page for that token
    assert created.redirect.url == f"{sandbox.url}/b/start/{created.token}"


def test_pay_redirects_to_the_callback_with_success(sandbox, http):
    # Given a created payment
    created = _create(_adapter(sandbox, http))
    # When the buyer pays
    response = _press(http, created.redirect.url, "pay")
    # Then the browser is sent (303) to the callback with success=1 and status=2
    assert response.status_code == 303
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert _callback_query(response) == {
        "success": "1",
        "trackId": created.token,
        "orderId": "pay_123",
        "status": "2",
    }


def test_callback_query_is_appended_to_an_existing_query(sandbox, http):
    # Given a callback URL that already has a query
    created = _create(_adapter(sandbox, http), callback=CALLBACK + "?p=abc")
    # When the buyer pays
    response = _press(http, created.redirect.url, "pay")
    # Then the fields are appended with '&'
    assert response.headers["location"].startswith(CALLBACK + "?p=abc&success=1&")


def test_second_press_on_a_closed_payment_is_refused(sandbox, http):
    # Given a payment the buyer already paid
    created = _create(_adapter(sandbox, http))
    _press(http, created.redirect.url, "pay")
    # When the form is posted again (a replay)
    response = _press(http, created.redirect.url, "cancel")
    # Then it is refused with 409 and no redirect
    assert response.status_code == 409
    assert "location" not in response.headers


def test_form_with_a_different_track_id_is_refused(sandbox, http):
    # Given a created payment
    created = _create(_adapter(sandbox, http))
    # When the form names another trackId
    response = http.post(created.redirect.url, data={"trackId": "1", "action": "pay"})
    # Then it is refused with 400
    assert response.status_code == 400


def test_paid_payment_verifies_once_then_reports_already_verified(sandbox, http):
    # Given a paid payment
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    callback = adapter.parse_callback(_callback_query(_press(http, created.redirect.url, "pay")), {})
    # When it is verified twice
    first = adapter.verify(token=callback.token, amount_irr=125_000)
    second = adapter.verify(token=callback.token, amount_irr=125_000)
    # Then the first is VERIFIED (100) and the second ALREADY_VERIFIED (201), with the same details
    assert first.outcome is VerifyOutcome.VERIFIED
    assert second.outcome is VerifyOutcome.ALREADY_VERIFIED
    assert first.amount_irr == second.amount_irr == 125_000
    assert first.reference is not None
    assert first.reference == second.reference
    assert first.card_mask is not None
    assert first.card_mask.startswith("603799******")
    assert first.paid_at == second.paid_at
    assert [c["result"] for c in sandbox.calls("a")[-2:]] == [100, 201]


def test_cancel_redirects_with_status_3_and_verifies_as_cancelled(sandbox, http):
    # Given a created payment
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    # When the buyer cancels
    response = _press(http, created.redirect.url, "cancel")
    callback = adapter.parse_callback(_callback_query(response), {})
    # Then the callback says cancel and verify answers CANCELLED
    assert (callback.claimed_success, callback.cancelled) == (False, True)
    assert adapter.verify(token=created.token, amount_irr=125_000).outcome is VerifyOutcome.CANCELLED


def test_payment_still_at_the_gateway_verifies_as_pending(sandbox, http):
    # Given a payment the buyer has not finished yet
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    # When it is verified
    result = adapter.verify(token=created.token, amount_irr=125_000)
    # Then it is PENDING: nothing may be decided while the buyer is still at the gateway
    assert result.outcome is VerifyOutcome.PENDING


def test_unknown_track_id_is_a_business_error(sandbox, http):
    # Given a token the sandbox never issued
    # When it is verified
    with pytest.raises(GatewayError) as caught:
        _adapter(sandbox, http).verify(token="1", amount_irr=1000)
    # Then it is refused (203)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.BUSINESS, "invalid_track_id")


def test_token_of_another_instance_is_unknown(sandbox, http):
    # Given a payment created at instance a
    created = _create(_adapter(sandbox, http, "a"))
    # When instance b is asked to verify it
    with pytest.raises(GatewayError) as caught:
        _adapter(sandbox, http, "b").verify(token=created.token, amount_irr=125_000)
    # Then b does not know it
    assert caught.value.code == "invalid_track_id"


def test_wrong_merchant_is_a_config_error(sandbox, http):
    # Given an adapter with a merchant id the sandbox does not know
    config = GatewayConfig("sandbox-a", "zibal", f"{sandbox.url}/a", "wrong-merchant", 2.0)
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(ZibalAdapter(config, http))
    # Then it is a config error (102)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.CONFIG, "merchant_not_found")


def test_small_amount_is_a_business_error(sandbox, http):
    # Given an amount below 1,000 rials
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(_adapter(sandbox, http), amount=999)
    # Then it is refused (105)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.BUSINESS, "amount_too_small")


# -- modes and control API ------------------------------------------------------------------


def test_root_lists_instances_and_modes(sandbox, http):
    # Given instance b switched to down
    sandbox.set_mode("b", "down")
    # When the root is read
    listing = http.get(sandbox.url + "/").json()
    # Then every instance is listed with its mode, protocol and the credential it accepts
    assert listing == {
        "instances": [
            {"name": "a", "mode": "ok", "protocol": "zibal", "merchant": "zibal"},
            {"name": "b", "mode": "down", "protocol": "zibal", "merchant": "zibal"},
        ]
    }


def test_mode_switch_over_http_answers_the_new_mode(sandbox, http):
    # Given the control API
    # When instance a is switched to down
    response = http.post(f"{sandbox.url}/a/mode", json={"mode": "down"})
    # Then it answers the new mode and the sandbox applies it
    assert (response.status_code, response.json()) == (200, {"name": "a", "mode": "down"})
    assert sandbox.mode("a") == "down"


def test_mode_switch_refuses_unknown_mode_and_instance(sandbox, http):
    # Given the control API
    # When an unknown mode or instance is asked for
    bad_mode = http.post(f"{sandbox.url}/a/mode", json={"mode": "exploding"})
    bad_instance = http.post(f"{sandbox.url}/zz/mode", json={"mode": "down"})
    # Then it answers 400 and 404 with JSON
    assert bad_mode.status_code == 400
    assert "error" in bad_mode.json()
    assert bad_instance.status_code == 404
    assert "error" in bad_instance.json()


def test_down_mode_makes_create_transient(sandbox, http):
    # Given instance a is down
    http.post(f"{sandbox.url}/a/mode", json={"mode": "down"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(_adapter(sandbox, http))
    # Then the HTML 502 page is a transient error, and b still works
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "http_502")
    assert _create(_adapter(sandbox, http, "b")).token


def test_flaky_mode_fails_every_second_call(sandbox, http):
    # Given instance a is flaky
    sandbox.set_mode("a", "flaky")
    adapter = _adapter(sandbox, http)
    # When four payments are created
    outcomes = []
    for _ in range(4):
        try:
            _create(adapter)
            outcomes.append("ok")
        except GatewayError as exc:
            outcomes.append(exc.kind.value)
    # Then the second and fourth fail as transient
    assert outcomes == ["ok", "transient", "ok", "transient"]


def test_decline_mode_returns_a_decline_and_verify_not_paid(sandbox, http):
    # Given instance a declines cards
    sandbox.set_mode("a", "decline")
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    # When the buyer presses pay
    query = _callback_query(_press(http, created.redirect.url, "pay"))
    # Then the return says failure with a card status and verify answers NOT_PAID
    assert (query["success"], query["status"]) == ("0", "5")
    assert adapter.verify(token=created.token, amount_irr=125_000).outcome is VerifyOutcome.NOT_PAID


def test_cancel_mode_turns_pay_into_cancel(sandbox, http):
    # Given instance a is in cancel mode
    sandbox.set_mode("a", "cancel")
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    # When the buyer presses pay
    query = _callback_query(_press(http, created.redirect.url, "pay"))
    # Then it behaves like cancel
    assert (query["success"], query["status"]) == ("0", "3")
    assert adapter.verify(token=created.token, amount_irr=125_000).outcome is VerifyOutcome.CANCELLED


def test_slow_mode_times_out_within_the_adapter_timeout(sandbox, http):
    # Given instance a answers after 1.5 s and the adapter waits 0.5 s
    sandbox.set_mode("a", "slow")
    adapter = _adapter(sandbox, http, timeout=0.5)
    # When a payment is created
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then it fails as a transient timeout, near the adapter's timeout
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "timeout")
    assert time.monotonic() - started < 1.2


def test_calls_lists_recorded_api_calls(sandbox, http):
    # Given a payment created at instance b
    created = _create(_adapter(sandbox, http, "b"))
    # When b's recorded calls are read over HTTP
    calls = http.get(f"{sandbox.url}/b/calls").json()
    # Then the last one is that request, with its body and result
    last = calls[-1]
    assert last["path"] == "/v1/request"
    assert last["body"]["orderId"] == "pay_123"
    assert last["result"] == 100
    assert created.token


def test_stop_releases_the_port():
    # Given a running sandbox on a free port
    box = Sandbox(port=0)
    box.start()
    url = box.url
    # When it stops
    box.stop()
    # Then nothing answers there any more
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/", timeout=1.0)


def test_inquiry_carries_shaparak_fee_and_the_adapter_still_reads_it(sandbox, http):
    # Given a paid, verified Zibal payment
    adapter = _adapter(sandbox, http)
    created = _create(adapter)
    _press(http, created.redirect.url, "pay")
    adapter.verify(token=created.token, amount_irr=125_000)
    # When the inquiry is read raw, then through the adapter
    raw = http.post(f"{sandbox.url}/a/v1/inquiry", json={"merchant": "zibal", "trackId": int(created.token)})
    result = adapter.inquire(token=created.token, amount_irr=125_000)
    # Then Zibal's inquiry carries shaparakFee, and the adapter parses the answer unharmed
    assert isinstance(raw.json()["shaparakFee"], int)
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.ALREADY_VERIFIED, 125_000)
