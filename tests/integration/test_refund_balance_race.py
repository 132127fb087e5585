"""Refunds of DIFFERENT payments of one merchant at once, against a DynamoDB server applying requests
atomically: together they never exceed what the merchant's ledger covers (paylink.settlement.ledger),
and honest ones that it covers all succeed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.run import Invoker
from local.template import functions, load_template
from paylink.core.ids import hash_api_key
from paylink.core.models import Merchant, RefundStatus, iso
from paylink.settlement.business_calendar import start_of_day_utc
from paylink.settlement.daily import settle_merchant
from paylink.settlement.ledger import read_cover
from paylink.settlement.money import FeePlan, split
from paylink.settlement.payouts import SandboxPayout
from tests.conftest import TEST_API_KEY
from tests.integration.test_concurrent_callbacks import _call, moto_server  # noqa: F401 - the fixture
from tests.settlement_data import SETTLE_DAY, VALID_IBAN, add_merchant, add_paid_payment

COUNT = 20
AMOUNT = 100_000
NET = split(AMOUNT, FeePlan())[1]  # 98,500: what we paid out for each once settled


def _merchant(key: str) -> tuple[Any, Merchant]:
    from paylink.store import get_store

    store = get_store()
    merchant = add_merchant(store, key, VALID_IBAN, FeePlan())
    store.client.put_item(  # the merchant answers to TEST_API_KEY too
        TableName=store.table,
        Item={"pk": f"APIKEY#{hash_api_key(TEST_API_KEY)}", "sk": "APIKEY", "merchant_id": merchant.id},
    )
    return store, merchant


def _refund_each_at_once(payment_ids: list[str], amount: int) -> list[dict[str, Any]]:
    api = Invoker(functions(load_template())["CreateLinkFunction"])
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    body = json.dumps({"amount": amount}).encode()
    with ThreadPoolExecutor(max_workers=len(payment_ids)) as pool:
        return list(
            pool.map(lambda pid: _call(api, "POST", f"/v1/payments/{pid}/refunds", body, auth), payment_ids)
        )


def _alive_refunds(store: Any, payment_ids: list[str]) -> int:
    refunds = [r for pid in payment_ids for r in store.refunds_of_payment(pid)]
    return sum(r.amount for r in refunds if r.status is not RefundStatus.FAILED)


def test_refunds_of_different_settled_payments_at_once_never_exceed_what_the_ledger_covers(
    moto_server,  # noqa: F811
):
    # Given twenty payments of 100,000 rials, settled and paid out: nothing is waiting, so each
    # refund may only take back, from the merchant's next settlements, the net paid for its payment
    store, merchant = _merchant("spread")
    ids = [f"pay_spread_{n:02}" for n in range(COUNT)]
    for pid in ids:
        add_paid_payment(store, merchant, pid, AMOUNT)
    cutoff = iso(start_of_day_utc(SETTLE_DAY, "Asia/Tehran"))
    settled = settle_merchant(store, merchant.id, SETTLE_DAY, cutoff, SandboxPayout(store))
    assert settled is not None
    assert settled.net == COUNT * NET
    # When each of them is refunded by its net at the same moment
    answers = _refund_each_at_once(ids, NET)
    # Then only one is made: after it the merchant owes one payment's net, the most we lend
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [201] + [409] * (COUNT - 1), statuses
    for refused in (a for a in answers if a["statusCode"] == 409):
        assert json.loads(refused["body"])["error"]["code"] == "insufficient_balance"
    assert _alive_refunds(store, ids) == NET
    balance = store.merchant_balance(merchant.id)
    assert balance.claims == NET


def test_refunds_of_different_unsettled_payments_at_once_stop_at_what_is_waiting(moto_server):  # noqa: F811
    # Given twenty unsettled payments of 100,000 rials: 98,500 each waits for the merchant
    store, merchant = _merchant("waiting")
    ids = [f"pay_waiting_{n:02}" for n in range(COUNT)]
    for pid in ids:
        add_paid_payment(store, merchant, pid, AMOUNT)
    # When each is refunded in full at the same moment (2,000,000 asked, 1,970,000 waiting)
    answers = _refund_each_at_once(ids, AMOUNT)
    # Then all but one are made: together they stay within what waits
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [201] * (COUNT - 1) + [409], statuses
    assert _alive_refunds(store, ids) == (COUNT - 1) * AMOUNT <= COUNT * NET


def test_honest_refunds_of_different_payments_at_once_all_succeed_when_covered(moto_server):  # noqa: F811
    # Given twenty payments of 100,000 rials and a large one the merchant keeps, all unsettled
    store, merchant = _merchant("honest")
    ids = [f"pay_honest_{n:02}" for n in range(COUNT)]
    for pid in ids:
        add_paid_payment(store, merchant, pid, AMOUNT)
    add_paid_payment(store, merchant, "pay_honest_big", 10_000_000)
    # When each of the twenty is refunded in part at the same moment
    answers = _refund_each_at_once(ids, 40_000)
    # Then every one is made (a refund that met another on the balance tried again)
    assert sorted(a["statusCode"] for a in answers) == [201] * COUNT
    assert _alive_refunds(store, ids) == COUNT * 40_000
    assert store.merchant_balance(merchant.id).claims == COUNT * 40_000


def test_refunds_racing_a_settle_run_never_leave_more_owing_than_one_payments_net(moto_server):  # noqa: F811
    # Given twenty payments of 100,000 rials made before the day's cutoff, nothing else
    store, merchant = _merchant("racing")
    ids = [f"pay_racing_{n:02}" for n in range(COUNT)]
    for pid in ids:
        add_paid_payment(store, merchant, pid, AMOUNT)
    cutoff = iso(start_of_day_utc(SETTLE_DAY, "Asia/Tehran"))
    # When the day is settled while each payment is refunded by 60,000 rials at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        settling = pool.submit(settle_merchant, store, merchant.id, SETTLE_DAY, cutoff, SandboxPayout(store))
        answers = pool.submit(_refund_each_at_once, ids, 60_000).result()
        settling.result()
    settle_merchant(store, merchant.id, SETTLE_DAY, cutoff, SandboxPayout(store))  # finishes what it left
    # Then every refund made was netted from the payout, or made after it against what its payment
    # was paid out (a debt, taken from the next settlements): never more than one payment's net
    made = sum(60_000 for a in answers if a["statusCode"] == 201)
    assert {a["statusCode"] for a in answers} <= {201, 409}
    assert made == _alive_refunds(store, ids)
    settlements, _ = store.settlements_of(merchant.id, None)
    paid_out = sum(s.net for s in settlements)
    cover = read_cover(store, merchant)
    debt = cover.seen.claims - cover.pending
    assert paid_out + made == COUNT * NET + debt
    assert 0 <= debt <= NET
