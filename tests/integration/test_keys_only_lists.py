"""The lists read through keys-only indexes (issue 18) answer what an ALL projection answered: every
filter of GET /v1/payments (status, link, from/to), paged with small pages, gives every matching
payment once, newest first, with cursors that stay valid while payments move or are archived."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import count_index_pages

STATUSES = ("created", "redirected", "paid", "failed", "cancelled", "expired", "settled", "reversed")
AMOUNT = 500_000


def _seed(store, merchant, codes: list[str]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Payments written as the store writes them, spread over days, links, statuses and refunds."""
    from paylink.core.models import Payment

    items = []
    for n, (status, refunded) in enumerate(itertools.product(STATUSES, (0, 1_000, AMOUNT))):
        payment = Payment(
            id=f"pay_{n:03d}",
            merchant_id=merchant.id,
            link_code=codes[n % len(codes)],
            link_title="Scarf",
            merchant_name=merchant.name,
            amount=AMOUNT,
            status=status,
            created_at=f"2026-11-{1 + n % 9:02d}T0{n % 7}:00:00.000000Z",
            paid_at="2026-11-20T00:00:00.000000Z" if status in ("paid", "settled") else None,
            amount_refunded=refunded if status in ("paid", "settled") else 0,
        )
        item = {k: v for k, v in store._payment_item(payment).items() if v is not None}
        store.client.put_item(TableName=store.table, Item=item)
        items.append(item)
    return items


def _shown(item: dict[str, Any]) -> str:
    if item["status"] in ("paid", "settled") and item["amount_refunded"] >= item["amount"]:
        return "refunded"
    return str(item["status"])


def _pages(api, query: str, cursor: str = "") -> list[list[str]]:  # type: ignore[no-untyped-def]
    pages: list[list[str]] = []
    while True:
        target = f"/v1/payments?{query}" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(target, key=TEST_API_KEY)
        assert answer.status == 200, answer.text
        body = answer.json()
        pages.append([p["id"] for p in body["items"]])
        cursor = body["next_cursor"]
        if not cursor:
            return pages


@pytest.fixture
def seeded(api, store, merchant):  # type: ignore[no-untyped-def]
    codes = [api.post_json("/v1/links", {"title": f"L{i}", "amount": AMOUNT}, key=TEST_API_KEY).json()["code"]
             for i in range(2)]  # fmt: skip
    return codes, _seed(store, merchant, codes)


@pytest.mark.parametrize("page_size", [1, 4, 50])
def test_every_filter_pages_through_every_match_once_newest_first(api, seeded, monkeypatch, page_size):
    import paylink.store.table as table

    monkeypatch.setattr(table, "PAGE_SIZE", page_size)
    codes, items = seeded
    newest = sorted(items, key=lambda i: i["gsi2sk"], reverse=True)
    for status, link, window in itertools.product(
        ("", *STATUSES, "refunded"), ("", codes[0]), ("", "from=2026-11-03&to=2026-11-06")
    ):
        expected = [
            i["id"]
            for i in newest
            if (not status or _shown(i) == status)
            and (not link or i["link_code"] == link)
            and (not window or "2026-11-02T20:30" <= i["created_at"] < "2026-11-06T20:30")
        ]
        parts = (f"status={status}" * bool(status), f"link={link}" * bool(link), window)
        query = "&".join(q for q in parts if q)
        pages = _pages(api, query)
        got = [i for page in pages for i in page]
        assert got == expected, query
        assert all(len(page) >= 1 for page in pages[:-1]), query  # no empty page before the last


def test_a_cursor_stays_valid_while_payments_move_and_are_archived(api, store, seeded, monkeypatch):
    import paylink.store.table as table

    monkeypatch.setattr(table, "PAGE_SIZE", 5)
    _, items = seeded
    newest = [i["id"] for i in sorted(items, key=lambda i: i["gsi2sk"], reverse=True)]
    first = api.get("/v1/payments", key=TEST_API_KEY).json()
    assert [p["id"] for p in first["items"]] == newest[:5]
    # When, before the next page, the payment the cursor names and the next one are archived
    # (a stub in no index), and a later one moves to failed
    for gone in newest[4:6]:
        store.client.put_item(
            TableName=store.table, Item={"pk": f"PAYMENT#{gone}", "sk": "PAYMENT", "archived": "stl_x"}
        )
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{newest[7]}", "sk": "PAYMENT"},
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": "failed"},
    )
    # Then the rest of the list follows the cursor: no archived stub, nothing twice, nothing lost
    rest = [i for page in _pages(api, "", first["next_cursor"]) for i in page]
    assert rest == newest[6:]


