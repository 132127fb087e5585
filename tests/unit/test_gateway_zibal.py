"""Zibal adapter against recorded exchanges.

The exchanges reproduce Zibal's published IPG documents (help.zibal.ir/IPG/API: request, verify,
inquiry samples and result/status code tables) as also used by shetabit/multipay
(src/Drivers/Zibal/Zibal.php) and ali-zahedi/az-iranian-bank-gateways
(azbankgateways/banks/zibal.py); see GATEWAYS.md section 1.4. Failure exchanges (HTML 502 page,
timeout) reproduce what a reverse proxy in front of a gateway answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx

from paylink.payments.gateways import ErrorKind, GatewayConfig, GatewayError, VerifyOutcome
from paylink.payments.gateways.zibal import ZibalAdapter

BASE = "https://gateway.zibal.ir"
MERCHANT = "merchant-secret-5f2c9a"

REQUEST_OK = {"trackId": 15966442233311, "result": 100, "message": "success"}
VERIFY_OK = {
    "paidAt": "2018-03-25T23:43:01.053000",
    "amount": 1600,
    "result": 100,
    "status": 1,
    "refNumber": 1234567890,
    "description": "Hello World!",
    "cardNumber": "62741****44",
    "orderId": "2211",
    "message": "success",
}
INQUIRY_VERIFIED = {
    "message": "success",
    "result": 100,
    "refNumber": 1234567890,
    "paidAt": "2018-03-25T23:43:01.053000",
    "verifiedAt": "2018-03-25T23:43:29.031000",
    "status": 1,
    "amount": 1600,
    "orderId": "2211",
    "description": "Hello World!",
    "cardNumber": "62741****44",
    "wage": 0,
    "createdAt": "2018-03-25T23:41:26.101000",
}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
TRACK_ID = "15966442233311"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[ZibalAdapter]:
    config = GatewayConfig(
        name="zibal", protocol="zibal", base_url=BASE, merchant_id=MERCHANT, timeout_seconds=3.0
    )
    with httpx.Client() as client:
        yield ZibalAdapter(config, client)


def _create(adapter: ZibalAdapter, mobile: str | None = "09121234567"):
    return adapter.create(
        order_id="2211",
        amount_irr=1600,
        callback_url="https://pay.example/callback/zibal",
        description="Hello World!",
        mobile=mobile,
    )


# -- create ---------------------------------------------------------------------------------


def test_create_sends_the_documented_request_body(adapter, mock):
    # Given Zibal accepts the request
    route = mock.post("/v1/request").respond(json=REQUEST_OK)
    # When a payment is created
    _create(adapter)
    # Then the body holds exactly Zibal's documented fields, amount in rials
    assert json.loads(route.calls.last.request.content) == {
        "merchant": MERCHANT,
        "amount": 1600,
        "callbackUrl": "https://pay.example/callback/zibal",
        "description": "Hello World!",
        "orderId": "2211",
        "mobile": "09121234567",
    }


def test_create_leaves_out_mobile_when_none_is_given(adapter, mock):
    # Given Zibal accepts the request
    route = mock.post("/v1/request").respond(json=REQUEST_OK)
    # When a payment is created without a mobile number
    _create(adapter, mobile=None)
    # Then no mobile field is sent
    assert "mobile" not in json.loads(route.calls.last.request.content)


def test_create_uses_the_configured_timeout(adapter, mock):
    # Given Zibal accepts the request
    route = mock.post("/v1/request").respond(json=REQUEST_OK)
    # When a payment is created
    _create(adapter)
    # Then the call carried the config's timeout
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_create_returns_the_track_id_as_token(adapter, mock):
    # Given Zibal answers result 100 with a trackId
    mock.post("/v1/request").respond(json=REQUEST_OK)
    # When a payment is created
    result = _create(adapter)
    # Then the token is the trackId, as text
    assert result.token == TRACK_ID


def test_create_redirects_with_get_to_the_start_page_built_from_config(adapter, mock):
    # Given Zibal answers with a trackId and (hypothetically) a URL of its own
    mock.post("/v1/request").respond(json={**REQUEST_OK, "payLink": "https://evil.example/start"})
    # When a payment is created
    result = _create(adapter)
    # Then the buyer is sent by GET to {base_url}/start/{trackId}, nothing else
    assert result.redirect.method == "GET"
    assert result.redirect.url == f"{BASE}/start/{TRACK_ID}"
    assert result.redirect.fields == {}


def test_create_with_success_but_no_track_id_is_transient(adapter, mock):
    # Given Zibal answers 100 without a trackId
    mock.post("/v1/request").respond(json={"result": 100, "message": "success"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then it is a gateway fault: transient
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_create_with_a_non_numeric_track_id_is_transient(adapter, mock):
    # Given Zibal answers a trackId that cannot be put in a URL path safely
    mock.post("/v1/request").respond(json={"result": 100, "trackId": "../../evil", "message": "success"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then it is refused as a bad answer
    assert caught.value.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("result", "kind", "code"),
    [
        (102, ErrorKind.CONFIG, "merchant_not_found"),
        (103, ErrorKind.CONFIG, "merchant_inactive"),
        (104, ErrorKind.CONFIG, "merchant_invalid"),
        (105, ErrorKind.BUSINESS, "amount_too_small"),
        (106, ErrorKind.CONFIG, "invalid_callback_url"),
        (113, ErrorKind.BUSINESS, "amount_too_large"),
        (114, ErrorKind.BUSINESS, "invalid_national_code"),
        (999, ErrorKind.TRANSIENT, "result_999"),
    ],
)
def test_create_maps_each_documented_result_code_to_an_error_kind(adapter, mock, result, kind, code):
    # Given Zibal refuses the request with a documented result code
    mock.post("/v1/request").respond(json={"result": result, "message": "error"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then the error has the kind and code of that result
    assert (caught.value.kind, caught.value.code) == (kind, code)


def test_create_error_text_never_contains_the_merchant_id(adapter, mock):
    # Given Zibal echoes the merchant id in its message
    mock.post("/v1/request").respond(json={"result": 102, "message": f"merchant {MERCHANT} not found"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then neither str nor repr of the error shows the merchant id
    assert MERCHANT not in str(caught.value)
    assert MERCHANT not in repr(caught.value)


def test_create_html_502_page_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/v1/request").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then the error is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "http_502")


def test_create_html_body_with_status_200_is_transient(adapter, mock):
    # Given the gateway answers 200 with an HTML page instead of JSON
    mock.post("/v1/request").respond(200, text=HTML_502, headers={"Content-Type": "text/html"})
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then the error is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "bad_response")


def test_create_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post("/v1/request").mock(side_effect=httpx.ReadTimeout("timed out"))
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then the error is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "timeout")


def test_create_connection_refused_is_transient(adapter, mock):
    # Given the gateway cannot be reached
    mock.post("/v1/request").mock(side_effect=httpx.ConnectError("connection refused"))
    # When a payment is created
    with pytest.raises(GatewayError) as caught:
        _create(adapter)
    # Then the error is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "transport")


def test_create_refuses_a_non_positive_amount_without_calling_the_gateway(adapter, mock):
    # Given any gateway answer
    route = mock.post("/v1/request").respond(json=REQUEST_OK)
    # When a payment of zero rials is created
    with pytest.raises(GatewayError) as caught:
        adapter.create(
            order_id="1", amount_irr=0, callback_url="https://x.example/cb", description="", mobile=None
        )
    # Then it is a business error and Zibal was not asked
    assert caught.value.kind is ErrorKind.BUSINESS
    assert not route.called


# -- callback -------------------------------------------------------------------------------


def test_callback_with_success_reads_token_and_claim(adapter):
    # Given the buyer returns with Zibal's success query
    query = {"success": "1", "trackId": TRACK_ID, "orderId": "2211", "status": "2"}
    # When the callback is parsed
    data = adapter.parse_callback(query, {})
    # Then it claims success for that trackId and echoes our order id
    assert (data.token, data.claimed_success, data.cancelled) == (TRACK_ID, True, False)
    assert data.order_id == "2211"
    assert data.refs == {}


def test_callback_with_status_3_is_a_cancel(adapter):
    # Given the buyer cancelled at Zibal
    query = {"success": "0", "trackId": TRACK_ID, "orderId": "2211", "status": "3"}
    # When the callback is parsed
    data = adapter.parse_callback(query, {})
    # Then it is a cancel, not a success claim
    assert (data.claimed_success, data.cancelled) == (False, True)


def test_callback_with_a_card_decline_is_neither_success_nor_cancel(adapter):
    # Given the card was declined (status 5: insufficient funds)
    query = {"success": "0", "trackId": TRACK_ID, "orderId": "2211", "status": "5"}
    # When the callback is parsed
    data = adapter.parse_callback(query, {})
    # Then it claims failure without a cancel
    assert (data.claimed_success, data.cancelled) == (False, False)


def test_callback_fields_are_accepted_from_a_post_form(adapter):
    # Given the same fields arrive as a POST form
    form = {"success": "1", "trackId": TRACK_ID, "orderId": "2211", "status": "2"}
    # When the callback is parsed
    data = adapter.parse_callback({}, form)
    # Then they are read as from the query
    assert (data.token, data.claimed_success) == (TRACK_ID, True)


@pytest.mark.parametrize(
    "query",
    [
        {"success": "1", "orderId": "2211", "status": "2"},
        {"success": "1", "trackId": "", "status": "2"},
        {"success": "1", "trackId": "12ab", "status": "2"},
        {"success": "yes", "trackId": TRACK_ID, "status": "2"},
        {"success": "1", "trackId": TRACK_ID, "status": "paid"},
    ],
    ids=["no-track-id", "empty-track-id", "non-digit-track-id", "bad-success", "bad-status"],
)
def test_callback_malformed_is_a_business_error(adapter, query):
    # Given a malformed return
    # When it is parsed
    with pytest.raises(GatewayError) as caught:
        adapter.parse_callback(query, {})
    # Then it is refused as a business error
    assert caught.value.kind is ErrorKind.BUSINESS


def test_callback_with_query_and_form_disagreeing_is_refused(adapter):
    # Given query and form name different trackIds
    # When the callback is parsed
    with pytest.raises(GatewayError) as caught:
        adapter.parse_callback({"trackId": TRACK_ID}, {"trackId": "42"})
    # Then it is refused
    assert caught.value.kind is ErrorKind.BUSINESS


# -- verify ---------------------------------------------------------------------------------


def test_verify_sends_merchant_and_numeric_track_id(adapter, mock):
    # Given Zibal verifies the payment
    route = mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When the payment is verified
    adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the body is {merchant, trackId} with trackId as a number
    assert json.loads(route.calls.last.request.content) == {"merchant": MERCHANT, "trackId": int(TRACK_ID)}


def test_verify_result_100_is_verified_with_the_payment_details(adapter, mock):
    # Given Zibal answers result 100
    mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is verified with amount, reference, masked card and time
    assert result.outcome is VerifyOutcome.VERIFIED
    assert result.amount_irr == 1600
    assert result.reference == "1234567890"
    assert result.card_mask == "62741****44"
    assert result.paid_at == "2018-03-25T23:43:01.053000"


def test_verify_reports_the_order_zibal_names_for_the_caller_to_check(adapter, mock):
    # Given Zibal's verify answer names an order
    mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then that order is reported, so that an answer about another order credits nothing
    assert result.order_id == "2211"


def test_verify_reports_the_amount_zibal_answers_not_the_stored_one(adapter, mock):
    # Given Zibal reports a different amount from the stored one
    mock.post("/v1/verify").respond(json={**VERIFY_OK, "amount": 1000})
    # When the payment is verified with the stored amount
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the gateway's amount is reported for the caller to compare
    assert result.amount_irr == 1000


def test_verify_masks_a_full_card_number(adapter, mock):
    # Given Zibal (hypothetically) answers a full card number
    mock.post("/v1/verify").respond(json={**VERIFY_OK, "cardNumber": "6037991234567890"})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then only the first 6 and last 4 digits are kept
    assert result.card_mask == "603799******7890"


def test_verify_result_201_with_details_is_already_verified_without_inquiry(adapter, mock):
    # Given Zibal answers 201 with the payment's details
    mock.post("/v1/verify").respond(json={**VERIFY_OK, "result": 201, "message": "previously verified"})
    inquiry = mock.post("/v1/inquiry").respond(json=INQUIRY_VERIFIED)
    # When the payment is verified again
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is already verified, with its amount, and inquiry is not needed
    assert (result.outcome, result.amount_irr, result.reference) == (
        VerifyOutcome.ALREADY_VERIFIED,
        1600,
        "1234567890",
    )
    assert not inquiry.called


def test_verify_result_201_without_amount_learns_details_from_inquiry(adapter, mock):
    # Given Zibal answers a bare 201
    mock.post("/v1/verify").respond(json={"result": 201, "message": "previously verified"})
    inquiry = mock.post("/v1/inquiry").respond(json=INQUIRY_VERIFIED)
    # When the payment is verified again
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the amount, reference and card come from inquiry {merchant, trackId}
    assert json.loads(inquiry.calls.last.request.content) == {"merchant": MERCHANT, "trackId": int(TRACK_ID)}
    assert (result.outcome, result.amount_irr, result.reference, result.card_mask) == (
        VerifyOutcome.ALREADY_VERIFIED,
        1600,
        "1234567890",
        "62741****44",
    )


def test_verify_result_201_with_inquiry_down_is_transient(adapter, mock):
    # Given a bare 201 and an inquiry that answers an HTML 502
    mock.post("/v1/verify").respond(json={"result": 201, "message": "previously verified"})
    mock.post("/v1/inquiry").respond(502, text=HTML_502)
    # When the payment is verified again
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the caller retries later: transient
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_verify_result_202_with_status_3_is_cancelled(adapter, mock):
    # Given the buyer cancelled
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid", "status": 3})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is cancelled, with no amount
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.CANCELLED, None)


def test_verify_result_202_with_a_decline_status_is_not_paid(adapter, mock):
    # Given the card was declined (status 5)
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid", "status": 5})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is not paid
    assert result.outcome is VerifyOutcome.NOT_PAID


def test_verify_result_202_without_status_asks_inquiry_for_it(adapter, mock):
    # Given a bare 202, and inquiry reports status 3 (cancelled by the buyer)
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid"})
    mock.post("/v1/inquiry").respond(json={**INQUIRY_VERIFIED, "status": 3, "refNumber": None})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is cancelled
    assert result.outcome is VerifyOutcome.CANCELLED


def test_verify_result_202_without_status_and_inquiry_down_is_pending(adapter, mock):
    # Given a bare 202 and an inquiry that cannot be reached
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid"})
    mock.post("/v1/inquiry").mock(side_effect=httpx.ConnectError("refused"))
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then nothing is decided: without a status the buyer may still be paying
    assert result.outcome is VerifyOutcome.PENDING


def test_verify_result_202_with_status_waiting_is_pending(adapter, mock):
    # Given Zibal says the payment is still waiting for the buyer (status -1)
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid", "status": -1})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is pending, not failed: an early or forged return must not fail a payment in progress
    assert result.outcome is VerifyOutcome.PENDING


def test_verify_result_203_is_a_business_error(adapter, mock):
    # Given Zibal does not know the trackId
    mock.post("/v1/verify").respond(json={"result": 203, "message": "trackId is invalid"})
    # When the payment is verified
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is a business error
    assert (caught.value.kind, caught.value.code) == (ErrorKind.BUSINESS, "invalid_track_id")


def test_verify_result_102_is_a_config_error(adapter, mock):
    # Given the merchant id is unknown to Zibal
    mock.post("/v1/verify").respond(json={"result": 102, "message": "merchant not found"})
    # When the payment is verified
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is a config error
    assert caught.value.kind is ErrorKind.CONFIG


def test_verify_html_502_is_transient(adapter, mock):
    # Given the gateway's proxy answers an HTML 502 page
    mock.post("/v1/verify").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When the payment is verified
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the error is transient
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_verify_timeout_is_transient(adapter, mock):
    # Given the gateway does not answer in time
    mock.post("/v1/verify").mock(side_effect=httpx.ReadTimeout("timed out"))
    # When the payment is verified
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then the error is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "timeout")


def test_verify_refuses_a_non_numeric_token_without_calling_the_gateway(adapter, mock):
    # Given any gateway answer
    route = mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When a forged token is verified
    with pytest.raises(GatewayError) as caught:
        adapter.verify(token="1; DROP", amount_irr=1600)
    # Then it is a business error and Zibal was not asked
    assert caught.value.kind is ErrorKind.BUSINESS
    assert not route.called


def test_verify_result_202_with_a_reversed_status_is_reversed(adapter, mock):
    # Given the payment was reversed after its verify window (status 18)
    mock.post("/v1/verify").respond(json={"result": 202, "message": "not paid", "status": 18})
    # When the payment is verified
    result = adapter.verify(token=TRACK_ID, amount_irr=1600)
    # Then it is reversed
    assert result.outcome is VerifyOutcome.REVERSED


def test_verify_accepts_refs_and_ignores_them(adapter, mock):
    # Given a verified payment
    route = mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When it is verified with refs from the return
    result = adapter.verify(token=TRACK_ID, amount_irr=1600, refs={"x": "y"})
    # Then only merchant and trackId are sent
    assert result.outcome is VerifyOutcome.VERIFIED
    assert json.loads(route.calls.last.request.content) == {"merchant": MERCHANT, "trackId": int(TRACK_ID)}


# -- capabilities, inquire, reverse ---------------------------------------------------------


def test_capabilities_describe_zibal():
    # Given the Zibal adapter class
    caps = ZibalAdapter.capabilities
    # Then rials, 1,000 minimum, GET redirect, 201 on a repeated verify, inquiry but no reverse
    assert (caps.unit, caps.min_amount_irr, caps.redirect_method) == ("IRR", 1000, "GET")
    assert (caps.token_ttl, caps.verify_window) == (timedelta(minutes=15), timedelta(minutes=30))
    assert caps.reverse_window is None
    assert caps.callback_methods == frozenset({"GET", "POST"})
    assert caps.repeated_verify == "already_verified"
    assert caps.supports_inquiry is True


def test_inquire_verified_is_already_verified_with_details(adapter, mock):
    # Given inquiry reports status 1 (verified)
    route = mock.post("/v1/inquiry").respond(json=INQUIRY_VERIFIED)
    # When the payment is inquired
    result = adapter.inquire(token=TRACK_ID, amount_irr=1600)
    # Then it is ALREADY_VERIFIED with amount, reference, card and paidAt, and nothing is verified
    assert result.outcome is VerifyOutcome.ALREADY_VERIFIED
    assert (result.amount_irr, result.reference) == (1600, "1234567890")
    assert result.card_mask == "62741****44"
    assert result.paid_at == "2018-03-25T23:43:01.053000"
    assert json.loads(route.calls.last.request.content) == {"merchant": MERCHANT, "trackId": int(TRACK_ID)}


def test_inquire_paid_unverified_is_pending_with_the_amount(adapter, mock):
    # Given inquiry reports status 2 (paid, not verified)
    mock.post("/v1/inquiry").respond(json={**INQUIRY_VERIFIED, "status": 2, "verifiedAt": None})
    # When the payment is inquired
    result = adapter.inquire(token=TRACK_ID, amount_irr=1600)
    # Then it is PENDING ("paid, verify it") with the paid amount
    assert (result.outcome, result.amount_irr) == (VerifyOutcome.PENDING, 1600)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (-1, VerifyOutcome.PENDING),
        (3, VerifyOutcome.CANCELLED),
        (15, VerifyOutcome.REVERSED),
        (16, VerifyOutcome.REVERSED),
        (18, VerifyOutcome.REVERSED),
        (5, VerifyOutcome.NOT_PAID),
        (-2, VerifyOutcome.NOT_PAID),
    ],
)
def test_inquire_maps_each_status(adapter, mock, status, outcome):
    # Given inquiry reports a status
    mock.post("/v1/inquiry").respond(json={"result": 100, "message": "success", "status": status})
    # When the payment is inquired
    result = adapter.inquire(token=TRACK_ID, amount_irr=1600)
    # Then the outcome follows the status
    assert result.outcome is outcome


def test_inquire_unknown_track_id_is_a_business_error(adapter, mock):
    # Given inquiry answers 203
    mock.post("/v1/inquiry").respond(json={"result": 203, "message": "trackId is invalid"})
    # When the payment is inquired
    with pytest.raises(GatewayError) as caught:
        adapter.inquire(token=TRACK_ID, amount_irr=1600)
    # Then it is a business error
    assert (caught.value.kind, caught.value.code) == (ErrorKind.BUSINESS, "invalid_track_id")


def test_inquire_html_502_is_transient(adapter, mock):
    # Given inquiry answers an HTML 502 page
    mock.post("/v1/inquiry").respond(502, text=HTML_502, headers={"Content-Type": "text/html"})
    # When the payment is inquired
    with pytest.raises(GatewayError) as caught:
        adapter.inquire(token=TRACK_ID, amount_irr=1600)
    # Then it is transient
    assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, "http_502")


def test_reverse_is_unsupported_without_calling_the_gateway(adapter, mock):
    # Given any route would be recorded
    route = mock.route().respond(json={"result": 100})
    # When a reverse is asked for
    with pytest.raises(GatewayError) as caught:
        adapter.reverse(token=TRACK_ID, amount_irr=1600)
    # Then it is a config error "unsupported" and nothing is sent
    assert (caught.value.kind, caught.value.code) == (ErrorKind.CONFIG, "unsupported")
    assert not route.called


def test_verify_reports_no_card_hash_zibal_gives_none(adapter, mock):
    # Given Zibal's verify answer (it publishes no hash of the card)
    mock.post("/v1/verify").respond(json=VERIFY_OK)
    # When it is verified / Then no hash is reported: its refunds keep the masked-card rule
    assert adapter.verify(token=TRACK_ID, amount_irr=1600).card_hash is None
