"""The merchant's balance and ledger over the merchant API: `GET /v1/balance`, `GET /v1/ledger`."""

from __future__ import annotations

import pytest

from paylink.settlement.money import FeePlan, split
from paylink.web import api_schema
from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import count_index_pages
from tests.integration.test_refunds import _pay

AMOUNT = 1_000_000


@pytest.fixture
def two_paid(api, merchant, gateways):  # type: ignore[no-untyped-def]
    """Two paid payments of 1,000,000 rials, unsettled."""
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    return [_pay(api, link["code"]), _pay(api, link["code"])]


def _fee(store, merchant_id: str = "mer_shop") -> int:  # type: ignore[no-untyped-def]
    found = store.get_merchant(merchant_id)
    return split(AMOUNT, found.fee if found else FeePlan())[0]


def test_the_balance_shows_what_waits_and_the_next_settlement_day(api, two_paid, store):
    # Given two unsettled payments and a refund of 300,000 rials of one of them
    assert (
        api.post_json(f"/v1/payments/{two_paid[0]}/refunds", {"amount": 300_000}, key=TEST_API_KEY).status
        == 201
    )
    # When the merchant asks for its balance
    answer = api.get("/v1/balance", key=TEST_API_KEY)
    # Then it shows the net waiting, the refund it will net, nothing owed, and the next business day
    assert answer.status == 200, answer.text
    body = answer.json()
    net = 2 * (AMOUNT - _fee(store))
    assert (body["pending"], body["refunds_due"], body["owed"]) == (net, 300_000, 0)
    assert body["waiting"] == net - 300_000
    assert body["next_settlement_date"] is not None


def test_a_new_merchant_has_an_empty_balance_and_ledger(api, merchant):
    # Given a merchant with nothing paid
    # When it asks for its balance and ledger
    balance = api.get("/v1/balance", key=TEST_API_KEY).json()
    ledger = api.get("/v1/ledger", key=TEST_API_KEY).json()
    # Then nothing waits and nothing is listed
    assert balance == {"pending": 0, "refunds_due": 0, "owed": 0, "waiting": 0, "next_settlement_date": None}
    assert api_schema.BalanceOut.model_validate(balance).model_dump(mode="json") == balance
    assert ledger == {"items": [], "next_cursor": None}


def test_the_ledger_lists_payments_fees_and_refunds_newest_first(api, two_paid, store):
    # Given two payments and a refund of one of them
    refund = api.post_json(f"/v1/payments/{two_paid[1]}/refunds", {"amount": 250_000}, key=TEST_API_KEY)
    # When the merchant reads its ledger
    items = api.get("/v1/ledger", key=TEST_API_KEY).json()["items"]
    # Then each payment is an entry with its fee, and the refund is a negative entry of its own
    fee = _fee(store)
    assert sorted((e["type"], e["amount"], e["object_id"]) for e in items) == sorted(
        [("payment", AMOUNT, p) for p in two_paid]
        + [("fee", -fee, p) for p in two_paid]
        + [("refund", -250_000, refund.json()["id"])]
    )
    assert items[0]["type"] == "refund"  # the newest
    assert {e["object"] for e in items} == {"payment", "refund"}
    # And its sum is the balance: what waits, less what is owed
    balance = api.get("/v1/balance", key=TEST_API_KEY).json()
    assert sum(e["amount"] for e in items) == balance["pending"] - balance["refunds_due"] - balance["owed"]


def test_the_ledger_pages_with_its_cursor_without_repeating_an_entry(api, two_paid, monkeypatch):
    # Given a page size of one entry (a payment and its fee go together)
    from paylink.store import table

    monkeypatch.setattr(table, "PAGE_SIZE", 1)
    api.post_json(f"/v1/payments/{two_paid[0]}/refunds", {"amount": 100_000}, key=TEST_API_KEY)
    # When the merchant follows next_cursor to the end
    seen, cursor, pages = [], None, 0
    while True:
        answer = api.get("/v1/ledger" + (f"?cursor={cursor}" if cursor else ""), key=TEST_API_KEY).json()
        seen += [(e["type"], e["object_id"]) for e in answer["items"]]
        pages += 1
        cursor = answer["next_cursor"]
        if not cursor:
            break
    # Then it read the refund and both payments, each once
    assert pages >= 3
    assert len(seen) == len(set(seen))
    assert {t for t, _ in seen} == {"payment", "fee", "refund"}