def test_the_csv_export_applies_the_same_filters(api, seeded):
    codes, items = seeded
    expected = sorted(i["id"] for i in items if _shown(i) == "refunded" and i["link_code"] == codes[0])
    answer = api.get(f"/v1/payments?status=refunded&link={codes[0]}&format=csv", key=TEST_API_KEY)
    assert answer.status == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert expected
    assert sorted(r["id"] for r in rows) == expected
    assert {r["status"] for r in rows} == {"refunded"}


def test_a_payment_archived_between_the_index_read_and_the_item_read_is_left_out(
    api, store, seeded, monkeypatch
):
    _, items = seeded
    newest = [i["id"] for i in sorted(items, key=lambda i: i["gsi2sk"], reverse=True)]
    query = store.client.query

    def then_archive(**request):  # type: ignore[no-untyped-def]
        answer = query(**request)
        for gone in newest[1:3]:  # archived right after the index answered
            store.client.put_item(
                TableName=store.table, Item={"pk": f"PAYMENT#{gone}", "sk": "PAYMENT", "archived": "stl_x"}
            )
        return answer

    monkeypatch.setattr(store.client, "query", then_archive)
    for query_string in ("", "status=paid", "status=refunded"):
        assert api.get(f"/v1/payments?{query_string}", key=TEST_API_KEY).status == 200
    got = [p["id"] for p in api.get("/v1/payments", key=TEST_API_KEY).json()["items"]]
    assert got == [newest[0], *newest[3:]]


@pytest.mark.parametrize("status", ["refunded", "reversed"])
def test_a_rare_filter_reads_a_bounded_number_of_keys_per_request_and_loses_nothing(
    api, seeded, monkeypatch, status
):
    import paylink.store.table as table

    # Given pages of 2 and a filtered page that may read at most 4 keys (2 index pages of 2)
    monkeypatch.setattr(table, "PAGE_SIZE", 2)
    monkeypatch.setattr(table, "FILTERED_INDEX_PAGE", 2)
    monkeypatch.setattr(table, "FILTER_SCAN_KEYS", 4)
    reads = count_index_pages(monkeypatch)
    _, items = seeded
    newest = sorted(items, key=lambda i: i["gsi2sk"], reverse=True)
    expected = [i["id"] for i in newest if _shown(i) == status]
    # When the merchant follows next_cursor through a filter few payments match
    got, cursor, requests = [], "", 0
    while True:
        reads.append(0)
        target = f"/v1/payments?status={status}" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(target, key=TEST_API_KEY).json()
        got += [p["id"] for p in body["items"]]
        requests += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    # Then no request read more than 2 index pages, some answered an empty page with a cursor,
    # and together they gave every match once, newest first
    assert max(reads) <= 2
    assert requests > len(expected) // 2 + 1
    assert got == expected


def test_a_cursor_of_the_list_under_another_window_is_a_400_not_a_500(api, seeded, monkeypatch):
    import paylink.store.table as table

    # Given a cursor of the unwindowed list, standing at a payment made after a window's end
    monkeypatch.setattr(table, "PAGE_SIZE", 1)
    first = api.get("/v1/payments", key=TEST_API_KEY).json()
    assert first["items"][0]["created_at"] > "2026-11-06T20:30"
    # When it is used with that window (DynamoDB refuses a start key outside the key condition)
    answer = api.get(
        f"/v1/payments?from=2026-11-03&to=2026-11-05&cursor={first['next_cursor']}", key=TEST_API_KEY
    )
    # Then the answer is a clear 400 on the cursor
    assert answer.status == 400
    assert answer.json()["error"]["fields"] == {"cursor": "not a cursor of this list"}
