"""A buyer's page that fails on our side (a throttled table, a timeout) answers a 503 page in the
buyer's language saying what is safe to do, never API Gateway's bare `Internal Server Error`; the
failure is logged for the operator; a return retried once the table is back finishes the payment."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali", "phone": "09121234567"}


def _throttled(*_: Any, **__: Any) -> Any:
    raise ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the throughput."}},
        "TransactWriteItems",
    )


@pytest.fixture
def code(api, merchant, gateways) -> str:  # type: ignore[no-untyped-def]
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": 500_000}, key=TEST_API_KEY).json()
    return str(link["code"])


def test_a_return_the_table_refuses_gets_a_page_saying_the_payment_is_being_confirmed(
    api, code, monkeypatch, caplog
):
    # Given a buyer back from the gateway while the table throttles every credit
    from paylink.store.payments import PaymentItems

    started = api.post_form(f"/{code}", BUYER)
    callback = local_target(act_at_gateway(started.location))
    real = PaymentItems.mark_paid
    monkeypatch.setattr(PaymentItems, "mark_paid", _throttled)
    # When the return arrives
    answer = api.get(callback)
    # Then the buyer gets a 503 page (Persian: the return names no language) that says the payment
    # is being confirmed and not to pay again, and a way to try again
    assert answer.status == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "در حال تأیید" in answer.text
    assert "نیازی به پرداخت دوباره نیست" in answer.text
    assert 'class="btn" href="/callback/' in answer.text
    assert "Traceback" not in answer.text
    assert "ThrottlingException" not in answer.text
    assert answer.headers.get("Retry-After")
    # and the operator's log has the failure
    [failure] = [r for r in caplog.records if r.getMessage() == "buyer page failed"]
    assert failure.exc_info is not None
    assert failure.exc_info[0] is ClientError
    # When the table is back and the buyer tries again
    monkeypatch.setattr(PaymentItems, "mark_paid", real)
    again = api.get(callback)
    # Then the payment is paid and the buyer lands on the receipt
    assert again.status == 303
    assert again.location.startswith("/r/")
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] == "paid"


def test_a_checkout_the_table_refuses_gets_a_page_with_the_form_to_try_again(api, code, monkeypatch):
    # Given a table that throttles the checkout's write
    from paylink.store.payments import PaymentItems

    monkeypatch.setattr(PaymentItems, "reserve_payment", _throttled)
    # When a buyer submits the form
    answer = api.post_form(f"/{code}", BUYER)
    # Then a Persian 503 page says nothing was charged and links back to the form
    assert answer.status == 503
    assert f'href="/{code}"' in answer.text
    assert "کسر نشده" in answer.text
    assert api.get("/v1/payments", key=TEST_API_KEY).json()["items"] == []


def test_a_receipt_the_table_cannot_read_gets_a_page_to_try_again(api, code, monkeypatch):
    # Given a table that cannot be read
    from paylink.store.payments import PaymentItems

    monkeypatch.setattr(PaymentItems, "payment_or_archive", _throttled)
    # When a buyer opens a receipt
    answer = api.get("/r/pay_" + "a" * 22 + "?lang=en")
    # Then a 503 page asks to try again in a moment
    assert answer.status == 503
    assert "try again" in answer.text.lower()


def test_a_merchant_api_request_the_table_refuses_gets_the_contracts_error_shape(api, merchant, monkeypatch):
    # Given a table that throttles every payment list
    from paylink.store.payments import PaymentItems

    monkeypatch.setattr(PaymentItems, "payments_of_merchant", _throttled)
    # When the merchant lists its payments
    answer = api.get("/v1/payments", key=TEST_API_KEY)
    # Then a 503 in the contract's error shape asks to try again, naming nothing of ours
    assert answer.status == 503
    assert answer.json()["error"]["code"] == "unavailable"
    assert answer.headers.get("Retry-After")
    assert "Throttling" not in answer.text


def test_a_refund_page_the_table_cannot_read_gets_a_page_to_try_again(api, merchant, monkeypatch):
    # Given a table that cannot be read
    from paylink.store.refunds import RefundItems

    monkeypatch.setattr(RefundItems, "refund_for_token", _throttled)
    # When a payer opens a refund link
    answer = api.get("/refund/" + "t" * 43 + "?lang=en")
    # Then a 503 page asks to try again in a moment
    assert answer.status == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "try again" in answer.text.lower()
