"""The shared table helper: the client and table name, conditional writes, transactions, batch
reads, paged queries and their cursors. See paylink.store for the key design.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from paylink.core.errors import ValidationFailed
from paylink.core.models import shown_status

PAGE_SIZE = 50
# Exports read pages this large: DynamoDB stops a page at 1 MB anyway, so 100,000 payments take
# about a hundred queries instead of two thousand.
EXPORT_PAGE_SIZE = 1000
# A filtered page (status, link) reads at most this many index keys, then answers what it found
# with the cursor where it stopped, even no item: a rare filter over a merchant's 100,000 payments
# would otherwise read them all (an item each, keys-only indexes) in one request, past API
# Gateway's 30 s. The client goes on with next_cursor, as with any page.
FILTER_SCAN_KEYS = 2000
FILTERED_INDEX_PAGE = 100  # index keys a filtered list reads at a time: one BatchGetItem of items
CONFLICT_RETRIES = 3  # a transaction cancelled by another one on the same item is tried again
BATCH_GET_TRIES = 8  # a BatchGetItem's unprocessed keys are asked again, pausing 10 ms, 20 ms...
BATCH_GET_PAUSE = 0.01  # (at most ~1.3 s in all)


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints, recursively (we store no fractional numbers)."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: DynamoDB needs no nulls, and absent reads back as the model's default."""
    return {k: v for k, v in item.items() if v is not None}


def _is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _cancellation_codes(exc: Exception) -> list[str]:
    reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
    return [reason.get("Code", "None") for reason in reasons]


def shard_of(key: str, shards: int) -> int:
    """A work list's shard for `key` (the sum of its bytes: the same in every process, unlike hash())."""
    return sum(key.encode()) % shards


def _status_matches(item: dict[str, Any], status: str) -> bool:
    """Whether a payment item shows `status` (core.models.shown_status: a fully refunded payment
    shows `refunded`, no longer `paid` or `settled`)."""
    if "status" not in item:  # not a payment (an archived one's stub is on no list)
        return False
    shown = shown_status(str(item["status"]), int(item.get("amount", 0)), int(item.get("amount_refunded", 0)))
    return shown.value == status


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, expected_pk: str, pk_name: str) -> dict[str, Any] | None:
    """A cursor from an earlier page; one of another list or another merchant is refused.

    It must be exactly a key of this list's index (the table's and the index's key parts, all
    text): anything else would reach DynamoDB as a malformed ExclusiveStartKey, a 500.
    """
    if not cursor:
        return None
    refused = ValidationFailed("invalid cursor", fields={"cursor": "not a cursor of this list"})
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:  # not base64, not UTF-8 or not JSON
        raise refused from exc
    parts = {"pk", "sk", pk_name, pk_name.replace("pk", "sk")}
    if (
        not isinstance(key, dict)
        or set(key) != parts
        or not all(isinstance(value, str) for value in key.values())
        or key[pk_name] != expected_pk
    ):
        raise refused
    return key


