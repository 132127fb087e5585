"""The real SEP adapter against the sandbox's SEP plugin over HTTP.

The buyer is played by an httpx client: it posts the adapter's redirect form {Token} to
/OnlinePG/OnlinePG, presses pay or cancel, and reads the auto-submitting return form the sandbox
answers (the fields a real SEP return carries). Every failure mode the sandbox core lists is
driven once. Timeouts are short but not tight (adapter 1 s, sandbox slow_seconds 2 s): loopback answers in
milliseconds, yet a loaded 2-core CI can stall a thread for a few hundred.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.core import MISMATCH_EXTRA_IRR
from paylink.payments.gateways import (
    CallbackData,
    CreateResult,
    ErrorKind,
    GatewayConfig,
    GatewayError,
    VerifyOutcome,
)
from paylink.payments.gateways.sep import SepAdapter

TERMINAL = "21001234"
INSTANCE = "s"
CALLBACK = "https://pay.example/callback/sep"
AMOUNT = 120_000


class _Forms(HTMLParser):
    """Every <form> of a page: (action, {hidden input name: value})."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and values.get("type") == "hidden" and self.forms:
            self.forms[-1][1][values.get("name", "")] = values.get("value", "")


def _forms(page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class _Receiver(BaseHTTPRequestHandler):
    """The shop's callback endpoint for double_return: keeps every posted form."""

    received: list[dict[str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.received.append(dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sep_sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={INSTANCE: "sep"}, port=0, slow_seconds=2.0, merchant=TERMINAL) as running:
        yield running


@pytest.fixture
def sandbox(sep_sandbox: Sandbox) -> Iterator[Sandbox]:
    sep_sandbox.set_mode(INSTANCE, "ok")
    yield sep_sandbox
    sep_sandbox.set_mode(INSTANCE, "ok")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def adapter(sandbox: Sandbox, http: httpx.Client) -> SepAdapter:
    config = GatewayConfig(
        name="sep-sandbox",
        protocol="sep",
        base_url=f"{sandbox.url}/{INSTANCE}",
        merchant_id=TERMINAL,
        timeout_seconds=1.0,
    )
    return SepAdapter(config, http)


@pytest.fixture(scope="module")
def buyer() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=3) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback/sep", server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _create(adapter: SepAdapter, callback_url: str = CALLBACK) -> CreateResult:
    return adapter.create(
        order_id="pl_order_1", amount_irr=AMOUNT, callback_url=callback_url, description="", mobile=None
    )


def _at_gateway(buyer: httpx.Client, created: CreateResult, action: str) -> httpx.Response:
    """The buyer's browser: auto-posts the redirect form, then presses `action` on the page."""
    redirect = created.redirect
    page = buyer.post(redirect.url, data=redirect.fields)
    assert page.status_code == 200
    action_url, hidden = _forms(page.text)[0]
    return buyer.post(httpx.URL(redirect.url).join(action_url), data={**hidden, "action": action})


def _returned(answer: httpx.Response, callback_url: str = CALLBACK) -> dict[str, str]:
    """The return form the sandbox makes the browser post to the shop."""
    assert answer.status_code == 200
    forms = [fields for action, fields in _forms(answer.text) if action == callback_url]
    assert len(forms) == 1, "the answer must auto-post one form to the callback"
    return forms[0]


def _pay(adapter: SepAdapter, buyer: httpx.Client) -> tuple[CreateResult, CallbackData]:
    created = _create(adapter)
    data = adapter.parse_callback({}, _returned(_at_gateway(buyer, created, "pay")))
    return created, data


def _error(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


# -- the happy path, cancel, and SEP's repeated verify ---------------------------------------------


def test_pay_returns_by_post_form_and_verifies_with_refnum(adapter, buyer):
    # Given a SEP payment created by the adapter
    created = _create(adapter)
    # When the buyer posts the Token form, pays, and is sent back
    fields = _returned(_at_gateway(buyer, created, "pay"))
    data = adapter.parse_callback({}, fields)
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then the return claims success with a RefNum, and verify confirms the charged amount
    assert created.redirect.method == "POST"
    assert created.redirect.url.endswith("/s/OnlinePG/OnlinePG")
    assert (data.token, data.claimed_success, data.order_id) == (created.token, True, "pl_order_1")
    assert set(fields) >= {"MID", "State", "Status", "RRN", "RefNum", "ResNum", "TerminalId", "TraceNo"}
    assert result.outcome is VerifyOutcome.VERIFIED
    assert (result.amount_irr, result.reference) == (AMOUNT, data.refs["RefNum"])
    assert result.card_mask is not None
    assert result.card_mask.startswith("603799")


def test_cancel_returns_status_1_without_refnum(adapter, buyer):
    # Given a created payment
    created = _create(adapter)
    # When the buyer presses cancel
    data = adapter.parse_callback({}, _returned(_at_gateway(buyer, created, "cancel")))
    # Then the return is a cancel with no RefNum, so there is nothing to verify
    assert (data.claimed_success, data.cancelled, data.refs) == (False, True, {})
    error = _error(lambda: adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs))
    assert error.code == "missing_reference"


def test_a_buyer_sent_with_get_method_comes_back_by_get_with_the_same_fields(adapter, buyer):
    # Given a SEP payment whose buyer is sent with GetMethod=true (the manual's GET return)
    created = _create(adapter)
    page = buyer.post(created.redirect.url, data={**created.redirect.fields, "GetMethod": "true"})
    action_url, hidden = _forms(page.text)[0]
    # When he pays
    answer = buyer.post(httpx.URL(created.redirect.url).join(action_url), data={**hidden, "action": "pay"})
    # Then he is sent back by GET, the return's fields in the query, and they verify
    assert answer.status_code == 303
    location = httpx.URL(answer.headers["location"])
    assert str(location.copy_with(query=None)) == CALLBACK
    data = adapter.parse_callback(dict(location.params), {})
    assert (data.token, data.claimed_success) == (created.token, True)
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    assert result.outcome is VerifyOutcome.VERIFIED


def test_repeated_verify_of_the_same_refnum_succeeds_again(adapter, buyer, sandbox):
    # Given a paid and verified payment
    created, data = _pay(adapter, buyer)
    first = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # When the same RefNum is verified again
    second = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then SEP answers 0 again and the adapter reports VERIFIED again with the same reference
    assert first.outcome is second.outcome is VerifyOutcome.VERIFIED
    assert first.reference == second.reference
    verifies = [c for c in sandbox.calls(INSTANCE) if c["path"].endswith("/VerifyTransaction")]
    assert [c["result"] for c in verifies[-2:]] == [0, 0]


def test_verify_of_an_unknown_refnum_is_not_paid(adapter):
    # Given a RefNum the sandbox never issued
    # When it is verified
    result = adapter.verify(token="0" * 32, amount_irr=AMOUNT, refs={"RefNum": "bm90LWEtcmVmbnVt"})
    # Then SEP answers -2: not paid
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_wrong_terminal_is_a_config_error(sandbox, http):
    # Given an adapter configured with a terminal the sandbox does not know
    config = GatewayConfig(
        name="sep-other",
        protocol="sep",
        base_url=f"{sandbox.url}/{INSTANCE}",
        merchant_id="999",
        timeout_seconds=1,
    )
    other = SepAdapter(config, http)
    # When it asks for a token and verifies
    create_error = _error(lambda: _create(other))
    verify_error = _error(lambda: other.verify(token="0" * 32, amount_irr=AMOUNT, refs={"RefNum": "eA=="}))
    # Then both are config errors (token errorCode 12, verify -105)
    assert (create_error.kind, create_error.code) == (ErrorKind.CONFIG, "terminal_not_found")
    assert (verify_error.kind, verify_error.code) == (ErrorKind.CONFIG, "terminal_not_found")


# -- clock: verify window, token TTL, reverse window ------------------------------------------------


def test_verify_after_30_minutes_is_reversed(adapter, buyer, sandbox):
    # Given a paid payment that nobody verified for 31 minutes
    created, data = _pay(adapter, buyer)
    sandbox.advance_clock(31 * 60)
    # When it is verified
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then SEP answers -6: the bank reversed it
    assert result.outcome is VerifyOutcome.REVERSED
    assert sandbox.calls(INSTANCE)[-1]["result"] == -6


def test_token_older_than_20_minutes_returns_session_is_null(adapter, buyer, sandbox):
    # Given a token created 21 minutes ago
    created = _create(adapter)
    sandbox.advance_clock(21 * 60)
    # When the buyer tries to pay
    fields = _returned(_at_gateway(buyer, created, "pay"))
    data = adapter.parse_callback({}, fields)
    # Then the return says SessionIsNull (4): neither success nor cancel
    assert (fields["Status"], fields["State"]) == ("4", "SessionIsNull")
    assert (data.claimed_success, data.cancelled, data.refs) == (False, False, {})


def test_reverse_inside_the_window_gives_the_money_back(adapter, buyer):
    # Given a verified payment
    created, data = _pay(adapter, buyer)
    adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # When it is reversed, then verified and reversed again
    done = adapter.reverse(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    after = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    again = adapter.reverse(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then SEP confirms (0), verify says reversed (5), and a second reverse is confirmed too
    assert done is True
    assert after.outcome is VerifyOutcome.REVERSED
    assert again is True


def test_reverse_after_50_minutes_is_a_business_error(adapter, buyer, sandbox):
    # Given a payment verified 51 minutes ago
    created, data = _pay(adapter, buyer)
    adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    sandbox.advance_clock(51 * 60)
    # When it is reversed
    error = _error(lambda: adapter.reverse(token=created.token, amount_irr=AMOUNT, refs=data.refs))
    # Then the window is over
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "reverse_window_over")


# -- each failure mode ------------------------------------------------------------------------------


def test_down_is_transient(adapter, buyer, sandbox):
    # Given a paid payment, then the gateway goes down
    created, data = _pay(adapter, buyer)
    sandbox.set_mode(INSTANCE, "down")
    # When a token is asked for and the payment verified
    create_error = _error(lambda: _create(adapter))
    verify_error = _error(lambda: adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs))
    # Then both are transient (HTML 502)
    assert (create_error.kind, create_error.code) == (ErrorKind.TRANSIENT, "http_502")
    assert verify_error.kind is ErrorKind.TRANSIENT


def test_slow_beyond_the_timeout_is_transient(adapter, sandbox):
    # Given a gateway slower than the adapter's timeout
    sandbox.set_mode(INSTANCE, "slow")
    # When a token is asked for
    error = _error(lambda: _create(adapter))
    # Then it is a transient timeout
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_flaky_fails_every_second_call_transiently(adapter, sandbox):
    # Given a flaky gateway
    sandbox.set_mode(INSTANCE, "flaky")
    # When two tokens are asked for
    first = _create(adapter)
    error = _error(lambda: _create(adapter))
    # Then the first works and the second is transient
    assert first.token
    assert error.kind is ErrorKind.TRANSIENT


def test_decline_returns_failed_and_nothing_to_verify(adapter, buyer, sandbox):
    # Given the card will be declined
    sandbox.set_mode(INSTANCE, "decline")
    created = _create(adapter)
    # When the buyer pays
    fields = _returned(_at_gateway(buyer, created, "pay"))
    data = adapter.parse_callback({}, fields)
    # Then the return says Failed (3), no success, no cancel, no RefNum
    assert (fields["Status"], fields["State"]) == ("3", "Failed")
    assert (data.claimed_success, data.cancelled, data.refs) == (False, False, {})


def test_cancel_mode_turns_pay_into_a_cancel(adapter, buyer, sandbox):
    # Given the buyer will cancel whatever they press
    sandbox.set_mode(INSTANCE, "cancel")
    created = _create(adapter)
    # When the buyer presses pay
    data = adapter.parse_callback({}, _returned(_at_gateway(buyer, created, "pay")))
    # Then the return is a cancel
    assert (data.claimed_success, data.cancelled) == (False, True)


def test_no_return_takes_the_money_and_the_bank_reverses_it_after_30_minutes(adapter, buyer, sandbox):
    # Given the buyer pays but never comes back
    sandbox.set_mode(INSTANCE, "no_return")
    created = _create(adapter)
    answer = _at_gateway(buyer, created, "pay")
    # When nobody verifies (SEP verifies by RefNum, which only the return carries) for 31 minutes
    paid_state = sandbox.payment(INSTANCE, created.token).state
    sandbox.advance_clock(31 * 60)
    # Then no return form was sent, and the unverified payment is reversed
    assert [action for action, _ in _forms(answer.text)] == []
    assert paid_state == "PAID"
    assert sandbox.payment(INSTANCE, created.token).state == "REVERSED"


def test_double_return_delivers_the_same_return_twice_and_verify_answers_success_twice(
    adapter, buyer, sandbox, receiver
):
    # Given the sandbox will also deliver the return server-side
    callback_url, received = receiver
    sandbox.set_mode(INSTANCE, "double_return")
    created = _create(adapter, callback_url=callback_url)
    # When the buyer pays and both returns are verified
    browser_fields = _returned(_at_gateway(buyer, created, "pay"), callback_url)
    first = adapter.parse_callback({}, received[0])
    second = adapter.parse_callback({}, browser_fields)
    results = [adapter.verify(token=created.token, amount_irr=AMOUNT, refs=d.refs) for d in (first, second)]
    # Then both carry the same RefNum and both verify as VERIFIED: paylink's dedupe must catch it
    assert first.refs == second.refs
    assert [r.outcome for r in results] == [VerifyOutcome.VERIFIED, VerifyOutcome.VERIFIED]
    assert results[0].reference == results[1].reference


def test_forged_return_claims_success_but_verify_finds_nothing(adapter, buyer, sandbox):
    # Given the return will be forged
    sandbox.set_mode(INSTANCE, "forged_return")
    created = _create(adapter)
    # When the buyer "pays" and the return is verified
    data = adapter.parse_callback({}, _returned(_at_gateway(buyer, created, "pay")))
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then it claimed success with a RefNum, but SEP does not know it (-2): not paid
    assert data.claimed_success is True
    assert data.refs
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_verify_timeout_commits_then_the_next_verify_succeeds_again(adapter, buyer, sandbox):
    # Given a paid payment whose verify answer will be held past the adapter's timeout
    created, data = _pay(adapter, buyer)
    sandbox.set_mode(INSTANCE, "verify_timeout")
    error = _error(lambda: adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs))
    # When the gateway answers normally again and the payment is verified again
    sandbox.set_mode(INSTANCE, "ok")
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then the first was a transient timeout and the retry is VERIFIED (SEP's 0 again)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.VERIFIED, AMOUNT)


def test_verify_in_progress_is_transient_once_then_verified(adapter, buyer, sandbox):
    # Given a paid payment and a gateway that answers the first verify "in progress"
    created, data = _pay(adapter, buyer)
    sandbox.set_mode(INSTANCE, "verify_in_progress")
    # When it is verified twice
    error = _error(lambda: adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs))
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then SEP (no such code) answers HTML 503 first, then verifies
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_503")
    assert result.outcome is VerifyOutcome.VERIFIED


def test_amount_mismatch_verifies_and_reports_the_charged_affective_amount(adapter, buyer, sandbox):
    # Given the buyer will be charged more than the invoice
    sandbox.set_mode(INSTANCE, "amount_mismatch")
    created, data = _pay(adapter, buyer)
    # When it is verified
    result = adapter.verify(token=created.token, amount_irr=AMOUNT, refs=data.refs)
    # Then SEP still answers 0 and AffectiveAmount differs: the caller must compare and refund
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == AMOUNT + MISMATCH_EXTRA_IRR


def test_token_expired_mode_returns_session_is_null(adapter, buyer, sandbox):
    # Given the token expires when the page is opened
    sandbox.set_mode(INSTANCE, "token_expired")
    created = _create(adapter)
    # When the buyer tries to pay
    data = adapter.parse_callback({}, _returned(_at_gateway(buyer, created, "pay")))
    # Then the return is neither success nor cancel, and the sandbox shows the token expired
    assert (data.claimed_success, data.cancelled) == (False, False)
    assert sandbox.payment(INSTANCE, created.token).state == "EXPIRED"


def test_every_core_mode_is_driven_here():
    # Given the sandbox's modes
    from local.sandbox import MODES

    # Then this file drives each of them (ok is every other test)
    driven = {
        "ok", "down", "slow", "flaky", "decline", "cancel", "no_return", "double_return",
        "forged_return", "verify_timeout", "verify_in_progress", "amount_mismatch", "token_expired",
    }  # fmt: skip
    assert set(MODES) == driven


def test_verify_reports_the_paying_cards_sha256_as_hashed_pan(adapter, buyer):
    # Given a payment the sandbox buyer paid with its card (the mask's first Luhn-valid card)
    import hashlib

    from local.sandbox.protocols.base import paying_card

    created = _create(adapter)
    fields = _returned(_at_gateway(buyer, created, "pay"))
    # When it is verified
    result = adapter.verify(
        token=created.token, amount_irr=AMOUNT, refs=adapter.parse_callback({}, fields).refs
    )
    # Then HashedPan is that card's SHA-256 in hex, and the return's HashedCardNumber says the same
    card = paying_card(str(result.card_mask)[-4:])
    assert str(result.card_hash).lower() == hashlib.sha256(card.encode()).hexdigest()
    assert fields["HashedCardNumber"].lower() == result.card_hash.lower()
