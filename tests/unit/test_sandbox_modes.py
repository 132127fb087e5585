"""Every sandbox failure mode and the sandbox clock, driven over HTTP by the real Zibal adapter.

A tiny POST-return protocol plugin (registered here) checks the core's auto-submitted return
form and the server-side double return for gateways that send the buyer back with a POST.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.sandbox import MODES, Sandbox, register_protocol
from local.sandbox.protocols.base import (
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    Route,
    json_response,
)
from paylink.payments.gateways import ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.zibal import ZibalAdapter

# Loopback answers in milliseconds, but a loaded 2-core CI can stall a thread for a few hundred:
# the adapter waits 1 s, and slow mode sleeps well beyond that.
SLOW = 2.0
TIMEOUT = 1.0
AMOUNT = 125_000


@register_protocol
class _PostSim(GatewaySim):
    """A minimal POST-return protocol: JSON create, the core's buyer page, a form return."""

    name = "postsim"
    return_method = "POST"
    token_ttl = timedelta(minutes=20)
    verify_window = timedelta(minutes=30)
    reverse_window = timedelta(minutes=50)

    def make_token(self, seq: int) -> str:
        return f"tok{seq}"

    def routes(self) -> list[Route]:
        return [Route("POST", r"/create", self.create), Route("POST", r"/verify", self.verify)]

    def create(self, ctx: Ctx) -> Response:
        body = ctx.json
        payment = ctx.core.new_payment(
            ctx, amount_irr=body["amount"], order_id=body["order"], callback_url=body["callback"]
        )
        return json_response({"token": payment.token})

    def verify(self, ctx: Ctx) -> Response:
        payment = ctx.core.lookup(ctx, ctx.json["token"])
        if payment is None:
            return json_response({"code": -2}, 404)
        decision = ctx.core.verify(ctx, payment, amount_irr=ctx.json.get("amount"))
        return json_response({"code": decision.value, "amount": payment.paid_amount_irr})

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        return [("Token", payment.token), ("State", outcome), ("ResNum", payment.order_id)]


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[tuple[str, str, str]]


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _hit(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.hits.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _hit


@pytest.fixture(scope="module")
def receiver() -> Iterator[_Receiver]:
    server = _Receiver(("127.0.0.1", 0), _ReceiverHandler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={"a": "zibal", "p": "postsim"}, port=0, slow_seconds=SLOW) as box:
        yield box


@pytest.fixture(autouse=True)
def _modes_ok(sandbox: Sandbox) -> Iterator[None]:
    yield
    for name in ("a", "p"):
        sandbox.set_mode(name, "ok")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=3.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def adapter(sandbox: Sandbox, http: httpx.Client) -> ZibalAdapter:
    config = GatewayConfig("sandbox-a", "zibal", f"{sandbox.url}/a", "zibal", TIMEOUT)
    return ZibalAdapter(config, http)


def _create(adapter: ZibalAdapter, callback: str = "http://127.0.0.1:9/callback") -> str:
    created = adapter.create(
        order_id="pay_1", amount_irr=AMOUNT, callback_url=callback, description="Tea", mobile=None
    )
    return created.token


def _press(http: httpx.Client, sandbox: Sandbox, token: str, action: str = "pay") -> httpx.Response:
    return http.post(f"{sandbox.url}/a/start/{token}", data={"trackId": token, "action": action})


def _query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _transient(call: Any) -> str:
    with pytest.raises(GatewayError) as caught:
        call()
    assert caught.value.kind is ErrorKind.TRANSIENT
    return caught.value.code


# -- control API ----------------------------------------------------------------------------


def test_every_mode_is_accepted_and_listed(sandbox, http):
    # Given the control API
    for mode in MODES:
        # When each mode is switched on over HTTP
        response = http.post(f"{sandbox.url}/a/mode", json={"mode": mode})
        # Then it is applied and listed with the protocol
        assert response.json() == {"name": "a", "mode": mode}
        listing = http.get(sandbox.url + "/").json()["instances"]
        assert {"name": "a", "mode": mode, "protocol": "zibal", "merchant": "zibal"} in listing


def test_unknown_mode_is_400_json(sandbox, http):
    # When an unknown mode is asked for
    response = http.post(f"{sandbox.url}/a/mode", json={"mode": "melting"})
    # Then 400 JSON, and the mode is unchanged
    assert response.status_code == 400
    assert "error" in response.json()
    assert sandbox.mode("a") == "ok"


def test_clock_control_over_http(sandbox, http):
    # Given the sandbox clock
    before = sandbox.now()
    # When it is advanced by an hour over HTTP
    answer = http.post(f"{sandbox.url}/_sim/clock", json={"advance_seconds": 3600}).json()
    # Then it reads an hour later, also on GET, and a bad advance is refused
    assert sandbox.now() - before >= timedelta(hours=1)
    assert http.get(f"{sandbox.url}/_sim/clock").json()["now"] >= answer["now"]
    assert http.post(f"{sandbox.url}/_sim/clock", json={"advance_seconds": -1}).status_code == 400


def test_calls_record_api_buyer_and_control_calls(sandbox, http, adapter):
    # Given a mode switch, a payment, the buyer's pay and a verify
    http.post(f"{sandbox.url}/a/mode", json={"mode": "ok"})
    token = _create(adapter)
    _press(http, sandbox, token)
    adapter.verify(token=token, amount_irr=AMOUNT)
    # When the calls are read over HTTP
    calls = http.get(f"{sandbox.url}/a/calls").json()[-4:]
    # Then each is recorded with kind, method, path, body, status, result and mode
    assert [(c["kind"], c["method"], c["path"], c["http_status"], c["result"]) for c in calls] == [
        ("control", "POST", "/mode", 200, None),
        ("api", "POST", "/v1/request", 200, 100),
        ("buyer", "POST", f"/start/{token}", 303, "paid"),
        ("api", "POST", "/v1/verify", 200, 100),
    ]
    assert calls[2]["body"] == {"trackId": token, "action": "pay"}
    assert all(c["mode"] == "ok" and c["instance"] == "a" for c in calls)
    assert http.get(f"{sandbox.url}/_sim/calls").json()[-1]["path"] == "/v1/verify"


# -- server-side modes ----------------------------------------------------------------------


def test_down_answers_html_502(sandbox, adapter):
    sandbox.set_mode("a", "down")
    assert _transient(lambda: _create(adapter)) == "http_502"


def test_slow_times_the_client_out(sandbox, adapter):
    sandbox.set_mode("a", "slow")
    started = time.monotonic()
    assert _transient(lambda: _create(adapter)) == "timeout"
    assert time.monotonic() - started < SLOW


def test_flaky_fails_every_second_api_call(sandbox, adapter, http):
    # Given a paid payment and a flaky instance
    token = _create(adapter)
    _press(http, sandbox, token)
    sandbox.set_mode("a", "flaky")
    # When verify is called twice
    first = adapter.verify(token=token, amount_irr=AMOUNT)
    second_code = _transient(lambda: adapter.verify(token=token, amount_irr=AMOUNT))
    # Then the first passes and the second is an HTML 502
    assert first.outcome is VerifyOutcome.VERIFIED
    assert second_code == "http_502"


def test_verify_timeout_commits_then_the_next_verify_is_already_verified(sandbox, adapter, http):
    # Given a paid payment and verify_timeout mode
    token = _create(adapter)
    _press(http, sandbox, token)
    sandbox.set_mode("a", "verify_timeout")
    # When verify times out at the client
    assert _transient(lambda: adapter.verify(token=token, amount_irr=AMOUNT)) == "timeout"
    # Then the sandbox committed it: the next verify is ALREADY_VERIFIED
    assert sandbox.payment("a", token).state == "VERIFIED"
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.ALREADY_VERIFIED


def test_verify_in_progress_answers_503_once_then_verifies(sandbox, adapter, http):
    # Given a paid payment and verify_in_progress mode
    token = _create(adapter)
    _press(http, sandbox, token)
    sandbox.set_mode("a", "verify_in_progress")
    # When it is verified twice
    code = _transient(lambda: adapter.verify(token=token, amount_irr=AMOUNT))
    second = adapter.verify(token=token, amount_irr=AMOUNT)
    # Then the first is an HTML 503 (Zibal has no in-progress code) and the second verifies
    assert code == "http_503"
    assert second.outcome is VerifyOutcome.VERIFIED


# -- buyer-side modes -----------------------------------------------------------------------


def test_decline_returns_status_5_and_verify_not_paid(sandbox, adapter, http):
    sandbox.set_mode("a", "decline")
    token = _create(adapter)
    query = _query(_press(http, sandbox, token))
    assert (query["success"], query["status"]) == ("0", "5")
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.NOT_PAID


def test_cancel_mode_turns_pay_into_cancel(sandbox, adapter, http):
    sandbox.set_mode("a", "cancel")
    token = _create(adapter)
    query = _query(_press(http, sandbox, token))
    assert (query["success"], query["status"]) == ("0", "3")
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.CANCELLED


def test_no_return_takes_the_money_and_never_sends_the_buyer_back(sandbox, adapter, http):
    # Given no_return mode
    sandbox.set_mode("a", "no_return")
    token = _create(adapter)
    # When the buyer pays
    response = _press(http, sandbox, token)
    # Then he sees a done page, no redirect; inquiry says paid (verify it), and verify works
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "close this page" in response.text
    inquired = adapter.inquire(token=token, amount_irr=AMOUNT)
    assert (inquired.outcome, inquired.amount_irr) == (VerifyOutcome.PENDING, AMOUNT)
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.VERIFIED


def test_double_return_delivers_server_side_and_sends_the_browser(sandbox, adapter, http, receiver):
    # Given double_return mode and a callback that records what reaches it
    sandbox.set_mode("a", "double_return")
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/callback/a?p=1"
    token = _create(adapter, callback=callback)
    receiver.hits.clear()
    # When the buyer pays
    query = _query(_press(http, sandbox, token))
    # Then the callback got one server-side GET with the same fields, and the browser goes there too
    assert (query["success"], query["trackId"]) == ("1", token)
    assert len(receiver.hits) == 1
    method, path, _ = receiver.hits[0]
    assert method == "GET"
    assert path.startswith("/callback/a?p=1&success=1&trackId=" + token)
    delivery = sandbox.calls("a")[-1]
    assert (delivery["kind"], delivery["http_status"]) == ("delivery", 200)


def test_forged_return_claims_success_but_nothing_is_paid(sandbox, adapter, http):
    sandbox.set_mode("a", "forged_return")
    token = _create(adapter)
    query = _query(_press(http, sandbox, token))
    assert (query["success"], query["status"]) == ("1", "2")
    assert sandbox.payment("a", token).state == "CREATED"
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.PENDING


def test_amount_mismatch_charges_more_and_verify_reports_it(sandbox, adapter, http):
    sandbox.set_mode("a", "amount_mismatch")
    token = _create(adapter)
    _press(http, sandbox, token)
    result = adapter.verify(token=token, amount_irr=AMOUNT)
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.VERIFIED, AMOUNT + 10_000)


