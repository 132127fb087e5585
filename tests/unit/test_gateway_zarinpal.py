"""Zarinpal v4 adapter against recorded exchanges.

The exchanges reproduce Zarinpal's published documents (zarinpal.com/docs/paymentGateway:
connectToGateway for request/verify samples and the StartPay URL, errorList for the codes and the
`{data: [], errors: {code, message, validations}}` refusal shape, otherMethods/Inquiry for the
statuses, moreFeatures/reverse for the reverse answer and its -60/-62 errors) as also used by
shetabit/multipay (src/Drivers/Zarinpal/Strategies/Normal.php) and ali-zahedi/az-iranian-bank-gateways
(azbankgateways/v3/providers/zarinpal.py, which sends `currency: "IRR"`); the GET return with
Authority and Status=OK|NOK is shetabit/payment issue #81; -51 on a cancelled payment is
az-iranian-bank-gateways issue #134. See GATEWAYS.md section 1.2. Failure exchanges (HTML 502 page,
timeout) reproduce what a reverse proxy in front of a gateway answers.
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
from paylink.payments.gateways.zarinpal import ZarinpalAdapter

BASE = "https://payment.zarinpal.com"
API = "/pg/v4/payment"
MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
AUTHORITY = "A0000000000000000000000000000wwOGYpd"

REQUEST_OK = {
    "data": {
        "code": 100,
        "message": "Success",
        "authority": AUTHORITY,
        "fee_type": "Merchant",
        "fee": 100,
    },
    "errors": [],
}
VERIFY_OK = {
    "data": {
        "code": 100,
        "message": "Verified",
        "card_hash": "1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69",
        "card_pan": "502229******5995",
        "ref_id": 201,
        "fee_type": "Merchant",
        "fee": 0,
    },
    "errors": [],
}
VERIFY_AGAIN = {"data": {"code": 101, "message": "Verified", "ref_id": 201}, "errors": []}
REVERSE_OK = {"data": {"code": 100, "message": "Reversed"}, "errors": []}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _refusal(code: int, message: str = "error", validations: list | None = None) -> dict:
    return {"data": [], "errors": {"code": code, "message": message, "validations": validations or []}}


def _inquiry(status: str) -> dict:
    return {"data": {"code": 100, "message": "Success", "status": status}, "errors": []}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"{BASE}{API}", assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[ZarinpalAdapter]:
    config = GatewayConfig(
        name="zarinpal", protocol="zarinpal", base_url=BASE, merchant_id=MERCHANT, timeout_seconds=3.0
    )
    with httpx.Client() as client:
        yield ZarinpalAdapter(config, client)


def _create(adapter: ZarinpalAdapter, mobile: str | None = "09121234567", amount_irr: int = 11_000):
    return adapter.create(
        order_id="pay_7Kq2",
        amount_irr=amount_irr,
        callback_url="https://pay.example/callback/zarinpal",
        description="Transaction description.",
        mobile=mobile,
    )


def _raised(call) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


# -- registration and capabilities ----------------------------------------------------------


def test_zarinpal_is_a_registered_protocol():
    # Given a config with protocol "zarinpal"
    config = GatewayConfig(name="zp", protocol="zarinpal", base_url=BASE, merchant_id=MERCHANT)
    # When the adapter is built
    with httpx.Client() as client:
        built = build_adapter(config, client)
    # Then it is the Zarinpal adapter
    assert PROTOCOLS["zarinpal"] is ZarinpalAdapter
    assert isinstance(built, ZarinpalAdapter)


def test_capabilities_describe_zarinpal_v4(adapter):
    # Given the adapter
    # When its capabilities are read
    caps = adapter.capabilities
    # Then they say rials, GET both ways, 101 on a second verify, inquiry and a 30-minute reverse
    assert caps.unit == "IRR"
    assert caps.min_amount_irr == 1_000
    assert caps.callback_methods == frozenset({"GET"})
    assert caps.redirect_method == "GET"
    assert caps.repeated_verify == "already_verified"
    assert caps.supports_inquiry is True
    assert caps.reverse_window == timedelta(minutes=30)
    assert caps.token_ttl == timedelta(minutes=15)
    assert caps.verify_window == timedelta(minutes=30)


# -- create ---------------------------------------------------------------------------------


def test_create_sends_the_documented_body_with_currency_irr(adapter, mock):
    # Given Zarinpal accepts the request
    route = mock.post("/request.json").respond(json=REQUEST_OK)
    # When a payment is created
    _create(adapter)
    # Then the body holds Zarinpal's documented fields, amount in rials and currency IRR explicitly
    assert json.loads(route.calls.last.request.content) == {
        "merchant_id": MERCHANT,
        "amount": 11_000,
        "currency": "IRR",
        "description": "Transaction description.",
        "callback_url": "https://pay.example/callback/zarinpal",
        "metadata": {"mobile": "09121234567", "order_id": "pay_7Kq2"},
    }


def test_create_leaves_mobile_out_of_metadata_when_none_is_given(adapter, mock):
    # Given Zarinpal accepts the request
    route = mock.post("/request.json").respond(json=REQUEST_OK)
    # When a payment is created without a mobile number
    _create(adapter, mobile=None)
    # Then metadata holds only the order id
    assert json.loads(route.calls.last.request.content)["metadata"] == {"order_id": "pay_7Kq2"}


def test_create_uses_the_configured_timeout(adapter, mock):
    # Given Zarinpal accepts the request
    route = mock.post("/request.json").respond(json=REQUEST_OK)
    # When a payment is created
    _create(adapter)
    # Then the call carried the config's timeout
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_create_returns_the_authority_as_token(adapter, mock):
    # Given Zarinpal answers code 100 with an authority
    mock.post("/request.json").respond(json=REQUEST_OK)
    # When a payment is created
    result = _create(adapter)
    # Then the token is the authority
    assert result.token == AUTHORITY


def test_create_redirects_with_get_to_startpay_built_from_config_and_token_only(adapter, mock):
    # Given Zarinpal answers with an authority and (hypothetically) a link of its own
    mock.post("/request.json").respond(
        json={"data": {**REQUEST_OK["data"], "link": "https://evil.example/pay"}, "errors": []}
    )
    # When a payment is created
    result = _create(adapter)
    # Then the buyer is sent by GET to {base_url}/pg/StartPay/{authority}, nothing else
    assert result.redirect.method == "GET"
    assert result.redirect.url == f"{BASE}/pg/StartPay/{AUTHORITY}"
    assert result.redirect.fields == {}


@pytest.mark.parametrize(
    "data",
    [
        {"code": 100, "message": "Success"},
        {"code": 100, "message": "Success", "authority": "../../evil"},
        {"code": 100, "message": "Success", "authority": ""},
    ],
    ids=["no-authority", "path-in-authority", "empty-authority"],
)
def test_create_with_success_but_no_usable_authority_is_transient(adapter, mock, data):
    # Given Zarinpal answers 100 without an authority that is safe in a URL path
    mock.post("/request.json").respond(json={"data": data, "errors": []})
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then it is a gateway fault: transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


@pytest.mark.parametrize(
    ("code", "kind", "our_code"),
    [
        (-9, ErrorKind.BUSINESS, "validation_error"),
        (-10, ErrorKind.CONFIG, "terminal_invalid"),
        (-11, ErrorKind.CONFIG, "terminal_inactive"),
        (-12, ErrorKind.TRANSIENT, "too_many_attempts"),
        (-13, ErrorKind.CONFIG, "terminal_limit_reached"),
        (-14, ErrorKind.CONFIG, "callback_domain_mismatch"),
        (-15, ErrorKind.CONFIG, "terminal_suspended"),
        (-16, ErrorKind.CONFIG, "terminal_level_invalid"),
        (-17, ErrorKind.CONFIG, "terminal_level_blue"),
        (-40, ErrorKind.BUSINESS, "invalid_extra_params"),
        (-41, ErrorKind.BUSINESS, "amount_too_large"),
        (-52, ErrorKind.TRANSIENT, "gateway_error"),
        (-99, ErrorKind.TRANSIENT, "code_-99"),
    ],
)
def test_create_maps_each_documented_error_code_to_an_error_kind(adapter, mock, code, kind, our_code):
    # Given Zarinpal refuses the request with a documented error code
    mock.post("/request.json").respond(json=_refusal(code))
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error has the kind and code of that refusal
    assert (error.kind, error.code) == (kind, our_code)


def test_create_refusal_with_http_422_is_read_from_its_json_body(adapter, mock):
    # Given Zarinpal refuses with HTTP 422 and its JSON refusal (-10: IP or merchant_id invalid)
    mock.post("/request.json").respond(422, json=_refusal(-10, "Terminal is not valid."))
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the code in the body decides: a config error
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "terminal_invalid")


def test_create_validation_error_names_the_refused_fields_only(adapter, mock):
    # Given Zarinpal refuses the amount with -9 and a validation message
    body = _refusal(
        -9,
        "The input params invalid, validation error.",
        [{"amount": "The amount must be at least 1000."}],
    )
    mock.post("/request.json").respond(json=body)
    # When a payment of 500 rials is created
    error = _raised(lambda: _create(adapter, amount_irr=500))
    # Then it is a business error naming the field, without the gateway's text
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "validation_error")
    assert "amount" in error.message
    assert "must be at least" not in error.message


def test_error_text_never_contains_the_merchant_id(adapter, mock):
    # Given Zarinpal echoes the merchant id in its message and its validations
    body = _refusal(-10, f"Terminal {MERCHANT} is not valid", [{"merchant_id": MERCHANT}])
    mock.post("/request.json").respond(json=body)
    mock.post("/verify.json").respond(json=_refusal(-11, f"merchant {MERCHANT} inactive"))
    # When a payment is created and another verified
    errors = [
        _raised(lambda: _create(adapter)),
        _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000)),
    ]
    # Then neither str nor repr of any error shows the merchant id
    for error in errors:
        assert MERCHANT not in str(error)
        assert MERCHANT not in repr(error)


def test_create_html_502_page_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/request.json").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_create_html_body_with_status_200_is_transient(adapter, mock):
    # Given the gateway answers 200 with an HTML page instead of JSON
    mock.post("/request.json").respond(200, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_create_html_404_is_a_config_error(adapter, mock):
    # Given the base URL points at something that is not Zarinpal (HTML 404)
    mock.post("/request.json").respond(404, text="<html>Not Found</html>")
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then our configuration is wrong
    assert (error.kind, error.code) == (ErrorKind.CONFIG, "http_404")


def test_create_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post("/request.json").mock(side_effect=httpx.ReadTimeout("timed out"))
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_create_connection_refused_is_transient(adapter, mock):
    # Given the gateway cannot be reached
    mock.post("/request.json").mock(side_effect=httpx.ConnectError("connection refused"))
    # When a payment is created
    error = _raised(lambda: _create(adapter))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "transport")


def test_create_refuses_a_non_positive_amount_without_calling_the_gateway(adapter, mock):
    # Given any gateway answer
    route = mock.post("/request.json").respond(json=REQUEST_OK)
    # When a payment of zero rials is created
    error = _raised(lambda: _create(adapter, amount_irr=0))
    # Then it is a business error and Zarinpal was not asked
    assert error.kind is ErrorKind.BUSINESS
    assert not route.called


# -- callback -------------------------------------------------------------------------------


def test_callback_with_status_ok_claims_success(adapter):
    # Given the buyer returns with Zarinpal's GET query after paying
    # When the callback is parsed
    data = adapter.parse_callback({"Authority": AUTHORITY, "Status": "OK"}, {})
    # Then it claims success for that authority (a hint only)
    assert (data.token, data.claimed_success, data.cancelled) == (AUTHORITY, True, False)


def test_callback_with_status_nok_is_a_cancel_hint(adapter):
    # Given the buyer cancelled (or the card failed) at Zarinpal
    # When the callback is parsed
    data = adapter.parse_callback({"Authority": AUTHORITY, "Status": "NOK"}, {})
    # Then it is a cancel, not a success claim
    assert (data.claimed_success, data.cancelled) == (False, True)


def test_callback_fields_are_accepted_from_a_post_form(adapter):
    # Given the same fields arrive as a POST form
    # When the callback is parsed
    data = adapter.parse_callback({}, {"Authority": AUTHORITY, "Status": "OK"})
    # Then they are read as from the query
    assert (data.token, data.claimed_success) == (AUTHORITY, True)


@pytest.mark.parametrize(
    "query",
    [
        {"Status": "OK"},
        {"Authority": "", "Status": "OK"},
        {"Authority": "A00/../evil", "Status": "OK"},
        {"Authority": AUTHORITY, "Status": "PAID"},
        {"authority": AUTHORITY, "status": "OK"},
    ],
    ids=["no-authority", "empty-authority", "path-authority", "bad-status", "lowercase-names"],
)
def test_callback_malformed_is_a_business_error(adapter, query):
    # Given a malformed return
    # When it is parsed
    error = _raised(lambda: adapter.parse_callback(query, {}))
    # Then it is refused as a business error
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "malformed_callback")


def test_callback_with_query_and_form_disagreeing_is_refused(adapter):
    # Given query and form name different authorities
    # When the callback is parsed
    error = _raised(lambda: adapter.parse_callback({"Authority": AUTHORITY}, {"Authority": "A42"}))
    # Then it is refused
    assert error.kind is ErrorKind.BUSINESS


# -- verify ---------------------------------------------------------------------------------


def test_verify_sends_merchant_authority_and_our_stored_amount(adapter, mock):
    # Given Zarinpal verifies the payment
    route = mock.post("/verify.json").respond(json=VERIFY_OK)
    # When the payment is verified with the stored amount
    adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then the body is {merchant_id, authority, amount}
    assert json.loads(route.calls.last.request.content) == {
        "merchant_id": MERCHANT,
        "authority": AUTHORITY,
        "amount": 11_000,
    }


def test_verify_code_100_is_verified_with_our_amount_ref_id_and_masked_card(adapter, mock):
    # Given Zarinpal answers code 100
    mock.post("/verify.json").respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is verified with our amount, ref_id as reference and the masked card
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == 11_000
    assert result.reference == "201"
    assert result.card_mask == "502229******5995"


def test_verify_masks_a_full_card_number(adapter, mock):
    # Given Zarinpal (hypothetically) answers a full card number
    mock.post("/verify.json").respond(
        json={"data": {**VERIFY_OK["data"], "card_pan": "5022291234565995"}, "errors": []}
    )
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then only the first 6 and last 4 digits are kept
    assert result.card_mask == "502229******5995"


def test_verify_code_100_without_ref_id_is_transient(adapter, mock):
    # Given Zarinpal answers 100 but no ref_id
    mock.post("/verify.json").respond(json={"data": {"code": 100, "message": "Verified"}, "errors": []})
    # When the payment is verified
    error = _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000))
    # Then it is retried later (the next verify answers 101)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_verify_code_101_on_a_repeated_verify_is_already_verified(adapter, mock):
    # Given the payment was verified before: Zarinpal answers 101
    mock.post("/verify.json").respond(json=VERIFY_AGAIN)
    # When the payment is verified again
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is already verified (success, no second credit), with the ref_id given
    assert (result.outcome, result.reference) == (VerifyOutcome.ALREADY_VERIFIED, "201")
    assert result.paid


def test_verify_code_101_without_details_is_already_verified(adapter, mock):
    # Given a bare 101
    mock.post("/verify.json").respond(json={"data": {"code": 101, "message": "Verified"}, "errors": []})
    # When the payment is verified again
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is already verified, with no reference to report
    assert (result.outcome, result.reference, result.amount_irr) == (
        VerifyOutcome.ALREADY_VERIFIED,
        None,
        None,
    )


def test_verify_code_minus_50_is_an_amount_mismatch_outcome(adapter, mock):
    # Given the stored amount differs from what the buyer paid
    mock.post("/verify.json").respond(
        json=_refusal(-50, "Session is not valid, amounts values is not the same.")
    )
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is an amount mismatch, not paid, and no error is raised
    assert result.outcome is VerifyOutcome.AMOUNT_MISMATCH
    assert not result.paid


def test_verify_code_minus_51_after_a_cancel_is_not_paid_and_never_raises(adapter, mock):
    # Given the buyer cancelled: verify answers -51 (HTTP 422, the crash of az issue #134)
    mock.post("/verify.json").respond(
        422, json=_refusal(-51, "Session is not valid, session is not active paid try.")
    )
    inquiry = mock.post("/inquiry.json").respond(json=_inquiry("FAILED"))
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is an outcome: not paid (inquiry confirms FAILED)
    assert result.outcome is VerifyOutcome.NOT_PAID
    assert json.loads(inquiry.calls.last.request.content) == {"merchant_id": MERCHANT, "authority": AUTHORITY}


def test_verify_code_minus_51_while_still_in_bank_is_pending(adapter, mock):
    # Given an early (or forged) return: the buyer is still at the bank page
    mock.post("/verify.json").respond(json=_refusal(-51))
    mock.post("/inquiry.json").respond(json=_inquiry("IN_BANK"))
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then nothing is decided: a payment in progress must not fail
    assert result.outcome is VerifyOutcome.PENDING


def test_verify_code_minus_51_on_a_reversed_payment_is_reversed(adapter, mock):
    # Given the payment was reversed before it was verified
    mock.post("/verify.json").respond(json=_refusal(-51))
    mock.post("/inquiry.json").respond(json=_inquiry("REVERSED"))
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is reversed
    assert result.outcome is VerifyOutcome.REVERSED


def test_verify_code_minus_51_with_inquiry_down_decides_nothing(adapter, mock):
    # Given verify answers -51 (also its answer while the buyer is still paying) and inquiry
    # cannot be reached: a forged "NOK" return must not close a payment in progress
    mock.post("/verify.json").respond(json=_refusal(-51))
    mock.post("/inquiry.json").mock(side_effect=httpx.ConnectError("refused"))
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then it is pending: its real return or reconciliation decides
    assert result.outcome is VerifyOutcome.PENDING


@pytest.mark.parametrize(
    ("code", "our_code"),
    [(-53, "authority_not_ours"), (-54, "invalid_authority"), (-55, "payment_not_found")],
)
def test_verify_refusals_about_the_authority_are_business_errors(adapter, mock, code, our_code):
    # Given Zarinpal refuses the authority (not this merchant's, invalid, not found)
    mock.post("/verify.json").respond(json=_refusal(code))
    # When the payment is verified
    error = _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000))
    # Then it is a business error
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, our_code)


def test_verify_code_minus_10_is_a_config_error(adapter, mock):
    # Given our server IP or merchant_id is not accepted
    mock.post("/verify.json").respond(json=_refusal(-10))
    # When the payment is verified
    error = _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000))
    # Then it is a config error
    assert error.kind is ErrorKind.CONFIG


def test_verify_html_502_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/verify.json").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When the payment is verified
    error = _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "http_502")


def test_verify_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post("/verify.json").mock(side_effect=httpx.ReadTimeout("timed out"))
    # When the payment is verified
    error = _raised(lambda: adapter.verify(token=AUTHORITY, amount_irr=11_000))
    # Then the error is transient
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "timeout")


def test_verify_refuses_a_forged_token_without_calling_the_gateway(adapter, mock):
    # Given any gateway answer
    route = mock.post("/verify.json").respond(json=VERIFY_OK)
    # When a forged token is verified
    error = _raised(lambda: adapter.verify(token="A1/../x", amount_irr=11_000))
    # Then it is a business error and Zarinpal was not asked
    assert error.kind is ErrorKind.BUSINESS
    assert not route.called


# -- inquiry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("VERIFIED", VerifyOutcome.ALREADY_VERIFIED),
        ("PAID", VerifyOutcome.PENDING),
        ("IN_BANK", VerifyOutcome.PENDING),
        ("FAILED", VerifyOutcome.NOT_PAID),
        ("REVERSED", VerifyOutcome.REVERSED),
    ],
)
def test_inquiry_maps_each_documented_status(adapter, mock, status, outcome):
    # Given inquiry reports a documented status
    route = mock.post("/inquiry.json").respond(json=_inquiry(status))
    # When the payment is inquired
    result = adapter.inquire(token=AUTHORITY, amount_irr=11_000)
    # Then the outcome follows the status, asked with {merchant_id, authority}
    assert result.outcome is outcome
    assert json.loads(route.calls.last.request.content) == {"merchant_id": MERCHANT, "authority": AUTHORITY}


def test_inquiry_never_verifies(adapter, mock):
    # Given a paid, unverified payment
    mock.post("/inquiry.json").respond(json=_inquiry("PAID"))
    verify = mock.post("/verify.json").respond(json=VERIFY_OK)
    # When the payment is inquired
    adapter.inquire(token=AUTHORITY, amount_irr=11_000)
    # Then verify was not called: the caller verifies
    assert not verify.called


def test_inquiry_unknown_status_is_transient(adapter, mock):
    # Given inquiry answers a status it never documented
    mock.post("/inquiry.json").respond(json=_inquiry("SETTLED"))
    # When the payment is inquired
    error = _raised(lambda: adapter.inquire(token=AUTHORITY, amount_irr=11_000))
    # Then it is a gateway fault
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_inquiry_invalid_authority_is_a_business_error(adapter, mock):
    # Given Zarinpal does not know the authority
    mock.post("/inquiry.json").respond(json=_refusal(-54, "Invalid authority."))
    # When the payment is inquired
    error = _raised(lambda: adapter.inquire(token=AUTHORITY, amount_irr=11_000))
    # Then it is a business error
    assert (error.kind, error.code) == (ErrorKind.BUSINESS, "invalid_authority")


# -- reverse --------------------------------------------------------------------------------


def test_reverse_code_100_is_true(adapter, mock):
    # Given Zarinpal reverses the payment
    route = mock.post("/reverse.json").respond(json=REVERSE_OK)
    # When the payment is reversed
    reversed_ = adapter.reverse(token=AUTHORITY, amount_irr=11_000)
    # Then it is confirmed, asked with {merchant_id, authority}
    assert reversed_ is True
    assert json.loads(route.calls.last.request.content) == {"merchant_id": MERCHANT, "authority": AUTHORITY}


@pytest.mark.parametrize(
    ("code", "kind", "our_code"),
    [
        (-62, ErrorKind.CONFIG, "ip_not_allowed"),
        (-63, ErrorKind.BUSINESS, "reverse_window_over"),
        (-60, ErrorKind.BUSINESS, "not_reversible"),
        (-61, ErrorKind.BUSINESS, "not_in_success_status"),
    ],
)
def test_reverse_refusals_map_to_error_kinds(adapter, mock, code, kind, our_code):
    # Given Zarinpal refuses the reverse
    mock.post("/reverse.json").respond(json={"data": {}, "errors": {"code": code, "message": "x"}})
    # When the payment is reversed
    error = _raised(lambda: adapter.reverse(token=AUTHORITY, amount_irr=11_000))
    # Then the error has the kind of that refusal
    assert (error.kind, error.code) == (kind, our_code)


def test_reverse_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post("/reverse.json").mock(side_effect=httpx.ConnectTimeout("timed out"))
    # When the payment is reversed
    error = _raised(lambda: adapter.reverse(token=AUTHORITY, amount_irr=11_000))
    # Then the error is transient
    assert error.kind is ErrorKind.TRANSIENT


# ---- the card's hash (the refund payer page checks the payer's card against it) -------------------


def test_verify_keeps_the_card_hash_as_zarinpal_gives_it(adapter, mock):
    # Given Zarinpal's verify answer carries card_hash (SHA-256 of the card, upper-case hex)
    mock.post("/verify.json").respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=AUTHORITY, amount_irr=11_000)
    # Then the hash is kept exactly as given, and never shown by the result's repr
    assert result.card_hash == VERIFY_OK["data"]["card_hash"]
    assert result.card_hash not in repr(result)


def test_verify_101_keeps_the_card_hash_when_given(adapter, mock):
    # Given a repeated verify (101) that still carries the card's hash
    mock.post("/verify.json").respond(json={"data": {**VERIFY_OK["data"], "code": 101}, "errors": []})
    # When it is verified / Then the hash is kept
    assert adapter.verify(token=AUTHORITY, amount_irr=11_000).card_hash == VERIFY_OK["data"]["card_hash"]


def test_verify_drops_a_card_hash_that_is_not_a_sha256(adapter, mock):
    # Given an answer whose card_hash is not 64 hex digits (nothing a typed card could be checked against)
    mock.post("/verify.json").respond(json={"data": {**VERIFY_OK["data"], "card_hash": "abc"}, "errors": []})
    # When it is verified / Then no hash is kept (the payer page keeps the masked-card rule)
    assert adapter.verify(token=AUTHORITY, amount_irr=11_000).card_hash is None
