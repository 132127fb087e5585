"""Installments under concurrency, against a moto server with atomic transactions: two buyers at
once pay one installment once; ten returns at once credit it once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from local.run import Invoker
from local.template import functions, load_template
from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.helpers import act_at_gateway, local_target
from tests.integration.test_concurrent_callbacks import _call, moto_server  # noqa: F401 - the fixture

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _invoice(merchant_api: Invoker) -> str:
    from paylink.merchants.links import market_today

    days = [(market_today() + timedelta(days=d)).isoformat() for d in (5, 35, 65)]
    body = {"title": "Sofa", "kind": "invoice", "amount": 3_000_000, "payer": {"name": "Sara"},
            "installments": [{"amount": 1_000_000, "due_date": day} for day in days]}  # fmt: skip
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    created = _call(merchant_api, "POST", "/v1/links", json.dumps(body).encode(), auth)
    assert created["statusCode"] == 201, created["body"]
    return str(json.loads(created["body"])["code"])


def _setup():  # type: ignore[no-untyped-def]
    from paylink.merchants.accounts import create_merchant
    from paylink.store import get_store

    fns = functions(load_template())
    invokers = {
        name: Invoker(fns[name]) for name in ("CreateLinkFunction", "CheckoutFunction", "CallbackFunction")
    }
    store = get_store()
    create_merchant(store, username="sofa", name="Sofa", iban=VALID_IBAN, api_key=TEST_API_KEY)
    return store, invokers


def test_two_buyers_at_once_start_one_payment_of_the_installment(moto_server, gateways):  # noqa: F811
    store, fn = _setup()
    code = _invoice(fn["CreateLinkFunction"])

    def buy(n: int) -> int:
        body = f"name=Buyer{n}&phone=0912000000{n}".encode()
        return int(_call(fn["CheckoutFunction"], "POST", f"/{code}", body, FORM)["statusCode"])

    # When two buyers post the invoice's form at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(pool.map(buy, range(2)))
    # Then one goes to the gateway and the other is told a payment is in progress
    assert answers == [303, 409]
    payments, _ = store.payments_of_link(code, None)
    assert [p.installment for p in payments] == [1]


def test_ten_returns_at_once_credit_the_installment_once(moto_server, gateways):  # noqa: F811
    store, fn = _setup()
    code = _invoice(fn["CreateLinkFunction"])
    started = _call(fn["CheckoutFunction"], "POST", f"/{code}", b"name=Ali&phone=09121234567", FORM)
    target = local_target(act_at_gateway(started["headers"]["Location"]))
    # When ten returns of the payment run at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: _call(fn["CallbackFunction"], "GET", target), range(10)))
    # Then installment 1 is paid once, by that payment, and installment 2 is next
    assert {a["statusCode"] for a in answers} == {303}
    link = store.get_link(code)
    assert link is not None
    assert (link.paid_count, link.paid_total, link.open_slots) == (1, 1_000_000, 1)
    [payment], _ = store.payments_of_link(code, None)
    assert [p.payment_id for p in link.installments or []] == [payment.id, None, None]
    assert link.next_installment().number == 2  # type: ignore[union-attr]
