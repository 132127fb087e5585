"""The indexes hold keys only (issue 18): a query reads the items behind a page of keys from the
table, in the page's order, and leaves out an item whose index key moved since the index was read."""

from __future__ import annotations

import itertools
from typing import Any

from paylink.store.table import Table


class _Client:
    """A DynamoDB client answering one index page and reading items from a dict."""

    def __init__(self, page: list[dict[str, str]], items: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.page, self.items, self.batch_gets = page, items, []  # type: list[dict[str, Any]]

    def query(self, **request: Any) -> dict[str, Any]:
        return {"Items": self.page, "LastEvaluatedKey": {"pk": "x"}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, request), *_ = RequestItems.items()
        self.batch_gets.append(request)
        found = [self.items[(k["pk"], k["sk"])] for k in request["Keys"] if (k["pk"], k["sk"]) in self.items]
        return {"Responses": {table: list(reversed(found))}}  # BatchGetItem keeps no order


def _entry(n: int, index_pk: str = "PENDING#1") -> dict[str, str]:
    return {"pk": f"PAYMENT#{n}", "sk": "PAYMENT", "gsi3pk": index_pk, "gsi3sk": f"t{n}"}


def test_items_come_in_the_pages_order_read_consistently():
    # Given an index page of three keys and their items
    page = [_entry(n) for n in (3, 1, 2)]
    items = {(e["pk"], e["sk"]): e | {"amount": n} for n, e in zip((3, 1, 2), page, strict=True)}
    client = _Client(page, items)
    # When the page is read
    found, last = Table("t", client)._query_index({"TableName": "t", "IndexName": "gsi3"})
    # Then the items come whole, in the index's order, from one consistent BatchGetItem
    assert [i["amount"] for i in found] == [3, 1, 2]
    assert last == {"pk": "x"}
    assert [r["ConsistentRead"] for r in client.batch_gets] == [True]


def test_an_item_that_left_the_index_or_moved_in_it_is_left_out():
    # Given a page whose second item has since left the pending list and whose third moved in it
    # and whose fourth is gone
    page = [_entry(n) for n in (1, 2, 3, 4)]
    items = {
        ("PAYMENT#1", "PAYMENT"): _entry(1),
        ("PAYMENT#2", "PAYMENT"): _entry(2, "MERCHANT#m#UNSETTLED"),
        ("PAYMENT#3", "PAYMENT"): _entry(3) | {"gsi3sk": "later"},
    }
    # When the page is read
    found, _ = Table("t", _Client(page, items))._query_index({"TableName": "t", "IndexName": "gsi3"})
    # Then only the first is listed: the others are no longer what the query asked for
    assert [i["pk"] for i in found] == ["PAYMENT#1"]


def test_a_page_larger_than_a_batch_is_read_in_batches_of_100():
    # Given an index page of 250 keys (an export's page)
    page = [_entry(n) for n in range(250)]
    client = _Client(page, {(e["pk"], e["sk"]): e for e in page})
    # When it is read
    found, _ = Table("t", client)._query_index({"TableName": "t", "IndexName": "gsi3"})
    # Then all come back, in order, from three BatchGetItem calls of at most 100 keys
    assert [i["gsi3sk"] for i in found] == [f"t{n}" for n in range(250)]
    assert [len(r["Keys"]) for r in client.batch_gets] == [100, 100, 50]


class _Throttled(_Client):
    """A client whose BatchGetItem leaves every key unprocessed for its first `busy` calls."""

    def __init__(
        self, page: list[dict[str, str]], items: dict[tuple[str, str], dict[str, Any]], busy: int
    ) -> None:
        super().__init__(page, items)
        self.busy = busy

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        if self.busy:
            self.busy -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return super().batch_get_item(RequestItems)


def test_keys_left_unprocessed_are_read_again_after_growing_pauses(monkeypatch):
    import paylink.store.table as table

    # Given a table throttling the item reads of a page five times over
    pauses: list[float] = []
    monkeypatch.setattr(table.time, "sleep", pauses.append)
    page = [_entry(n) for n in range(3)]
    client = _Throttled(page, {(e["pk"], e["sk"]): e for e in page}, busy=5)
    # When the page is read
    found, _ = Table("t", client)._query_index({"TableName": "t", "IndexName": "gsi3"})
    # Then its items come back, the keys asked again after pauses that grow (DynamoDB's advice:
    # asking again at once meets the same throttling), under two seconds in all
    assert [i["pk"] for i in found] == [e["pk"] for e in page]
    assert len(pauses) == 5
    assert all(0 < a < b for a, b in itertools.pairwise(pauses))
    assert sum(pauses) < 2
