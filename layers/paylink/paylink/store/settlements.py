"""Settlements: merchants with unsettled money, opening a settlement, settling its payments, its moves."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from paylink.core.models import (
    SETTLEMENT_MOVES,
    Payment,
    PaymentStatus,
    Settlement,
    SettlementStatus,
)
from paylink.store.table import Table, _cancellation_codes, _clean, _is_conditional_failure, encode_cursor

UNSETTLED_MERCHANTS = "UNSETTLED"  # gsi1: balances with refunds to net (store.refunds)
# Paid, unsettled payments and unpaid settlements are on shared gsi3 lists, a merchant's on one
# shard, sorted by merchant id first: the settle run finds its merchants from their keys, so no
# payment writes a flag on its merchant (issue 18: 2 WRU off every callback) and nothing has to
# clear one.
SHARDS = 16
UNSETTLED = "UNSETTLED"
PAYOUTS_DUE = "PAYOUTS_DUE"


SETTLE_PAGE = 99  # payments per settlement transaction (DynamoDB allows 100 items: 99 + the totals)


def merchant_shard(merchant_id: str) -> int:
    """The shard of the shared work lists a merchant's entries are on (stable across processes)."""
    return zlib.crc32(merchant_id.encode()) % SHARDS


def unsettled_keys(merchant_id: str, paid_at: str, payment_id: str) -> dict[str, str]:
    """gsi3 keys of a paid payment waiting for its settlement."""
    return {
        "gsi3pk": f"{UNSETTLED}#{merchant_shard(merchant_id)}",
        "gsi3sk": f"{merchant_id}#{paid_at}#{payment_id}",
    }


def payout_due_keys(merchant_id: str, date: str, settlement_id: str) -> dict[str, str]:
    """gsi3 keys of a settlement not yet paid."""
    return {
        "gsi3pk": f"{PAYOUTS_DUE}#{merchant_shard(merchant_id)}",
        "gsi3sk": f"{merchant_id}#{date}#{settlement_id}",
    }


