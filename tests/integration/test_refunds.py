"""Refunds over the merchant API (DESIGN section 9): amounts, methods, states, isolation."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali", "phone": "09121234567"}
AMOUNT = 1_000_000


def _pay(api, code: str) -> str:  # type: ignore[no-untyped-def]
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    api.get(local_target(act_at_gateway(started.location)))
    [payment] = [
        p for p in api.get("/v1/payments", key=TEST_API_KEY).json()["items"] if p["status"] == "paid"
    ][:1]
    return str(payment["id"])


@pytest.fixture
def paid(api, merchant, gateways):  # type: ignore[no-untyped-def]
    """A paid payment of 1,000,000 rials through sandbox-a (Zibal: no reverse API here), and another
    one before it: the merchant's balance covers the fee we keep on a full refund."""
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    _pay(api, link["code"])
    return _pay(api, link["code"])


def _pay_sep(api) -> str:  # type: ignore[no-untyped-def]
    from tests.integration.test_one_payer import _deliver, _pay_at_sep

    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    _deliver(api, _pay_at_sep(api, link["code"]))
    return str(api.get("/v1/payments", key=TEST_API_KEY).json()["items"][0]["id"])


@pytest.fixture
def paid_sep(api, merchant, gateways, store):  # type: ignore[no-untyped-def]
    """A payment paid a moment ago through SEP (reverse window 50 minutes), after another one."""
    from paylink.merchants.accounts import update_merchant

    update_merchant(store, "shop", gateways=["sandbox-s"])
    _pay_sep(api)
    return _pay_sep(api)


def test_a_partial_refund_goes_by_transfer_and_awaits_the_payer(api, paid):
    # When the merchant refunds part of a paid payment
    answer = api.post_json(
        f"/v1/payments/{paid}/refunds", {"amount": 300_000, "reason": "size"}, key=TEST_API_KEY
    )
    # Then a transfer refund is created, waiting for the payer to name the card
    assert answer.status == 201, answer.text
    refund = answer.json()
    assert refund["payment_id"] == paid
    assert (refund["amount"], refund["method"], refund["status"]) == (300_000, "transfer", "awaiting_payer")
    assert refund["reason"] == "size"
    assert refund["completed_at"] is None
    assert set(refund) == {
        "id",
        "payment_id",
        "amount",
        "status",
        "method",
        "reason",
        "created_at",
        "completed_at",
    }


def test_the_payment_counts_its_refunds_and_lists_them(api, paid):
    # Given two partial refunds
    for amount in (100_000, 200_000):
        assert (
            api.post_json(f"/v1/payments/{paid}/refunds", {"amount": amount}, key=TEST_API_KEY).status == 201
        )
    # When the merchant reads the payment and its refunds
    payment = api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()
    listed = api.get(f"/v1/payments/{paid}/refunds", key=TEST_API_KEY).json()["items"]
    # Then amount_refunded sums them, the status stays paid, both are listed oldest first
    assert payment["amount_refunded"] == 300_000
    assert payment["status"] == "paid"
    assert [r["amount"] for r in listed] == [100_000, 200_000]


def test_without_an_amount_everything_left_is_refunded_and_the_payment_shows_refunded(api, paid):
    # Given a partial refund already made
    api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 400_000}, key=TEST_API_KEY)
    # When the merchant refunds without an amount (no body at all)
    answer = api.request(
        "POST", f"/v1/payments/{paid}/refunds", headers={"authorization": f"Bearer {TEST_API_KEY}"}
    )
    # Then the rest is refunded and the payment is refunded
    assert answer.status == 201, answer.text
    assert answer.json()["amount"] == AMOUNT - 400_000
    assert api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()["status"] == "refunded"


def test_more_than_what_is_left_is_a_400_on_amount(api, paid):
    api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 600_000}, key=TEST_API_KEY)
    # When the merchant asks for more than the 400,000 left
    answer = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 400_001}, key=TEST_API_KEY)
    # Then it is refused on amount, and nothing more is refunded
    assert answer.status == 400
    assert "amount" in answer.json()["error"]["fields"]
    assert api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()["amount_refunded"] == 600_000