def test_token_expired_mode_expires_on_open_and_returns_failure(sandbox, adapter, http):
    # Given token_expired mode
    sandbox.set_mode("a", "token_expired")
    token = _create(adapter)
    # When the buyer opens the page and presses pay
    page = http.get(f"{sandbox.url}/a/start/{token}")
    query = _query(_press(http, sandbox, token))
    # Then the page says expired, the return says failure with status -2 and verify is not paid
    assert "expired" in page.text
    assert (query["success"], query["status"]) == ("0", "-2")
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.NOT_PAID


# -- the clock ------------------------------------------------------------------------------


def test_token_expires_after_its_lifetime(sandbox, adapter, http):
    # Given a payment left open 16 minutes (Zibal sim: 15-minute tokens)
    token = _create(adapter)
    sandbox.advance_clock(16 * 60)
    # When the buyer finally pays
    query = _query(_press(http, sandbox, token))
    # Then the token expired: failure return, nothing paid
    assert (query["success"], query["status"]) == ("0", "-2")
    assert sandbox.payment("a", token).state == "EXPIRED"
    assert adapter.verify(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.NOT_PAID


def test_unverified_payment_is_reversed_after_the_verify_window(sandbox, adapter, http):
    # Given a paid payment nobody verified for 31 minutes (Zibal sim: 30-minute window)
    token = _create(adapter)
    _press(http, sandbox, token)
    sandbox.advance_clock(14 * 60)
    assert adapter.inquire(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.PENDING
    sandbox.advance_clock(17 * 60)
    # When it is verified, or inquired
    verified = adapter.verify(token=token, amount_irr=AMOUNT)
    inquired = adapter.inquire(token=token, amount_irr=AMOUNT)
    # Then the money went back to the buyer: REVERSED (status 18)
    assert verified.outcome is VerifyOutcome.REVERSED
    assert inquired.outcome is VerifyOutcome.REVERSED


def test_verified_payment_is_not_reversed_by_the_clock(sandbox, adapter, http):
    token = _create(adapter)
    _press(http, sandbox, token)
    adapter.verify(token=token, amount_irr=AMOUNT)
    sandbox.advance_clock(2 * 3600)
    assert adapter.inquire(token=token, amount_irr=AMOUNT).outcome is VerifyOutcome.ALREADY_VERIFIED


# -- a POST-return protocol -----------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.script = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({**attributes, "fields": []})
        elif tag in ("input", "button") and self.forms:
            self.forms[-1]["fields"].append(attributes)

    def handle_data(self, data: str) -> None:
        if "submit()" in data:
            self.script = data


def _post_payment(sandbox: Sandbox, http: httpx.Client, callback: str, amount: int = AMOUNT) -> str:
    body = {"amount": amount, "order": "pay_9", "callback": callback}
    return http.post(f"{sandbox.url}/p/create", json=body).json()["token"]


def test_post_return_protocol_sends_an_auto_submitted_form(sandbox, http, receiver):
    # Given a payment at a POST-return instance, on the core's buyer page
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/callback/p"
    token = _post_payment(sandbox, http, callback)
    page = _Forms()
    page.feed(http.get(f"{sandbox.url}/p/pay/{token}").text)
    assert len(page.forms) == 1
    assert page.forms[0]["method"] == "post"
    # When the buyer pays
    response = http.post(f"{sandbox.url}/p/pay/{token}", data={"action": "pay"})
    # Then a 200 page auto-submits a POST form with the return fields to the callback
    assert response.status_code == 200
    returned = _Forms()
    returned.feed(response.text)
    (form,) = returned.forms
    assert (form["method"], form["action"]) == ("post", callback)
    hidden = {f["name"]: f["value"] for f in form["fields"] if f.get("type") == "hidden"}
    assert hidden == {"Token": token, "State": "paid", "ResNum": "pay_9"}
    assert any(f.get("type") == "submit" for f in form["fields"])
    assert "document.forms[0].submit()" in returned.script


def test_post_return_double_return_posts_the_form_server_side(sandbox, http, receiver):
    sandbox.set_mode("p", "double_return")
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/callback/p"
    token = _post_payment(sandbox, http, callback)
    receiver.hits.clear()
    response = http.post(f"{sandbox.url}/p/pay/{token}", data={"action": "pay"})
    assert response.status_code == 200
    assert receiver.hits == [("POST", "/callback/p", f"Token={token}&State=paid&ResNum=pay_9")]


def test_amount_mismatch_with_an_amount_taking_verify(sandbox, http):
    # Given a payment charged 10,000 rials more than asked
    sandbox.set_mode("p", "amount_mismatch")
    token = _post_payment(sandbox, http, "http://127.0.0.1:9/cb")
    http.post(f"{sandbox.url}/p/pay/{token}", data={"action": "pay"})
    # When verify sends the stored amount
    answer = http.post(f"{sandbox.url}/p/verify", json={"token": token, "amount": AMOUNT}).json()
    # Then the core says amount_mismatch, and nothing is committed
    assert answer == {"code": "amount_mismatch", "amount": AMOUNT + 10_000}
    assert sandbox.payment("p", token).state == "PAID"
