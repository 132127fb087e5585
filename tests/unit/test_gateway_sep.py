"""SEP (Saman) adapter against recorded exchanges.

The exchanges reproduce Saman's published merchant manual v3.3 (in ali-zahedi/az-iranian-bank-gateways
docs/providers-documents/saman-3.3.pdf: token request/answer, the buyer's return fields and its
Status/State table, VerifyTransaction and ReverseTransaction samples and ResultCode table) as also
used by shetabit/multipay (src/Drivers/SEP/SEP.php: token body, POST form with Token, verify by
RefNum + TerminalNumber, TransactionDetail fields) and ali-zahedi/az-iranian-bank-gateways
(azbankgateways/banks/sep.py: POST form to /OnlinePG/OnlinePG, State "OK" + RefNum on return);
see GATEWAYS.md sections 1.5 and 1.7. Failure exchanges (HTML 502 page, timeout) reproduce what a
reverse proxy in front of a gateway answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx

from paylink.payments.gateways import (
    PROTOCOLS,
    ErrorKind,
    GatewayConfig,
    GatewayError,
    VerifyOutcome,
    build_adapter,
)
from paylink.payments.gateways.sep import SepAdapter

BASE = "https://sep.shaparak.ir"
TERMINAL = "2015"
TOKEN = "2c3c1fefac5a48geb9f9be7e445dd9b2"
REF_NUM = "GmshtyjwKSsvC5zAuVjWeXgbwzWP1Cs0h/zq4cc9hb"
ORDER = "pl_01HZX3K9QF"

TOKEN_OK = {"status": 1, "token": TOKEN}
TOKEN_PATH = "/onlinepg/onlinepg"
VERIFY_PATH = "/verifyTxnRandomSessionkey/ipg/VerifyTransaction"
REVERSE_PATH = "/verifyTxnRandomSessionkey/ipg/ReverseTransaction"

DETAIL = {
    "RRN": "14226761817",
    "RefNum": REF_NUM,
    "MaskedPan": "621986****8080",
    "HashedPan": "f4e0bd4ca7a5b3d0f7f4a8a1a6f1e2d3c4b5a697887766554433221100ffeedd",
    "TerminalNumber": 2015,
    "OrginalAmount": 1000,
    "AffectiveAmount": 1000,
    "StraceDate": "2019-09-16 18:04:55",
    "StraceNo": "100428",
}
VERIFY_OK = {
    "TransactionDetail": DETAIL,
    "ResultCode": 0,
    "ResultDescription": "عملیات با موفقیت انجام شد",
    "Success": True,
}
RETURN_OK = {
    "MID": "0",
    "State": "OK",
    "Status": "2",
    "RRN": "14226761817",
    "RefNum": REF_NUM,
    "ResNum": ORDER,
    "TerminalId": TERMINAL,
    "TraceNo": "100428",
    "Amount": "1000",
    "Wage": "0",
    "SecurePan": "621986****8080",
    "HashedCardNumber": "f4e0bd4ca7a5b3d0f7f4a8a1a6f1e2d3c4b5a697887766554433221100ffeedd",
    "Token": TOKEN,
}
RETURN_CANCELLED = {
    **RETURN_OK,
    "State": "CanceledByUser",
    "Status": "1",
    "RRN": "",
    "RefNum": "",
    "TraceNo": "",
    "SecurePan": "",
    "HashedCardNumber": "",
}
RETURN_SESSION_IS_NULL = {**RETURN_CANCELLED, "State": "SessionIsNull", "Status": "4"}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
REFS = {"RefNum": REF_NUM}


def _result(code: int, description: str, *, detail: bool = False) -> dict[str, object]:
    return {
        "TransactionDetail": DETAIL if detail else None,
        "ResultCode": code,
        "ResultDescription": description,
        "Success": code == 0,
    }


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[SepAdapter]:
    config = GatewayConfig(
        name="saman", protocol="sep", base_url=BASE, merchant_id=TERMINAL, timeout_seconds=3
    )
    with httpx.Client() as client:
        yield SepAdapter(config, client)


def _create(adapter: SepAdapter, mobile: str | None = "09121234567", amount: int = 1000):
    return adapter.create(
        order_id=ORDER,
        amount_irr=amount,
        callback_url="https://pay.example/callback/saman",
        description="Order 42",
        mobile=mobile,
    )


def _raises(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


# -- registration and capabilities ------------------------------------------------------------


def test_protocol_sep_builds_the_sep_adapter():
    # Given a config with protocol "sep"
    config = GatewayConfig(name="saman", protocol="sep", base_url=BASE, merchant_id=TERMINAL)
    # When the adapter is built
    with httpx.Client() as client:
        adapter = build_adapter(config, client)
    # Then it is the SEP adapter
    assert PROTOCOLS["sep"] is SepAdapter
    assert isinstance(adapter, SepAdapter)


def test_capabilities_describe_saman():
    # Given the SEP adapter's capabilities
    caps = SepAdapter.capabilities
    # Then they say rials, a POST form, 20-min tokens, a 30-min verify window and success-again re-verify
    assert caps.unit == "IRR"
    assert caps.min_amount_irr == 1_000
    assert caps.token_ttl == timedelta(minutes=20)
    assert caps.verify_window == timedelta(minutes=30)
    assert caps.reverse_window == timedelta(minutes=50)
    assert caps.callback_methods == frozenset({"POST", "GET"})
    assert caps.redirect_method == "POST"
    assert caps.repeated_verify == "success_again"
    assert caps.supports_inquiry is False


# -- create ---------------------------------------------------------------------------------


def test_create_sends_the_documented_token_request(adapter, mock):
    # Given SEP hands out a token
    route = mock.post(TOKEN_PATH).respond(json=TOKEN_OK)
    # When a payment is created
    _create(adapter)
    # Then the body is the manual's token request, TerminalId from config, amount in rials
    assert json.loads(route.calls.last.request.content) == {
        "action": "token",
        "TerminalId": TERMINAL,
        "Amount": 1000,
        "ResNum": ORDER,
        "RedirectUrl": "https://pay.example/callback/saman",
        "CellNumber": "09121234567",
        "TokenExpiryInMin": 20,
    }


def test_create_without_mobile_omits_cell_number(adapter, mock):
    # Given SEP hands out a token
    route = mock.post(TOKEN_PATH).respond(json=TOKEN_OK)
    # When a payment without a mobile number is created
    _create(adapter, mobile=None)
    # Then CellNumber is not sent
    assert "CellNumber" not in json.loads(route.calls.last.request.content)


def test_create_redirect_is_a_post_form_built_from_config_and_token(adapter, mock):
    # Given SEP answers a token
    mock.post(TOKEN_PATH).respond(json=TOKEN_OK)
    # When a payment is created
    result = _create(adapter)
    # Then the buyer is sent by a POST form {Token} to the configured base's /OnlinePG/OnlinePG
    assert result.token == TOKEN
    assert result.redirect.method == "POST"
    assert result.redirect.url == f"{BASE}/OnlinePG/OnlinePG"
    assert result.redirect.fields == {"Token": TOKEN}


def test_create_redirect_ignores_any_url_in_the_answer(adapter, mock):
    # Given a token answer that also carries a foreign URL
    mock.post(TOKEN_PATH).respond(json={**TOKEN_OK, "url": "https://evil.example/pay"})
    # When a payment is created
    result = _create(adapter)
    # Then the redirect still points at the configured base
    assert result.redirect.url.startswith(BASE + "/")


@pytest.mark.parametrize(
    ("error_code", "kind", "code"),
    [
        ("5", ErrorKind.BUSINESS, "invalid_parameters"),
        ("8", ErrorKind.CONFIG, "merchant_ip_invalid"),
        ("11", ErrorKind.CONFIG, "token_only_terminal"),
        ("12", ErrorKind.CONFIG, "terminal_not_found"),
    ],
)
def test_create_maps_documented_error_codes_to_error_kinds(adapter, mock, error_code, kind, code):
    # Given SEP refuses the token with a documented errorCode
    mock.post(TOKEN_PATH).respond(json={"status": -1, "errorCode": error_code, "errorDesc": "..."})
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then the error has the kind and code of that errorCode
    assert (error.kind, error.code) == (kind, code)


@pytest.mark.parametrize(
    ("error_desc", "kind", "code"),
    [
        ("مبلغ تراکنش نامعتبر است", ErrorKind.BUSINESS, "amount_refused"),
        ("ترمینال یافت نشد", ErrorKind.CONFIG, "terminal_refused"),
        ("خطای ناشناخته", ErrorKind.TRANSIENT, "token_error_99"),
    ],
    ids=["amount", "terminal", "unknown"],
)
def test_create_undocumented_error_code_is_classified_by_its_description(
    adapter, mock, error_desc, kind, code
):
    # Given SEP refuses with an errorCode outside the table
    mock.post(TOKEN_PATH).respond(json={"status": -1, "errorCode": 99, "errorDesc": error_desc})
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then amount problems are business, terminal problems config, anything else transient
    assert (error.kind, error.code) == (kind, code)


def test_create_error_text_never_contains_the_terminal_id(adapter, mock):
    # Given SEP echoes the terminal id in its errorDesc
    mock.post(TOKEN_PATH).respond(
        json={"status": -1, "errorCode": 12, "errorDesc": f"ترمینال {TERMINAL} یافت نشد"}
    )
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then neither str nor repr of the error shows the terminal id
    assert TERMINAL not in str(error)
    assert TERMINAL not in repr(error)


def test_create_status_1_without_token_is_transient(adapter, mock):
    # Given SEP answers status 1 but no token
    mock.post(TOKEN_PATH).respond(json={"status": 1})
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then it is a transient bad response
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_create_html_502_page_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post(TOKEN_PATH).respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_create_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post(TOKEN_PATH).mock(side_effect=httpx.ReadTimeout("timed out"))
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_create_refuses_a_non_positive_amount_without_calling_the_gateway(adapter, mock):
    # Given any gateway answer
    route = mock.post(TOKEN_PATH).respond(json=TOKEN_OK)
    # When a payment of zero rials is created
    error = _raises(lambda: _create(adapter, amount=0))
    # Then it is a business error and SEP was not asked
    assert error.kind is ErrorKind.BUSINESS
    assert not route.called


# -- callback -------------------------------------------------------------------------------


def test_callback_ok_posted_reads_token_refnum_order_and_amount(adapter):
    # Given the buyer paid and SEP posts the return form
    # When the callback is parsed
    data = adapter.parse_callback({}, RETURN_OK)
    # Then it claims success, and keeps RefNum for verify, our order id and the claimed amount
    assert (data.token, data.claimed_success, data.cancelled) == (TOKEN, True, False)
    assert data.refs == {"RefNum": REF_NUM}
    assert data.order_id == ORDER
    assert data.claimed_amount_irr == 1000


def test_callback_ok_in_a_get_query_is_read_as_the_form(adapter):
    # Given the return arrives as a GET query (GetMethod)
    # When the callback is parsed
    data = adapter.parse_callback(RETURN_OK, {})
    # Then it is read like the POST form
    assert (data.token, data.claimed_success, data.refs) == (TOKEN, True, {"RefNum": REF_NUM})


def test_callback_status_1_is_a_cancel_without_refs(adapter):
    # Given the buyer cancelled at SEP (Status 1, CanceledByUser, empty RefNum)
    # When the callback is parsed
    data = adapter.parse_callback({}, RETURN_CANCELLED)
    # Then it is a cancel, not a success claim, and carries no RefNum
    assert (data.claimed_success, data.cancelled, data.refs) == (False, True, {})


def test_callback_session_is_null_is_neither_success_nor_cancel(adapter):
    # Given the buyer timed out at SEP (Status 4, SessionIsNull)
    # When the callback is parsed
    data = adapter.parse_callback({}, RETURN_SESSION_IS_NULL)
    # Then it claims failure without a cancel
    assert (data.claimed_success, data.cancelled, data.refs) == (False, False, {})


def test_callback_status_2_with_a_state_other_than_ok_is_not_a_success_claim(adapter):
    # Given a return whose Status and State disagree
    # When the callback is parsed
    data = adapter.parse_callback({}, {**RETURN_OK, "State": "Failed"})
    # Then it does not claim success
    assert data.claimed_success is False


def test_callback_with_only_state_ok_is_read_as_status_2(adapter):
    # Given an older return with State but no Status
    form = {k: v for k, v in RETURN_OK.items() if k != "Status"}
    # When the callback is parsed
    data = adapter.parse_callback({}, form)
    # Then it claims success
    assert data.claimed_success is True


def test_callback_from_another_terminal_is_refused(adapter):
    # Given a return naming another merchant's terminal (a token swap)
    # When the callback is parsed
    error = _raises(lambda: adapter.parse_callback({}, {**RETURN_OK, "TerminalId": "99999"}))
    # Then it is refused as a business error, without naming our terminal
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "wrong_terminal")
    assert TERMINAL not in str(error)


@pytest.mark.parametrize(
    "form",
    [
        {k: v for k, v in RETURN_OK.items() if k != "Token"},
        {**RETURN_OK, "Token": ""},
        {**RETURN_OK, "Token": "abc<script>"},
        {**RETURN_OK, "Status": "OK"},
        {k: v for k, v in RETURN_OK.items() if k not in ("Status", "State")},
        {**RETURN_OK, "Amount": "1,000"},
        {k: v for k, v in RETURN_OK.items() if k != "TerminalId"},
        {**RETURN_OK, "RefNum": "a b;c"},
    ],
    ids=[
        "no-token",
        "empty-token",
        "bad-token",
        "non-integer-status",
        "no-status",
        "bad-amount",
        "no-terminal",
        "bad-refnum",
    ],
)
def test_callback_malformed_is_a_business_error(adapter, form):
    # Given a malformed return
    # When it is parsed
    error = _raises(lambda: adapter.parse_callback({}, form))
    # Then it is refused as a business error
    assert error.kind is ErrorKind.BUSINESS


def test_callback_with_query_and_form_disagreeing_is_refused(adapter):
    # Given query and form name different RefNums
    # When the callback is parsed
    error = _raises(lambda: adapter.parse_callback({"RefNum": "other"}, RETURN_OK))
    # Then it is refused
    assert error.kind is ErrorKind.BUSINESS


# -- verify ---------------------------------------------------------------------------------


def test_verify_sends_refnum_and_terminal_number(adapter, mock):
    # Given SEP verifies the payment
    route = mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When the payment is verified with the return's refs
    adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then the body is the manual's {RefNum, TerminalNumber}
    assert json.loads(route.calls.last.request.content) == {"RefNum": REF_NUM, "TerminalNumber": 2015}


def test_verify_result_0_is_verified_with_affective_amount_and_refnum(adapter, mock):
    # Given SEP answers ResultCode 0 with the transaction's details
    mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then it is verified with AffectiveAmount, RefNum as reference, the masked card and the time
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == 1000
    assert result.reference == REF_NUM
    assert result.card_mask == "621986****8080"
    assert result.paid_at == "2019-09-16 18:04:55"


def test_verify_reports_affective_amount_when_it_differs_from_the_invoice(adapter, mock):
    # Given the buyer paid less than the invoice (AffectiveAmount below OrginalAmount)
    detail = {**DETAIL, "OrginalAmount": 1000, "AffectiveAmount": 900}
    mock.post(VERIFY_PATH).respond(json={**VERIFY_OK, "TransactionDetail": detail})
    # When the payment is verified with the invoice amount
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then SEP's verify still succeeds and the paid amount is reported for the caller to compare
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.VERIFIED, 900)


def test_verify_of_a_resubmitted_refnum_is_reported_verified_again(adapter, mock):
    # Given SEP confirms the same RefNum on every verify (the manual: nothing against double spending)
    route = mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When the same RefNum is verified twice
    first = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    second = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then the adapter honestly reports VERIFIED both times with the same reference (paylink dedupes)
    assert route.call_count == 2
    assert first.outcome is second.outcome is VerifyOutcome.VERIFIED
    assert first.reference == second.reference == REF_NUM


def test_verify_result_2_duplicate_is_already_verified_with_details(adapter, mock):
    # Given SEP answers 2 "duplicate request" with the details
    mock.post(VERIFY_PATH).respond(json=_result(2, "درخواست تکراری می باشد", detail=True))
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then it is already verified, with the amount when SEP gave it
    assert (result.outcome, result.amount_irr, result.reference) == (
        VerifyOutcome.ALREADY_VERIFIED,
        1000,
        REF_NUM,
    )


def test_verify_result_2_without_details_is_not_counted_as_paid(adapter, mock):
    # Given SEP answers a bare 2 "duplicate request": some transaction was verified, not which
    mock.post(VERIFY_PATH).respond(json=_result(2, "درخواست تکراری می باشد"))
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is not reported paid
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "unconfirmed_duplicate")


def test_verify_result_2_for_a_token_of_another_amount_is_not_this_payments(adapter, mock):
    # Given SEP answers 2 with the details of a transaction asked for another amount
    detail = {**DETAIL, "OrginalAmount": 5000, "AffectiveAmount": 5000}
    mock.post(VERIFY_PATH).respond(json={**_result(2, "درخواست تکراری می باشد"), "TransactionDetail": detail})
    # When this payment (1,000 rials) is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the RefNum is reported as another payment's, never as paid
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "foreign_reference")


def test_verify_result_2_without_its_refnum_in_the_details_is_not_counted_as_paid(adapter, mock):
    # Given SEP answers 2 with details that do not name the RefNum
    detail = {k: v for k, v in DETAIL.items() if k != "RefNum"}
    mock.post(VERIFY_PATH).respond(json={**_result(2, "درخواست تکراری می باشد"), "TransactionDetail": detail})
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is not reported paid
    assert error.code == "unconfirmed_duplicate"


def test_verify_result_0_for_a_token_of_another_amount_is_not_this_payments(adapter, mock):
    # Given a RefNum whose token was asked for 5,000 rials (another payment's receipt)
    detail = {**DETAIL, "OrginalAmount": 5000, "AffectiveAmount": 5000}
    mock.post(VERIFY_PATH).respond(json={**VERIFY_OK, "TransactionDetail": detail})
    # When a payment of 1,000 rials is verified with it
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is another payment's reference: no amount to compare, nothing to reverse
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "foreign_reference")


def test_verify_answer_naming_our_terminal_as_a_number_is_ours(mock):
    # Given a TerminalId configured with a leading zero, which SEP answers as a number
    config = GatewayConfig(
        name="saman", protocol="sep", base_url=BASE, merchant_id="02015", timeout_seconds=3
    )
    mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When a payment is verified
    with httpx.Client() as client:
        result = SepAdapter(config, client).verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then it is verified
    assert result.outcome is VerifyOutcome.VERIFIED


def test_verify_answer_of_another_terminal_is_not_this_payments(adapter, mock):
    # Given SEP's details name another terminal
    mock.post(VERIFY_PATH).respond(
        json={**VERIFY_OK, "TransactionDetail": {**DETAIL, "TerminalNumber": 9999}}
    )
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the RefNum is not this payment's
    assert error.code == "foreign_reference"


def test_verify_result_minus_2_is_not_paid(adapter, mock):
    # Given SEP does not find the transaction
    mock.post(VERIFY_PATH).respond(json=_result(-2, "تراکنش یافت نشد"))
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then it is not paid
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_verify_result_minus_6_after_30_minutes_is_reversed(adapter, mock):
    # Given more than 30 minutes passed, so the bank reversed the payment
    mock.post(VERIFY_PATH).respond(json=_result(-6, "بیش از نیم ساعت از زمان اجرای تراکنش گذشته است"))
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then the money went back to the buyer
    assert (result.outcome, result.paid) == (VerifyOutcome.REVERSED, False)


def test_verify_result_5_is_reversed(adapter, mock):
    # Given the transaction was reversed
    mock.post(VERIFY_PATH).respond(json=_result(5, "تراکنش برگشت خورده است"))
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then it is reversed
    assert result.outcome is VerifyOutcome.REVERSED


@pytest.mark.parametrize(
    ("code", "our_code"),
    [(-104, "terminal_disabled"), (-105, "terminal_not_found"), (-106, "ip_not_allowed")],
)
def test_verify_terminal_and_ip_codes_are_config_errors(adapter, mock, code, our_code):
    # Given SEP refuses the terminal or our server's IP
    mock.post(VERIFY_PATH).respond(json=_result(code, "..."))
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is a config error
    assert (error.kind, error.code) == (ErrorKind.CONFIG, our_code)


def test_verify_undocumented_code_is_transient(adapter, mock):
    # Given SEP answers a code outside the manual's table
    mock.post(VERIFY_PATH).respond(json=_result(-99, "..."))
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is transient (verify is safe to repeat)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "result_-99")


def test_verify_result_0_without_affective_amount_is_transient(adapter, mock):
    # Given a success answer that lacks the amount
    mock.post(VERIFY_PATH).respond(json={**VERIFY_OK, "TransactionDetail": None})
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then nothing is decided: transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_verify_answer_for_another_refnum_is_transient(adapter, mock):
    # Given a success answer naming another RefNum
    detail = {**DETAIL, "RefNum": "another"}
    mock.post(VERIFY_PATH).respond(json={**VERIFY_OK, "TransactionDetail": detail})
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is not taken as proof
    assert error.kind is ErrorKind.TRANSIENT


def test_verify_without_refnum_is_a_business_error_without_calling_sep(adapter, mock):
    # Given no RefNum is known (the buyer never returned)
    route = mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs={}))
    # Then it is a business error and SEP was not asked
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "missing_reference")
    assert not route.called


def test_verify_html_502_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post(VERIFY_PATH).respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_verify_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time (the manual: retry only on no response)
    mock.post(VERIFY_PATH).mock(side_effect=httpx.ReadTimeout("timed out"))
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_verify_connection_refused_is_transient(adapter, mock):
    # Given the gateway cannot be reached
    mock.post(VERIFY_PATH).mock(side_effect=httpx.ConnectError("connection refused"))
    # When the payment is verified
    error = _raises(lambda: adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "transport")


# -- inquire and reverse ----------------------------------------------------------------------


def test_inquire_is_unsupported(adapter):
    # Given SEP has no inquiry API
    # When the adapter is asked to inquire
    error = _raises(lambda: adapter.inquire(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is a config error "unsupported"
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "unsupported")


def test_reverse_sends_refnum_and_terminal_number_and_confirms(adapter, mock):
    # Given SEP reverses the transaction
    route = mock.post(REVERSE_PATH).respond(json=_result(0, "عملیات با موفقیت انجام شد", detail=True))
    # When the payment is reversed
    done = adapter.reverse(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then the body is {RefNum, TerminalNumber} and the reverse is confirmed
    assert json.loads(route.calls.last.request.content) == {"RefNum": REF_NUM, "TerminalNumber": 2015}
    assert done is True


def test_reverse_of_an_already_reversed_payment_is_confirmed(adapter, mock):
    # Given SEP says the transaction is already reversed
    mock.post(REVERSE_PATH).respond(json=_result(5, "تراکنش برگشت خورده است"))
    # When the payment is reversed
    # Then the money is back either way
    assert adapter.reverse(token=TOKEN, amount_irr=1000, refs=REFS) is True


def test_reverse_after_the_window_is_a_business_error(adapter, mock):
    # Given the reverse window is over
    mock.post(REVERSE_PATH).respond(json=_result(-6, "..."))
    # When the payment is reversed
    error = _raises(lambda: adapter.reverse(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is a business error
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "reverse_window_over")


def test_reverse_with_ip_refused_is_a_config_error(adapter, mock):
    # Given SEP refuses our server's IP
    mock.post(REVERSE_PATH).respond(json=_result(-106, "..."))
    # When the payment is reversed
    error = _raises(lambda: adapter.reverse(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then it is a config error
    assert error.kind is ErrorKind.CONFIG


def test_reverse_without_refnum_is_a_business_error(adapter, mock):
    # Given no RefNum is known
    route = mock.post(REVERSE_PATH).respond(json=_result(0, "..."))
    # When the payment is reversed
    error = _raises(lambda: adapter.reverse(token=TOKEN, amount_irr=1000, refs=None))
    # Then it is a business error and SEP was not asked
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "missing_reference")
    assert not route.called


def test_reverse_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post(REVERSE_PATH).mock(side_effect=httpx.ReadTimeout("timed out"))
    # When the payment is reversed
    error = _raises(lambda: adapter.reverse(token=TOKEN, amount_irr=1000, refs=REFS))
    # Then the error is transient
    assert error.kind is ErrorKind.TRANSIENT


# ---- the card's hash (the refund payer page checks the payer's card against it) -------------------


def test_verify_keeps_the_hashed_pan_as_sep_gives_it(adapter, mock):
    # Given SEP's verify answer carries TransactionDetail.HashedPan
    mock.post(VERIFY_PATH).respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS)
    # Then the hash is kept exactly as given, and never shown by the result's repr
    assert result.card_hash == DETAIL["HashedPan"]
    assert result.card_hash not in repr(result)


def test_verify_without_a_hashed_pan_keeps_no_hash(adapter, mock):
    # Given a verify answer without HashedPan
    detail = {k: v for k, v in DETAIL.items() if k != "HashedPan"}
    mock.post(VERIFY_PATH).respond(json={**VERIFY_OK, "TransactionDetail": detail})
    # When it is verified / Then no hash is kept (the return's HashedCardNumber is only a claim)
    assert adapter.verify(token=TOKEN, amount_irr=1000, refs=REFS).card_hash is None