class SettlementItems(Table):
    """Settlements items."""

    def merchants_with_unsettled_money(self) -> Iterator[str]:
        """Merchant ids, each once: of paid, unsettled payments and unpaid settlements (the shared
        gsi3 lists, read as keys only), and of balances flagged with refunds to net (gsi1)."""
        seen: set[str] = set()
        found = (
            str(key["gsi3sk"]).split("#", 1)[0]
            for kind in (UNSETTLED, PAYOUTS_DUE)
            for shard in range(SHARDS)
            for key in self._index_keys("gsi3", f"{kind}#{shard}")
        )
        flagged = (
            str(item.get("merchant_id") or item["id"])
            for item in self._query_all("gsi1", "gsi1pk", UNSETTLED_MERCHANTS)
        )
        for merchant_id in itertools.chain(found, flagged):
            if merchant_id not in seen:
                seen.add(merchant_id)
                yield merchant_id

    def _merchant_entries(
        self, kind: str, merchant_id: str, below: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """A merchant's items on a shared gsi3 list, oldest first; with `below`, those whose key
        after the merchant id sorts below it (a key is `{merchant}#{below}#...` at least, so the
        range's inclusive top is never one of them)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi3",
            "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": f"{kind}#{merchant_shard(merchant_id)}",
                ":low": f"{merchant_id}#",
                ":high": f"{merchant_id}#{below}" if below else f"{merchant_id}#\uffff",
            },
        }
        yield from self._query_items(request)

    def unsettled_payments(self, merchant_id: str, before: str | None = None) -> Iterator[Payment]:
        """A merchant's paid, unsettled payments (paid before the ISO instant `before`), oldest first."""
        for item in self._merchant_entries(UNSETTLED, merchant_id, before):
            yield Payment.model_validate(item)

    def open_settlement(self, settlement: Settlement) -> Settlement:
        """Create the settlement of a merchant's business day, or return the one already there.

        Until it is paid it stays on the PAYOUTS_DUE lists (gsi3), so a later run
        finishes it whatever state a crash or a failed payout left it in.
        """
        item = {
            "pk": f"SETTLEMENT#{settlement.id}",
            "sk": "SETTLEMENT",
            "gsi1pk": f"MERCHANT#{settlement.merchant_id}#SETTLEMENTS",
            "gsi1sk": f"{settlement.date}#{settlement.id}",
            **payout_due_keys(settlement.merchant_id, settlement.date, settlement.id),
            **settlement.model_dump(mode="json"),
        }
        try:
            self.client.put_item(
                TableName=self.table, Item=_clean(item), ConditionExpression="attribute_not_exists(pk)"
            )
            return settlement
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self.get_settlement(settlement.id)
        assert existing is not None
        return existing

    def settle_payment(self, payment: Payment, settlement_id: str, fee: int, net: int) -> bool:
        """Move one paid payment into an open settlement and add it to its totals, atomically, once."""
        return self._transact_once(self._settle_items([(payment, fee, net)], settlement_id))

    def settle_payments(self, entries: Sequence[tuple[Payment, int, int]], settlement_id: str) -> int:
        """Move paid payments (with their fee and net) into an open settlement, a page at a time.

        Each page is one transaction: every payment's conditional move and the settlement's
        totals grow together or not at all. A page that meets a payment already moved (another
        run got there) is done again one payment at a time. Returns how many this call moved.
        """
        moved = 0
        for start in range(0, len(entries), SETTLE_PAGE):
            page = entries[start : start + SETTLE_PAGE]
            try:
                self.client.transact_write_items(TransactItems=self._settle_items(page, settlement_id))
                moved += len(page)
                continue
            except Exception as exc:
                if not _is_conditional_failure(exc):
                    raise
                if _cancellation_codes(exc)[-1:] == ["ConditionalCheckFailed"]:
                    return moved  # the settlement is no longer open: nothing more goes in
            moved += sum(self.settle_payment(payment, settlement_id, fee, net) for payment, fee, net in page)
        return moved

    def _settle_items(
        self, entries: Sequence[tuple[Payment, int, int]], settlement_id: str
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET #s = :settled, settlement_id = :sid, fee = :fee, net = :net, "
                    "gsi3pk = :spk",
                    "ConditionExpression": "#s = :paid",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":settled": PaymentStatus.SETTLED.value,
                        ":paid": PaymentStatus.PAID.value,
                        ":sid": settlement_id,
                        ":fee": fee,
                        ":net": net,
                        ":spk": f"SETTLEMENT#{settlement_id}",
                    },
                }
            }
            for payment, fee, net in entries
        ]
        items.append(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
                    "UpdateExpression": "ADD payment_count :count, gross :gross, fee :fee, net :net",
                    "ConditionExpression": "#s = :open",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":count": len(entries),
                        ":gross": sum(payment.amount for payment, _, _ in entries),
                        ":fee": sum(fee for _, fee, _ in entries),
                        ":net": sum(net for _, _, net in entries),
                        ":open": SettlementStatus.OPEN.value,
                    },
                }
            }
        )
        return items

    def move_settlement(
        self,
        settlement_id: str,
        expected: SettlementStatus,
        target: SettlementStatus,
        *,
        attempts: int | None = None,
        remove: Sequence[str] = (),
        **fields: str | int,
    ) -> bool:
        """Conditional status change of a settlement; False if it was not in `expected`.

        Only moves of SETTLEMENT_MOVES are allowed. With `attempts`, the stored payout attempt
        count must also be that number. A paid settlement leaves the PAYOUTS_DUE list.
        """
        if target not in SETTLEMENT_MOVES.get(expected, frozenset()):
            raise ValueError(f"a settlement does not move from {expected.value} to {target.value}")
        sets = ["#s = :target"] + [f"{name} = :{name}" for name in fields]
        values: dict[str, Any] = {":target": target.value, ":expected": expected.value} | {
            f":{k}": v for k, v in fields.items()
        }
        removes = list(remove) + (["gsi3pk", "gsi3sk"] if target is SettlementStatus.PAID else [])
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s = :expected"
        if attempts is not None:
            values[":attempts"] = attempts
            condition += " AND (payout_attempts = :attempts" + (
                " OR attribute_not_exists(payout_attempts))" if attempts == 0 else ")"
            )
        return self._update_if(
            {"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def get_settlement(self, settlement_id: str) -> Settlement | None:
        item = self._get(f"SETTLEMENT#{settlement_id}", "SETTLEMENT", consistent=True)
        return Settlement.model_validate(item) if item else None

    def settlements_of(
        self, merchant_id: str, cursor: str | None, *, page_size: int | None = None
    ) -> tuple[list[Settlement], str | None]:
        pk = f"MERCHANT#{merchant_id}#SETTLEMENTS"
        items, next_key = self._query_page(
            "gsi1", "gsi1pk", pk, cursor, newest_first=True, page_size=page_size
        )
        return [Settlement.model_validate(i) for i in items], encode_cursor(next_key)

    def payouts_due(self, merchant_id: str) -> list[Settlement]:
        """A merchant's settlements not yet paid (open, pending, submitted, failed, held), oldest first."""
        return [Settlement.model_validate(i) for i in self._merchant_entries(PAYOUTS_DUE, merchant_id)]

    def payments_of_settlement(self, settlement_id: str) -> list[Payment]:
        return [
            Payment.model_validate(i)
            for i in self._query_all("gsi3", "gsi3pk", f"SETTLEMENT#{settlement_id}")
        ]