class Table:
    """The one table: its name, the client, and the reads and writes every kind of item shares."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client  # the resource-level client: plain Python values in and out

    def _put(self, item: dict[str, Any], *, condition: str) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": condition}}

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put an item that must not exist yet (a claim); False, nothing written, when it does."""
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _transact_once(self, items: Sequence[dict[str, Any]]) -> bool:
        try:
            self.client.transact_write_items(TransactItems=list(items))
        except Exception as exc:
            if _is_conditional_failure(exc) and "ConditionalCheckFailed" in _cancellation_codes(exc):
                return False
            raise
        return True

    def _update_if(self, key: dict[str, str], **request: Any) -> bool:
        """One conditional UpdateItem (`request`: its expressions); False when its condition fails."""
        try:
            self.client.update_item(TableName=self.table, Key=key, **request)
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Read up to 100 keys in one call (consistent), then any unprocessed ones again after a
        pause that doubles each time (DynamoDB leaves keys unprocessed when throttled, and asking
        again at once meets the same throttling; every list reads its items this way)."""
        items: list[dict[str, Any]] = []
        request = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(BATCH_GET_TRIES):
            if attempt:
                time.sleep(BATCH_GET_PAUSE * 2 ** (attempt - 1) * random.uniform(0.75, 1.0))  # jitter
            answer = self.client.batch_get_item(RequestItems=request)
            items.extend(_plain(answer["Responses"].get(self.table, [])))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return items
        raise RuntimeError(f"DynamoDB left keys unprocessed after {BATCH_GET_TRIES} tries")

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table, Key={"pk": pk, "sk": sk}, ConsistentRead=consistent
        )
        item = answer.get("Item")
        return _plain(item) if item else None

    def _query_page(
        self,
        index: str,
        pk_name: str,
        pk: str,
        cursor: str | None,
        *,
        newest_first: bool,
        status: str | None = None,
        link: str | None = None,
        since: str | None = None,
        until: str | None = None,
        page_size: int | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        page_size = page_size or PAGE_SIZE  # read at call time (tests shrink PAGE_SIZE)
        sk_name = pk_name.replace("pk", "sk")
        condition = f"{pk_name} = :pk"
        values: dict[str, Any] = {":pk": pk}
        if since and until:
            condition += f" AND {sk_name} BETWEEN :since AND :until"
            values |= {":since": since, ":until": until + "\uffff"}
        elif since:
            condition += f" AND {sk_name} >= :since"
            values[":since"] = since
        elif until:
            condition += f" AND {sk_name} <= :until"
            values[":until"] = until + "\uffff"
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "Limit": page_size,
        }
        start = decode_cursor(cursor, pk, pk_name)
        if start:
            # DynamoDB refuses a start key outside the key condition (a ValidationException, a
            # 500): a cursor of the same list under another from/to is refused here as a 400.
            if (since and start[sk_name] < since) or (until and start[sk_name] > until + "\uffff"):
                raise ValidationFailed("invalid cursor", fields={"cursor": "not a cursor of this list"})
            request["ExclusiveStartKey"] = start

        def shown(item: dict[str, Any]) -> bool:
            return (not status or _status_matches(item, status)) and (
                not link or item.get("link_code") == link
            )

        # A filter may empty a page: read on, FILTERED_INDEX_PAGE keys at a time, until the page is
        # full or the list ends, within FILTER_SCAN_KEYS (both read at call time: tests shrink them).
        keys_left = None
        if status or link:
            request["Limit"] = max(page_size, FILTERED_INDEX_PAGE)
            keys_left = max(page_size, FILTER_SCAN_KEYS)
        items: list[dict[str, Any]] = []
        while True:
            found, last = self._query_index(request)
            for at, item in enumerate(found, 1):
                if not shown(item):
                    continue
                items.append(item)
                if len(items) == page_size:  # the page ends at this item: the next one starts after it
                    more = at < len(found) or last is not None
                    return items, (self._index_key(item, pk_name) if more else None)
            if not last:
                return items, None
            if keys_left is not None:
                keys_left -= request["Limit"]
                if keys_left <= 0:
                    return items, last
            request["ExclusiveStartKey"] = last

    @staticmethod
    def _index_key(item: dict[str, Any], pk_name: str) -> dict[str, Any]:
        """An item's key in an index (the table's key and the index's), as a page's cursor holds it."""
        sk_name = pk_name.replace("pk", "sk")
        return {name: item[name] for name in ("pk", "sk", pk_name, sk_name)}

    def _query_all(
        self, index: str, pk_name: str, pk: str, *, sk_below: str | None = None
    ) -> Iterator[dict[str, Any]]:
        sk_name = pk_name.replace("pk", "sk")
        condition = f"{pk_name} = :pk" + (f" AND {sk_name} < :below" if sk_below else "")
        values: dict[str, Any] = {":pk": pk} | ({":below": sk_below} if sk_below else {})
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        yield from self._query_items(request)

    def _query_items(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item an index query finds, page after page (see _query_index)."""
        while True:
            found, last = self._query_index(request)
            yield from found
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def _index_keys(self, index: str, pk: str) -> Iterator[dict[str, Any]]:
        """Every entry (keys only) of one partition of an index; no item is read."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": f"{index}pk = :pk",
            "ExpressionAttributeValues": {":pk": pk},
        }
        while True:
            answer = self.client.query(**request)
            yield from _plain(answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _query_index(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a query of an index, as the items themselves, in the page's order; and the
        page's LastEvaluatedKey.

        The indexes hold keys only (template.yaml, issue 18: an update that moves no index key then
        writes no index entry), so the items are read from the table, consistently: an item is
        then at least as new as its index entry. One whose index key changed since the index was
        read is left out: it is no longer what the query asked for (it shows where its new key
        puts it); the index itself lags the table as it always did.
        """
        answer = self.client.query(**request)
        entries = _plain(answer.get("Items", []))
        pk_name = request["IndexName"] + "pk"
        sk_name = request["IndexName"] + "sk"
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(entries), 100):
            keys = [{"pk": e["pk"], "sk": e["sk"]} for e in entries[start : start + 100]]
            for item in self._batch_get(keys):
                found[(item["pk"], item["sk"])] = item
        items = []
        for entry in entries:
            current = found.get((entry["pk"], entry["sk"]))
            if current is not None and (current.get(pk_name), current.get(sk_name)) == (
                entry[pk_name],
                entry[sk_name],
            ):
                items.append(current)
        return items, answer.get("LastEvaluatedKey")

    def _write_transaction(self, items: Sequence[dict[str, Any]]) -> None:
        """TransactWriteItems, tried again a few times when DynamoDB cancelled it only because another
        transaction had one of its items at that moment (TransactionConflict: a merchant's day or a
        client's hold under parallel checkouts). Nothing was written then, and the same conditional
        writes decide again; a refused condition is raised at once."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.client.transact_write_items(TransactItems=list(items))
                return
            except Exception as exc:
                codes = _cancellation_codes(exc) if _is_conditional_failure(exc) else []
                if (
                    attempt == CONFLICT_RETRIES
                    or "TransactionConflict" not in codes
                    or "ConditionalCheckFailed" in codes
                ):
                    raise
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))  # jitter, not a secret
