"""Fifty partial refunds of one payment at once, against a DynamoDB server applying requests atomically."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from local.run import Invoker
from local.template import functions, load_template
from paylink.settlement.money import FeePlan
from tests.conftest import TEST_API_KEY
from tests.integration.test_concurrent_callbacks import _call, moto_server  # noqa: F401 - the fixture
from tests.settlement_data import VALID_IBAN, add_merchant, add_paid_payment

AMOUNT = 1_000_000
EACH = 30_000  # 33 of them fit in the payment (990,000); the 34th would exceed it


def test_fifty_concurrent_partial_refunds_never_exceed_the_payment(moto_server):  # noqa: F811
    from paylink.store import get_store

    store = get_store()
    merchant = add_merchant(store, "racy", VALID_IBAN, FeePlan())
    from paylink.core.ids import hash_api_key

    store.client.put_item(  # the merchant answers to TEST_API_KEY too
        TableName=store.table,
        Item={"pk": f"APIKEY#{hash_api_key(TEST_API_KEY)}", "sk": "APIKEY", "merchant_id": merchant.id},
    )
    # Given a paid payment of 1,000,000 rials (and another one, so the balance covers the fee we keep)
    add_paid_payment(store, merchant, "pay_racy_target", AMOUNT, paid_at="2026-12-01T08:00:00.000000Z")
    add_paid_payment(store, merchant, "pay_racy_other", 5_000_000, paid_at="2026-12-01T08:00:00.000000Z")
    api = Invoker(functions(load_template())["CreateLinkFunction"])
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    body = json.dumps({"amount": EACH}).encode()
    # When fifty refunds of 30,000 rials are asked at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(
                lambda _: _call(api, "POST", "/v1/payments/pay_racy_target/refunds", body, auth), range(50)
            )
        )
    # Then exactly as many as fit were created, the others refused on amount
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [201] * 33 + [400] * 17, statuses
    for refused in (a for a in answers if a["statusCode"] == 400):
        assert "amount" in json.loads(refused["body"])["error"]["fields"]
    # And the payment's counter and its refunds agree, never above its amount
    payment = store.get_payment("pay_racy_target")
    assert payment is not None
    refunds = store.refunds_of_payment("pay_racy_target")
    assert payment.amount_refunded == sum(r.amount for r in refunds) == 33 * EACH <= AMOUNT