def test_the_ledger_filters_by_day(api, two_paid):
    # When the merchant asks for a day long before any payment
    answer = api.get("/v1/ledger?from=2020-01-01&to=2020-01-02", key=TEST_API_KEY)
    # Then nothing is listed
    assert answer.status == 200
    assert answer.json()["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=yesterday", "from"), ("from=2026-12-02&to=2026-12-01", "from"), ("cursor=%%%", "cursor"),
     ("cursor=eyJwayI6IngifQ==", "cursor"), ("status=paid", "status")],
)  # fmt: skip
def test_a_bad_ledger_filter_is_a_400_naming_it(api, merchant, query, field):
    answer = api.get(f"/v1/ledger?{query}", key=TEST_API_KEY)
    assert answer.status == 400, answer.text
    assert field in answer.json()["error"]["fields"]


def test_another_merchant_sees_none_of_this_ledger(api, two_paid, other_merchant):
    # Given this merchant's payments
    # When another merchant reads its own balance and ledger
    ledger = api.get("/v1/ledger", key=OTHER_API_KEY).json()
    balance = api.get("/v1/balance", key=OTHER_API_KEY).json()
    # Then none of them is there
    assert ledger["items"] == []
    assert balance["pending"] == 0


def test_balance_and_ledger_need_the_key(api, merchant):
    assert api.get("/v1/balance").status == 401
    assert api.get("/v1/ledger").status == 401


def test_the_ledger_reads_a_bounded_number_of_payment_keys_per_request_and_loses_nothing(
    api, two_paid, store, merchant, monkeypatch
):
    import paylink.store.table as table
    from paylink.core.models import Payment

    # Given many abandoned checkouts (anyone can start one) above a paid payment, and a refund
    def seed(n: int, status: str) -> str:
        payment = Payment(
            id=f"pay_seed{n:04d}", merchant_id=merchant.id, link_code="zzzzzzzzzzzz", link_title="Scarf",
            merchant_name=merchant.name, amount=AMOUNT, status=status,
            created_at=f"2099-01-01T{n // 60:02d}:{n % 60:02d}:00.000000Z",
            paid_at="2099-01-02T00:00:00.000000Z" if status == "paid" else None,
        )  # fmt: skip
        item = {k: v for k, v in store._payment_item(payment).items() if v is not None}
        store.client.put_item(TableName=store.table, Item=item)
        return payment.id

    hidden = seed(0, "paid")
    for n in range(1, 12):
        seed(n, "expired")
    refund = api.post_json(f"/v1/payments/{two_paid[0]}/refunds", {"amount": 100_000}, key=TEST_API_KEY)
    assert refund.status == 201, refund.text
    # And pages of 2 entries, payments read 2 index keys at a time, at most 4 keys a request
    monkeypatch.setattr(table, "PAGE_SIZE", 2)
    monkeypatch.setattr(table, "FILTERED_INDEX_PAGE", 2)
    monkeypatch.setattr(table, "FILTER_SCAN_KEYS", 4)
    reads = count_index_pages(monkeypatch, "gsi2")
    # When the merchant follows next_cursor through its ledger
    seen, cursor = [], None
    while True:
        reads.append(0)
        answer = api.get("/v1/ledger" + (f"?cursor={cursor}" if cursor else ""), key=TEST_API_KEY)
        assert answer.status == 200, answer.text
        seen += [(e["type"], e["object_id"]) for e in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if not cursor:
            break
    # Then no request read more than 2 pages of payment keys, and every entry came once, the
    # payment under the abandoned ones included, newest first
    assert max(reads) <= 2
    assert len(seen) == len(set(seen))
    assert [object_id for kind, object_id in seen if kind == "payment"] == [hidden, two_paid[1], two_paid[0]]
    assert ("refund", refund.json()["id"]) in seen
    assert seen.index(("payment", hidden)) < seen.index(("refund", refund.json()["id"]))
