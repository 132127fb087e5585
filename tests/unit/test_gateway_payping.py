"""PayPing v3 adapter against recorded exchanges.

The exchanges reproduce PayPing's published documents and official code, summarised in
GATEWAYS.md section 1.1:
- create / verify / reverse bodies and answers, the RFC 7807 error body and the 409/110 repeated
  verify: payping/plugins-woocommerce class-wc-gateway-payping.php (v3) and the fixtures of
  amyavari/iran-payment-laravel tests/Helpers/PaypingHelper.php + PaypingDriverTest.php;
- metaData codes and their meanings: GATEWAYS.md 1.1 and amyavari's src/Drivers/PaypingDriver.php;
- the older return form (`Status=-1`, `PaymentRefId`): payping/Simple-PHP-Payment-V3 verify.php;
- toman units and the 10-minute verify window: payping/API-Documents spec/openapi.json
  (reference/payping-openapi.json).
Failure exchanges (HTML 502 page, timeout) reproduce what a reverse proxy in front of a gateway answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx

from paylink.payments.gateways import PROTOCOLS, ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.payping import PayPingAdapter

BASE = "https://api.payping.ir"
TOKEN = "bearer-secret-7d1e4b"
CODE = "d2e353189823079e1e4181772cff5292"
REF_ID = "10012"
REFS = {"paymentRefId": REF_ID}

PAY_OK = {
    "paymentCode": CODE,
    "url": f"{BASE}/v3/pay/start/d2e3531898",
    "amount": 1000,
    "payerWage": 10,
    "businessWage": 10,
    "gatewayAmount": 1020,
}
VERIFY_OK = {
    "amount": 1000,
    "cardNumber": "123456******1234",
    "cardHashPan": "E59FA6241C94B8836E3D03120DF33E80FD988888BBA0A122240C2E7D23B48295",
    "clientRefId": "pay_01",
    "paymentRefId": 10012,
    "code": CODE,
    "payedDate": "2025-12-10 12:10:08",
    "payerWage": 10,
    "businessWage": 10,
    "gatewayAmount": 1020,
}
REVERSE_OK = {
    "amount": 1000,
    "clientRefId": "pay_01",
    "paymentRefId": 10012,
    "code": CODE,
    "payerWage": 10,
    "gatewayAmount": 1020,
    "reversedDate": "2025-12-10 12:20:08",
}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def problem(status: int, code: int, instance: str = "/v3/pay/verify", message: object = None) -> dict:
    """PayPing's RFC 7807 error body (amyavari's PaypingHelper::failedResponse)."""
    meta: dict = {"code": code, "errors": [{"message": "خطا"}]}
    if message is not None:
        meta["message"] = message
    return {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
        "title": "ValidationException" if status == 400 else "ConflictException",
        "status": status,
        "instance": instance,
        "paypingTraceId": "0HN50ATIAS006:00000002",
        "metaData": meta,
    }


def v3_return(status: str = "1", error_code: str = "", **data: object) -> dict[str, str]:
    """The v3 return: status, errorCode and data as a JSON string (official WooCommerce plugin)."""
    payload = {
        "paymentCode": CODE,
        "paymentRefId": "10012",
        "clientRefId": "pay_01",
        "amount": 1000,
        "gatewayAmount": 1020,
        "cardNumber": "123456******4321",
        "cardHashPan": "13464dasgfasdvad",
    }
    payload.update(data)
    payload = {k: v for k, v in payload.items() if v is not None}
    return {"status": status, "errorCode": error_code, "data": json.dumps(payload)}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[PayPingAdapter]:
    config = GatewayConfig(
        name="payping", protocol="payping", base_url=BASE, merchant_id=TOKEN, timeout_seconds=3.0
    )
    with httpx.Client() as client:
        yield PayPingAdapter(config, client)


def _create(adapter: PayPingAdapter, amount_irr: int = 10_000, mobile: str | None = "09123456789"):
    return adapter.create(
        order_id="pay_01",
        amount_irr=amount_irr,
        callback_url="https://pay.example/callback/payping",
        description="Order 42",
        mobile=mobile,
    )


def _raises(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


# -- registration and capabilities --------------------------------------------------------------


def test_payping_is_a_registered_protocol():
    # Given the protocol table / When "payping" is looked up / Then it builds this adapter
    assert PROTOCOLS["payping"] is PayPingAdapter


def test_capabilities_describe_payping_v3(adapter):
    # Given the adapter / When its capabilities are read
    caps = adapter.capabilities
    # Then they say toman, 100 toman minimum, POST or GET return, GET redirect, 409/110 re-verify
    assert caps.unit == "IRT"
    assert caps.min_amount_irr == 1_000
    assert caps.verify_window == timedelta(minutes=10)
    assert caps.callback_methods == frozenset({"POST", "GET"})
    assert caps.redirect_method == "GET"
    assert caps.repeated_verify == "already_verified"
    assert caps.supports_inquiry is True
    assert caps.reverse_window is not None


# -- create -------------------------------------------------------------------------------------


def test_create_sends_the_documented_body_in_toman(adapter, mock):
    # Given PayPing accepts the payment
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When 10,000 rials are asked for
    _create(adapter)
    # Then the body holds v3's fields, with the amount in toman
    assert json.loads(route.calls.last.request.content) == {
        "amount": 1000,
        "returnUrl": "https://pay.example/callback/payping",
        "description": "Order 42",
        "clientRefId": "pay_01",
        "isReversible": True,
        "payerIdentity": "09123456789",
    }


def test_create_authenticates_with_the_bearer_token(adapter, mock):
    # Given PayPing accepts the payment
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When a payment is created
    _create(adapter)
    # Then the token travels as a bearer token, and the configured timeout applies
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.extensions["timeout"] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_create_leaves_out_payer_identity_without_a_mobile(adapter, mock):
    # Given PayPing accepts the payment
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When no mobile is given
    _create(adapter, mobile=None)
    # Then payerIdentity is not sent
    assert "payerIdentity" not in json.loads(route.calls.last.request.content)


def test_create_returns_the_payment_code_and_a_start_url_built_from_base_and_code(adapter, mock):
    # Given PayPing answers a paymentCode and its own (shortened) url
    mock.post("/v3/pay").respond(json=PAY_OK)
    # When a payment is created
    result = _create(adapter)
    # Then the token is the paymentCode and the redirect ignores the answer's url
    assert result.token == CODE
    assert (result.redirect.method, result.redirect.url) == ("GET", f"{BASE}/v3/pay/start/{CODE}")
    assert result.redirect.fields == {}


def test_create_refuses_rials_that_are_not_whole_toman_without_calling_payping(adapter, mock):
    # Given any answer
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When 10,005 rials are asked for
    error = _raises(lambda: _create(adapter, amount_irr=10_005))
    # Then it is refused here: toman cannot carry 5 rials
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "amount_not_whole_toman")
    assert not route.called


def test_create_refuses_less_than_100_toman(adapter, mock):
    # Given any answer
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When 990 rials (99 toman) are asked for
    error = _raises(lambda: _create(adapter, amount_irr=990))
    # Then it is too small for PayPing
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "amount_too_small")
    assert not route.called


def test_create_accepts_exactly_100_toman(adapter, mock):
    # Given PayPing accepts the payment
    route = mock.post("/v3/pay").respond(json=PAY_OK)
    # When 1,000 rials are asked for
    _create(adapter, amount_irr=1_000)
    # Then 100 toman are sent
    assert json.loads(route.calls.last.request.content)["amount"] == 100


@pytest.mark.parametrize("amount", [0, -10, True, 10.0])
def test_create_refuses_an_amount_that_is_not_a_positive_integer(adapter, amount):
    # Given a bad amount / When a payment is created / Then it is a business error
    assert _raises(lambda: _create(adapter, amount_irr=amount)).code == "invalid_amount"


@pytest.mark.parametrize(
    ("code", "kind", "ours"),
    [
        (102, ErrorKind.CONFIG, "no_active_gateway"),
        (105, ErrorKind.CONFIG, "invalid_return_url"),
        (101, ErrorKind.BUSINESS, "invalid_request"),
        (113, ErrorKind.BUSINESS, "invalid_mobile"),
        (106, ErrorKind.TRANSIENT, "gateway_internal_error"),
        (999, ErrorKind.TRANSIENT, "code_999"),
    ],
)
def test_create_maps_the_problem_body_code(adapter, mock, code, kind, ours):
    # Given PayPing refuses with an RFC 7807 body
    mock.post("/v3/pay").respond(400, json=problem(400, code, instance="/v3/pay"))
    # When a payment is created
    error = _raises(lambda: _create(adapter))
    # Then metaData.code decides the kind
    assert (error.kind, error.code) == (kind, ours)


@pytest.mark.parametrize("status", [401, 403])
def test_create_unauthorized_is_a_config_error(adapter, mock, status):
    # Given the token is wrong or lacks the pay:write scope (empty body)
    mock.post("/v3/pay").respond(status)
    # When a payment is created / Then it is a config error
    error = _raises(lambda: _create(adapter))
    assert (error.kind, error.code) == (ErrorKind.CONFIG, f"http_{status}")


def test_create_200_without_a_payment_code_is_transient(adapter, mock):
    # Given a 200 that lacks paymentCode
    mock.post("/v3/pay").respond(json={"url": "x"})
    # When a payment is created / Then the answer is garbage: transient
    error = _raises(lambda: _create(adapter))
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_create_html_502_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/v3/pay").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created / Then the error is transient
    error = _raises(lambda: _create(adapter))
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_create_connection_refused_is_transient(adapter, mock):
    # Given PayPing cannot be reached
    mock.post("/v3/pay").mock(side_effect=httpx.ConnectError("refused"))
    # When a payment is created / Then the error is transient
    assert _raises(lambda: _create(adapter)).kind is ErrorKind.TRANSIENT


def test_create_html_404_is_a_config_error(adapter, mock):
    # Given the base URL points at something that is not PayPing
    mock.post("/v3/pay").respond(404, text="<html>Not Found</html>")
    # When a payment is created / Then our configuration is wrong
    assert _raises(lambda: _create(adapter)).kind is ErrorKind.CONFIG


# -- the buyer's return -------------------------------------------------------------------------


def test_v3_post_return_of_a_payment_is_read(adapter):
    # Given the v3 return posted as a form
    form = v3_return()
    # When it is parsed
    cb = adapter.parse_callback({}, form)
    # Then the token, refs, order id and claimed amount (in rials) come out
    assert cb.token == CODE
    assert (cb.claimed_success, cb.cancelled) == (True, False)
    assert cb.refs == {"paymentRefId": "10012"}
    assert cb.order_id == "pay_01"
    assert cb.claimed_amount_irr == 10_000


def test_v3_get_return_is_read_from_the_query(adapter):
    # Given the same return as a GET query
    cb = adapter.parse_callback(v3_return(), {})
    # Then it reads the same
    assert (cb.token, cb.refs, cb.claimed_amount_irr) == (CODE, REFS, 10_000)


def test_v3_return_with_status_0_is_a_cancel_without_a_reference(adapter):
    # Given the buyer cancelled at the bank: status 0 and no paymentRefId (amyavari failedCallback)
    form = v3_return(status="0", error_code="127", paymentRefId=None, cardNumber=None)
    # When it is parsed
    cb = adapter.parse_callback({}, form)
    # Then it claims a cancel and carries no reference
    assert (cb.claimed_success, cb.cancelled, cb.refs) == (False, True, {})


def test_v3_return_with_numeric_json_values_is_read(adapter):
    # Given data whose paymentRefId and amount are JSON numbers
    cb = adapter.parse_callback({}, v3_return(paymentRefId=10012, amount="1000"))
    # Then they are read as text and rials
    assert (cb.refs, cb.claimed_amount_irr) == (REFS, 10_000)


@pytest.mark.parametrize(
    "form",
    [
        {"status": "1", "errorCode": "", "data": "{not json"},
        {"status": "1", "errorCode": "", "data": "[1, 2]"},
        {"status": "1", "errorCode": "", "data": json.dumps({"paymentRefId": "1"})},
        {"status": "1", "errorCode": "", "data": json.dumps({"paymentCode": "../../admin"})},
        {"status": "2", "errorCode": "", "data": json.dumps({"paymentCode": CODE})},
        {"errorCode": "", "data": json.dumps({"paymentCode": CODE})},
        {"status": "1", "errorCode": "x", "data": json.dumps({"paymentCode": CODE})},
        {"status": "1", "data": json.dumps({"paymentCode": CODE, "amount": "ten"})},
        {"status": "1", "data": json.dumps({"paymentCode": CODE, "paymentRefId": "1 OR 1=1"})},
        {"status": "1", "data": json.dumps({"paymentCode": CODE, "paymentRefId": "ABC-12"})},
        {"status": "1", "data": json.dumps({"paymentCode": CODE, "paymentRefId": 10012.5})},
        {"status": "1", "data": json.dumps({"paymentCode": CODE, "paymentRefId": 2**63})},
        {"unrelated": "1"},
        {},
    ],
)
def test_malformed_returns_are_business_errors(adapter, form):
    # Given a return that is not one of PayPing's / When it is parsed / Then it is refused
    error = _raises(lambda: adapter.parse_callback({}, form))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "malformed_callback")


def test_a_return_whose_query_and_form_disagree_is_malformed(adapter):
    # Given a form saying paid and a query saying cancelled
    error = _raises(lambda: adapter.parse_callback({"status": "0"}, v3_return()))
    # Then it is refused
    assert error.code == "malformed_callback"


def test_legacy_return_of_a_payment_is_read(adapter):
    # Given the older form (Simple-PHP-Payment-V3): PaymentRefId and PaymentCode
    form = {"PaymentRefId": "10012", "PaymentCode": CODE, "ClientRefId": "pay_01"}
    # When it is parsed
    cb = adapter.parse_callback({}, form)
    # Then it claims success with its reference
    assert (cb.token, cb.claimed_success, cb.cancelled) == (CODE, True, False)
    assert (cb.refs, cb.order_id) == (REFS, "pay_01")


def test_legacy_return_with_status_minus_1_is_a_cancel(adapter):
    # Given the older form for a buyer who did not pay
    cb = adapter.parse_callback({}, {"Status": "-1", "PaymentCode": CODE})
    # Then it claims no payment and carries no reference
    assert (cb.claimed_success, cb.cancelled, cb.refs) == (False, True, {})


def test_legacy_return_without_payment_code_is_malformed(adapter):
    # Given the older form without PaymentCode: nothing says which payment it is
    error = _raises(lambda: adapter.parse_callback({}, {"PaymentRefId": "10012"}))
    # Then it is refused
    assert error.code == "malformed_callback"


# -- verify -------------------------------------------------------------------------------------


def test_verify_sends_reference_code_and_our_amount_in_toman(adapter, mock):
    # Given PayPing verifies the payment
    route = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When 10,000 rials are verified
    adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then the documented body goes out with the bearer token
    request = route.calls.last.request
    assert json.loads(request.content) == {"paymentRefId": 10012, "paymentCode": CODE, "amount": 1000}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_verify_200_is_verified_in_rials_with_a_masked_card(adapter, mock):
    # Given PayPing verifies the payment
    mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When it is verified
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then it is verified, amount back in rials, reference = paymentRefId, card masked
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == 10_000
    assert result.reference == "10012"
    assert result.card_mask == "123456******1234"
    assert result.paid_at == "2025-12-10 12:10:08"


def test_verify_masks_a_full_card_number(adapter, mock):
    # Given an answer carrying a full card number
    mock.post("/v3/pay/verify").respond(json={**VERIFY_OK, "cardNumber": "6037991234567890"})
    # When it is verified / Then only the first 6 and last 4 digits remain
    assert adapter.verify(token=CODE, amount_irr=10_000, refs=REFS).card_mask == "603799******7890"


def test_verify_reports_the_answers_amount_for_the_caller_to_compare(adapter, mock):
    # Given PayPing reports 900 toman paid
    mock.post("/v3/pay/verify").respond(json={**VERIFY_OK, "amount": 900})
    # When 10,000 rials are verified / Then 9,000 rials are reported
    assert adapter.verify(token=CODE, amount_irr=10_000, refs=REFS).amount_irr == 9_000


def test_verify_200_for_another_payment_code_is_refused(adapter, mock):
    # Given an answer about another payment
    mock.post("/v3/pay/verify").respond(json={**VERIFY_OK, "code": "0000aaaa"})
    # When it is verified / Then it is not taken as ours
    assert _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)).code == (
        "payment_code_mismatch"
    )


def test_repeated_verify_409_110_is_already_verified_with_the_amount_we_sent(adapter, mock):
    # Given PayPing verified this payment before (plugin/amyavari: HTTP 409, metaData.code 110)
    mock.post("/v3/pay/verify").respond(409, json=problem(409, 110, message="پرداخت قبلا انجام شده است"))
    # When it is verified again
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then it is already verified, for our amount, under the reference we sent
    assert result.outcome is VerifyOutcome.ALREADY_VERIFIED
    assert (result.amount_irr, result.reference) == (10_000, "10012")
    assert result.paid


def test_repeated_verify_409_110_reads_the_details_when_given(adapter, mock):
    # Given the 409/110 body carries the payment's details in metaData.message (amyavari)
    details = {"Amount": 1000, "CardNumber": "123456******1234", "PaymentRefId": 10012, "Code": CODE}
    mock.post("/v3/pay/verify").respond(409, json=problem(409, 110, message=details))
    # When it is verified again
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then amount (in rials), reference and card come from the details
    assert (result.amount_irr, result.reference, result.card_mask) == (10_000, "10012", "123456******1234")


def test_repeated_verify_409_123_is_already_verified(adapter, mock):
    # Given code 123 "transaction already verified"
    mock.post("/v3/pay/verify").respond(409, json=problem(409, 123))
    # When it is verified / Then it is already verified
    assert adapter.verify(token=CODE, amount_irr=10_000, refs=REFS).outcome is VerifyOutcome.ALREADY_VERIFIED


def test_verify_121_is_not_yet_paid_so_a_forged_return_decides_nothing(adapter, mock):
    # Given PayPing's 121 "verify needs a successful payment", its answer while the buyer is
    # still on its page (a forged or early return may ask then)
    mock.post("/v3/pay/verify").respond(400, json=problem(400, 121))
    # When it is verified / Then the buyer may still pay: pending, not "not paid"
    assert adapter.verify(token=CODE, amount_irr=10_000, refs=REFS).outcome is VerifyOutcome.PENDING


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (121, VerifyOutcome.PENDING),
        (127, VerifyOutcome.CANCELLED),
        (137, VerifyOutcome.AMOUNT_MISMATCH),
    ],
)
def test_verify_outcome_codes(adapter, mock, code, outcome):
    # Given PayPing refuses with a code that decides the payment
    mock.post("/v3/pay/verify").respond(400, json=problem(400, code))
    # When it is verified
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then that is the outcome, with no amount
    assert (result.outcome, result.amount_irr) == (outcome, None)


@pytest.mark.parametrize(
    ("status", "code", "kind", "ours"),
    [
        (400, 155, ErrorKind.TRANSIENT, "verify_in_progress"),
        (400, 156, ErrorKind.TRANSIENT, "reverse_in_progress"),
        (400, 102, ErrorKind.CONFIG, "no_active_gateway"),
        (400, 105, ErrorKind.CONFIG, "invalid_return_url"),
        (409, 133, ErrorKind.BUSINESS, "invalid_payment"),
        (400, 122, ErrorKind.BUSINESS, "payment_not_found"),
        (400, 124, ErrorKind.CONFIG, "incompatible_version"),
        (400, 4242, ErrorKind.TRANSIENT, "code_4242"),
        (500, 106, ErrorKind.TRANSIENT, "gateway_internal_error"),
    ],
)
def test_verify_error_codes(adapter, mock, status, code, kind, ours):
    # Given PayPing answers a problem body with this code (and no report we may read)
    mock.post("/v3/pay/verify").respond(status, json=problem(status, code))
    mock.get(f"/v1/report/{CODE}").respond(403)
    # When the payment is verified / Then metaData.code decides the error
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS))
    assert (error.kind, error.code) == (kind, ours)


@pytest.mark.parametrize("status", [401, 403])
def test_verify_unauthorized_is_a_config_error(adapter, mock, status):
    # Given a revoked token / When verified / Then config error
    mock.post("/v3/pay/verify").respond(status, json=problem(status, 0))
    assert _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)).kind is ErrorKind.CONFIG


def test_verify_html_502_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/v3/pay/verify").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When verified / Then transient: PayPing documents 502 on verify as "in progress, call again"
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS))
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "verify_in_progress")


def test_verify_200_with_html_is_transient(adapter, mock):
    # Given a 200 that is not JSON
    mock.post("/v3/pay/verify").respond(200, text="<html>ok</html>")
    # When verified / Then transient: nothing to decide on
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS))
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_verify_timeout_is_transient(adapter, mock):
    # Given PayPing does not answer in time
    mock.post("/v3/pay/verify").mock(side_effect=httpx.ReadTimeout("timed out"))
    # When verified / Then transient
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS))
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_verify_refuses_rials_that_are_not_whole_toman(adapter, mock):
    # Given any answer
    route = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When 10,001 rials are verified / Then it is refused before any call
    assert _raises(lambda: adapter.verify(token=CODE, amount_irr=10_001, refs=REFS)).code == (
        "amount_not_whole_toman"
    )
    assert not route.called


def test_verify_refuses_a_forged_token_without_calling_payping(adapter, mock):
    # Given any answer
    route = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When a token with a path in it is verified
    error = _raises(lambda: adapter.verify(token="../v3/pay", amount_irr=10_000, refs=REFS))
    # Then it is a business error and PayPing was not asked
    assert error.kind is ErrorKind.BUSINESS
    assert not route.called


# -- inquire, reverse -----------------------------------------------------------------------------


def test_reverse_sends_reference_and_code_and_confirms(adapter, mock):
    # Given PayPing reverses the payment
    route = mock.post("/v3/pay/reverse").respond(json=REVERSE_OK)
    # When it is reversed
    assert adapter.reverse(token=CODE, amount_irr=10_000, refs=REFS) is True
    # Then the documented body went out with the bearer token
    request = route.calls.last.request
    assert json.loads(request.content) == {"paymentRefId": 10012, "paymentCode": CODE}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("code", "ours"),
    [(134, "not_reversible"), (135, "reverse_window_over"), (136, "reverse_window_over")],
)
def test_reverse_refusals_are_business_errors(adapter, mock, code, ours):
    # Given PayPing refuses the reverse
    mock.post("/v3/pay/reverse").respond(400, json=problem(400, code, instance="/v3/pay/reverse"))
    # When reversed / Then business error
    error = _raises(lambda: adapter.reverse(token=CODE, amount_irr=10_000, refs=REFS))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, ours)


def test_reverse_in_progress_is_transient(adapter, mock):
    # Given a reverse already running (156)
    mock.post("/v3/pay/reverse").respond(400, json=problem(400, 156, instance="/v3/pay/reverse"))
    # When reversed / Then retry later
    assert _raises(lambda: adapter.reverse(token=CODE, amount_irr=10_000, refs=REFS)).kind is (
        ErrorKind.TRANSIENT
    )


# -- published v3 facts: int64 paymentRefId, verify in progress, the report ---------------------
# reference/payping-v3-facts.md: VerifyModel and reverse take `paymentRefId` integer int64; verify
# answering 202 or 502 means "still in progress, call again"; GET /v1/report/{code} gives the refId
# of a payment whose return never came (PaymentStatus 5: back from the bank, waiting for verify).


def report(**fields: object) -> dict:
    """GET /v1/report/{code}: a payment back from the bank, waiting for our verify."""
    answer: dict = {
        "amount": 1000,
        "reqDate": "2025-12-10T08:35:00Z",
        "payDate": "2025-12-10T08:40:08Z",
        "isPaid": False,
        "clientRefId": "pay_01",
        "refId": 10012,
        "wage": 10,
        "shaparakWage": 0,
        "paypingVat": 1,
        "ipgName": "sep",
        "isRefund": False,
        "refundStatus": 0,
        "PaymentStatus": 5,
    }
    answer.update(fields)
    return {k: v for k, v in answer.items() if v is not None}


def test_verify_sends_a_stored_text_reference_as_an_int64(adapter, mock):
    # Given the reference kept from the buyer's return, as text
    route = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When verified
    adapter.verify(token=CODE, amount_irr=10_000, refs={"paymentRefId": "9223372036854775807"})
    # Then paymentRefId goes out as a JSON integer, as VerifyModel publishes it
    sent = json.loads(route.calls.last.request.content)["paymentRefId"]
    assert sent == 9223372036854775807
    assert isinstance(sent, int)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(202),
        httpx.Response(202, json={}),
        httpx.Response(202, json=problem(202, 155)),
        httpx.Response(502, json=problem(502, 101)),
        httpx.Response(502, json={}),
    ],
    ids=["202-empty", "202-json", "202-problem", "502-problem-101", "502-json"],
)
def test_verify_202_or_502_is_in_progress_and_retried(adapter, mock, answer):
    # Given PayPing answers "verification still in progress"
    mock.post("/v3/pay/verify").mock(return_value=answer)
    # When verified
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS))
    # Then it is transient: call verify again, never a configuration or business error
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "verify_in_progress")


@pytest.mark.parametrize("refs", [None, {}, {"paymentRefId": ""}])
def test_verify_without_a_return_takes_the_reference_from_the_report(adapter, mock, refs):
    # Given the buyer's return never came, and the report says the payment waits for our verify
    reported = mock.get(f"/v1/report/{CODE}").respond(json=report())
    verified = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When verified
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=refs)
    # Then the report's refId is verified (an int64), with the bearer token on both calls
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.reference == "10012"
    assert json.loads(verified.calls.last.request.content) == {
        "paymentRefId": 10012, "paymentCode": CODE, "amount": 1000,
    }  # fmt: skip
    assert reported.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_verify_reads_the_report_whatever_the_key_case(adapter, mock):
    # Given a report in camelCase with its refId as text
    mock.get(f"/v1/report/{CODE}").respond(json=report(PaymentStatus=None, paymentStatus=5, refId="10012"))
    verified = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When verified / Then the refId is used
    adapter.verify(token=CODE, amount_irr=10_000, refs={})
    assert json.loads(verified.calls.last.request.content)["paymentRefId"] == 10012


def test_verify_of_a_payment_verified_before_takes_the_reference_from_the_report(adapter, mock):
    # Given our first verify succeeded but its answer was lost: the report says isPaid
    mock.get(f"/v1/report/{CODE}").respond(json=report(isPaid=True, PaymentStatus=None))
    mock.post("/v3/pay/verify").respond(409, json=problem(409, 110))
    # When verified / Then it is already verified
    assert adapter.verify(token=CODE, amount_irr=10_000).outcome is VerifyOutcome.ALREADY_VERIFIED


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json=report(refId=None, PaymentStatus=1, payDate=None)),
        httpx.Response(200, json=report(refId=0, PaymentStatus=1)),
        httpx.Response(200, json=report(PaymentStatus=7)),
        httpx.Response(200, json=report(refId="1 OR 1=1")),
        httpx.Response(400, json=problem(400, 122, instance="/v1/report")),
        httpx.Response(403),
    ],
    ids=["not-paid", "ref-0", "other-status", "bad-ref", "not-found", "no-pay-read"],
)
def test_verify_without_a_reference_the_report_cannot_give_is_missing_reference(adapter, mock, answer):
    # Given no return, and a report without a payment waiting for verify (or none we may read)
    mock.get(f"/v1/report/{CODE}").mock(return_value=answer)
    verified = mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When verified
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000))
    # Then there is nothing to verify with, and verify is not called
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "missing_reference")
    assert not verified.called


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text=HTML_502),
        httpx.Response(500, json=problem(500, 106)),
        httpx.Response(200, json=[1, 2]),
    ],
    ids=["html-502", "500-106", "200-not-an-object"],
)
def test_verify_without_a_reference_while_the_report_is_down_is_transient(adapter, mock, answer):
    # Given no return and PayPing's report failing
    mock.get(f"/v1/report/{CODE}").mock(return_value=answer)
    # When verified / Then try again later: the payment may still be verified in its window
    assert _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000)).kind is ErrorKind.TRANSIENT


def test_verify_with_a_planted_reference_falls_back_to_the_reports(adapter, mock):
    # Given a forged return stored a paymentRefId that is not the payment's (PayPing: 133)
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["paymentRefId"] == 42:
            return httpx.Response(409, json=problem(409, 133))
        return httpx.Response(200, json=VERIFY_OK)

    verified = mock.post("/v3/pay/verify").mock(side_effect=answer)
    mock.get(f"/v1/report/{CODE}").respond(json=report())
    # When verified with the planted reference
    result = adapter.verify(token=CODE, amount_irr=10_000, refs={"paymentRefId": "42"})
    # Then the report's refId verifies the payment: a planted reference cannot lose it
    assert (result.outcome, result.reference) == (VerifyOutcome.VERIFIED, "10012")
    assert verified.call_count == 2


def test_verify_with_a_wrong_reference_and_no_other_in_the_report_stays_refused(adapter, mock):
    # Given a reference PayPing refuses (133) and a report with the same refId
    verified = mock.post("/v3/pay/verify").respond(409, json=problem(409, 133))
    mock.get(f"/v1/report/{CODE}").respond(json=report(refId=42))
    # When verified / Then the refusal stands, and verify is not asked twice with the same refId
    error = _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs={"paymentRefId": "42"}))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "invalid_payment")
    assert verified.call_count == 1


def test_reverse_with_a_planted_reference_falls_back_to_the_reports(adapter, mock):
    # Given a stored paymentRefId that PayPing says is not the payment's (133)
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["paymentRefId"] == 42:
            return httpx.Response(409, json=problem(409, 133, instance="/v3/pay/reverse"))
        return httpx.Response(200, json=REVERSE_OK)

    reversed_ = mock.post("/v3/pay/reverse").mock(side_effect=answer)
    mock.get(f"/v1/report/{CODE}").respond(json=report(isPaid=True))
    # When reversed / Then the report's refId for this paymentCode is reversed
    assert adapter.reverse(token=CODE, amount_irr=10_000, refs={"paymentRefId": "42"}) is True
    assert json.loads(reversed_.calls.last.request.content) == {"paymentRefId": 10012, "paymentCode": CODE}


def test_reverse_without_a_return_takes_the_reference_from_the_report(adapter, mock):
    # Given no return, a report with the payment's refId, and PayPing reversing it
    mock.get(f"/v1/report/{CODE}").respond(json=report(isPaid=True))
    route = mock.post("/v3/pay/reverse").respond(json=REVERSE_OK)
    # When reversed / Then the report's refId is sent as an int64
    assert adapter.reverse(token=CODE, amount_irr=10_000) is True
    assert json.loads(route.calls.last.request.content) == {"paymentRefId": 10012, "paymentCode": CODE}


def test_inquire_reports_a_payment_waiting_for_verify_as_pending_with_its_amount(adapter, mock):
    # Given the report: back from the bank, not verified
    mock.get(f"/v1/report/{CODE}").respond(json=report())
    # When inquired
    result = adapter.inquire(token=CODE, amount_irr=10_000)
    # Then it is pending (verify it), with the amount in rials and the refId
    assert (result.outcome, result.amount_irr, result.reference) == (VerifyOutcome.PENDING, 10_000, "10012")


def test_inquire_reports_a_verified_payment_as_already_verified(adapter, mock):
    # Given the report says the payment is verified
    mock.get(f"/v1/report/{CODE}").respond(json=report(isPaid=True, PaymentStatus=None))
    # When inquired / Then already verified
    assert adapter.inquire(token=CODE, amount_irr=10_000).outcome is VerifyOutcome.ALREADY_VERIFIED


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json=problem(400, 102, message=f"token {TOKEN} has no gateway")),
        httpx.Response(401, text=f"Bearer {TOKEN} rejected"),
        httpx.Response(502, text=f"{HTML_502}{TOKEN}"),
        httpx.Response(400, json=problem(400, 4242, message=TOKEN)),
    ],
)
def test_the_token_is_never_in_an_error(adapter, mock, answer):
    # Given answers that echo the bearer token
    mock.post("/v3/pay").mock(return_value=answer)
    mock.post("/v3/pay/verify").mock(return_value=answer)
    # When create and verify fail
    errors = [
        _raises(lambda: _create(adapter)),
        _raises(lambda: adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)),
    ]
    # Then neither the message nor the repr holds the token
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)


def test_a_non_ascii_token_is_a_config_error_that_does_not_show_it():
    # Given a token pasted with Persian characters
    config = GatewayConfig(name="payping", protocol="payping", base_url=BASE, merchant_id="توکن-سری")
    with httpx.Client() as client:
        adapter = PayPingAdapter(config, client)
        # When a payment is created
        error = _raises(lambda: _create(adapter))
    # Then it is a config error without the token
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "invalid_token")
    assert "توکن" not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_a_return_whose_data_is_nested_100000_levels_deep_is_malformed_not_a_crash(adapter):
    # Given a buyer's browser posting a `data` field nested 100,000 levels deep
    form = {"status": "1", "errorCode": "", "data": "[" * 100_000 + "]" * 100_000}
    # When it is parsed / Then it is refused like any malformed return (not a RecursionError)
    error = _raises(lambda: adapter.parse_callback({}, form))
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "malformed_callback")


# ---- the card's hash (the refund payer page checks the payer's card against it) -------------------


def test_verify_keeps_the_card_hash_as_payping_gives_it(adapter, mock):
    # Given PayPing's verify answer carries cardHashPan
    mock.post("/v3/pay/verify").respond(json=VERIFY_OK)
    # When it is verified
    result = adapter.verify(token=CODE, amount_irr=10_000, refs=REFS)
    # Then the hash is kept exactly as given, and never shown by the result's repr
    assert result.card_hash == VERIFY_OK["cardHashPan"]
    assert result.card_hash not in repr(result)


def test_verify_drops_a_card_hash_that_is_not_a_sha256(adapter, mock):
    # Given the older published sample's cardHashPan ("13464dasgfasdvad": no SHA-256 in hex)
    mock.post("/v3/pay/verify").respond(json={**VERIFY_OK, "cardHashPan": "13464dasgfasdvad"})
    # When it is verified / Then no hash is kept (the payer page keeps the masked-card rule)
    assert adapter.verify(token=CODE, amount_irr=10_000, refs=REFS).card_hash is None


def test_the_returns_card_hash_is_never_taken(adapter):
    # Given a buyer's return claiming a card hash (a browser's claim, not the gateway's answer)
    # When it is parsed / Then nothing of it is kept: only verify's answer names the card
    parsed = adapter.parse_callback({}, v3_return())
    assert "cardHashPan" not in parsed.refs
    assert "13464dasgfasdvad" not in repr(parsed)