@pytest.mark.parametrize("amount", [0, -5, "100", 1.5, True])
def test_an_amount_that_is_not_a_positive_integer_is_a_400(api, paid, amount):
    answer = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": amount}, key=TEST_API_KEY)
    assert answer.status == 400
    assert "amount" in answer.json()["error"]["fields"]


def test_a_payment_not_paid_is_a_409(api, merchant, gateways):
    # Given a payment the buyer cancelled at the gateway
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    started = api.post_form(f"/{link['code']}", BUYER)
    api.get(local_target(act_at_gateway(started.location, "cancel")))
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] not in ("paid", "settled")
    # When the merchant tries to refund it
    answer = api.post_json(f"/v1/payments/{payment['id']}/refunds", {}, key=TEST_API_KEY)
    # Then 409
    assert answer.status == 409


def test_another_merchants_payment_cannot_be_refunded_or_listed(api, paid, other_merchant):
    # When another merchant posts a refund of this payment, or lists its refunds
    posted = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 1_000}, key=OTHER_API_KEY)
    listed = api.get(f"/v1/payments/{paid}/refunds", key=OTHER_API_KEY)
    # Then it is not there for them, and nothing was refunded
    assert (posted.status, listed.status) == (404, 404)
    assert api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()["amount_refunded"] == 0


def test_a_repeated_request_with_the_same_idempotency_key_refunds_once(api, paid):
    headers = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json",
               "idempotency-key": "refund-1"}  # fmt: skip
    first = api.request("POST", f"/v1/payments/{paid}/refunds", body=b'{"amount": 5000}', headers=headers)
    again = api.request("POST", f"/v1/payments/{paid}/refunds", body=b'{"amount": 5000}', headers=headers)
    assert first.status == again.status == 201
    assert first.json()["id"] == again.json()["id"]
    assert api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()["amount_refunded"] == 5000


def test_the_whole_payment_inside_the_reverse_window_is_reversed_at_the_gateway(api, paid_sep, gateways):
    # When the merchant refunds all of a SEP payment minutes after it was paid
    answer = api.post_json(f"/v1/payments/{paid_sep}/refunds", {}, key=TEST_API_KEY)
    # Then the gateway's ReverseTransaction gives it back at once
    assert answer.status == 201, answer.text
    refund = answer.json()
    assert (refund["method"], refund["status"]) == ("reverse", "succeeded")
    assert refund["completed_at"]
    assert any(c["path"].endswith("/ReverseTransaction") for c in gateways.calls("s"))
    assert api.get(f"/v1/payments/{paid_sep}", key=TEST_API_KEY).json()["status"] == "refunded"


def test_a_partial_refund_inside_the_reverse_window_goes_by_transfer(api, paid_sep, gateways):
    reverses = len([c for c in gateways.calls("s") if c["path"].endswith("/ReverseTransaction")])
    answer = api.post_json(f"/v1/payments/{paid_sep}/refunds", {"amount": 10_000}, key=TEST_API_KEY)
    assert answer.json()["method"] == "transfer"
    assert len([c for c in gateways.calls("s") if c["path"].endswith("/ReverseTransaction")]) == reverses


def test_a_refund_the_merchants_balance_cannot_cover_is_a_409(api, paid, store):
    # Given both payments settled and paid out: the merchant's ledger holds nothing now
    from functions.settle.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    lambda_handler({"date": day}, LambdaContext(functions(load_template())["SettleFunction"]))
    payment = api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()
    assert payment["status"] == "settled"
    # When the merchant refunds all of it (we paid it out only amount - fee, and hold nothing else)
    answer = api.post_json(f"/v1/payments/{paid}/refunds", {}, key=TEST_API_KEY)
    # Then the ledger cannot cover the fee we kept: refused, nothing refunded
    assert answer.status == 409
    assert answer.json()["error"]["code"] == "insufficient_balance"
    # And what it can cover (the net we paid out) is allowed
    allowed = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": payment["net"]}, key=TEST_API_KEY)
    assert allowed.status == 201, allowed.text
