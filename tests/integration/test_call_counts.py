"""How many DynamoDB calls each buyer step makes (the click path must be exactly one read)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import respx

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target


@contextmanager
def dynamodb_calls(store) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Records the name of every DynamoDB operation the store's client and the click path's
    own client (paylink.web.click) send."""
    from paylink.web import click

    seen: list[str] = []

    def record(model, **_):  # type: ignore[no-untyped-def]
        seen.append(model.name)

    clients = (store.client, click.reader()[0])
    for client in clients:
        client.meta.events.register("before-call.dynamodb", record)
    try:
        yield seen
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", record)


def _link(api):  # type: ignore[no-untyped-def]
    return api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]


def test_a_click_makes_one_read_and_no_gateway_call(api, merchant, store):
    # Given a link, with every outgoing HTTP call intercepted
    code = _link(api)
    with respx.mock(assert_all_called=False) as gateway_traffic, dynamodb_calls(store) as calls:
        # When a buyer opens it
        page = api.get(f"/{code}")
    # Then exactly one DynamoDB read was made and no gateway was asked anything
    assert page.status == 200
    assert calls == ["GetItem"]
    assert gateway_traffic.calls.call_count == 0


def _health_sample(monkeypatch, weight):  # type: ignore[no-untyped-def]
    """Fix the health sample a quiet gateway's success draws (paylink.payments.health)."""
    import paylink.store.gateways as gateways_store

    monkeypatch.setattr(gateways_store, "sampled_success_weight", lambda: weight)


@pytest.mark.parametrize(
    ("weight", "redirect"),
    [(0, "UpdateItem"), (8, "TransactWriteItems")],  # not drawn: the payment alone; drawn: with its bucket
)
def test_a_checkout_makes_at_most_three_dynamodb_calls(
    api, merchant, store, gateways, monkeypatch, weight, redirect
):
    # Given a link, and the health sample of a success drawn or not
    code = _link(api)
    _health_sample(monkeypatch, weight)
    with dynamodb_calls(store) as calls:
        # When a buyer starts a payment
        answer = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    # Then: one read (the link and the gateways' health), the reservation, the redirect
    assert answer.status == 303
    assert calls == ["BatchGetItem", "TransactWriteItems", redirect]


def test_a_callback_makes_at_most_three_dynamodb_calls(api, merchant, store, gateways):
    # Given a payment paid at the gateway
    code = _link(api)
    started = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    callback = local_target(act_at_gateway(started.location))
    with dynamodb_calls(store) as calls:
        # When the buyer comes back
        answer = api.get(callback)
    # Then: the payment its return names (Zibal echoes our order id: no token index to read,
    # issue 18), and one transaction
    assert answer.status == 303
    assert calls == ["GetItem", "TransactWriteItems"]


def _installment_invoice(api):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from paylink.merchants.links import market_today

    days = [(market_today() + timedelta(days=d)).isoformat() for d in (5, 35, 65)]
    body = {"title": "Sofa", "kind": "invoice", "amount": 3_000_000, "payer": {"name": "Sara"},
            "installments": [{"amount": 1_000_000, "due_date": day} for day in days]}  # fmt: skip
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()["code"]


def test_a_click_on_an_invoice_in_installments_is_one_read_too(api, merchant, store, gateways):
    # Given an invoice in three installments, the first one paid
    code = _installment_invoice(api)
    started = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    api.get(local_target(act_at_gateway(started.location)))
    with dynamodb_calls(store) as calls:
        # When a buyer opens it: the whole schedule and the next installment
        page = api.get(f"/{code}")
    # Then the schedule came with the link, in one read
    assert page.status == 200
    assert "پرداخت قسط ۲" in page.text
    assert calls == ["GetItem"]


def test_paying_an_installment_keeps_checkout_and_callback_to_three_calls_each(
    api, merchant, store, gateways, monkeypatch
):
    code = _installment_invoice(api)
    _health_sample(monkeypatch, 0)
    with dynamodb_calls(store) as checkout_calls:
        started = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    callback = local_target(act_at_gateway(started.location))
    with dynamodb_calls(store) as callback_calls:
        answer = api.get(callback)
    assert answer.status == 303
    assert checkout_calls == ["BatchGetItem", "TransactWriteItems", "UpdateItem"]
    assert callback_calls == ["GetItem", "TransactWriteItems"]
