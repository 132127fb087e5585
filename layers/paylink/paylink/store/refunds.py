"""Refunds: the payment's conditional refund counter, refund items, the payer's link token, the
merchant's balance item (what its refunds claim, what it owes, a version every close bumps) and its
ledger entries (refund, reversal, payout). See paylink.refunds and paylink.settlement.ledger.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from paylink.core.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    SettlementStatus,
    iso,
    utcnow,
)
from paylink.store.settlements import UNSETTLED_MERCHANTS
from paylink.store.table import Table, _cancellation_codes, _clean, _is_conditional_failure, shard_of

REFUNDABLE = (PaymentStatus.PAID.value, PaymentStatus.SETTLED.value)
ROOM_LEFT = "(attribute_not_exists(claims) OR claims <= :room)"
CONFLICT_TRIES = 8  # a refund's transaction cancelled only by another one on the balance item at once


def refunds_due_key(merchant_id: str) -> str:
    return f"MERCHANT#{merchant_id}#REFUNDS_DUE"


def ledger_key(merchant_id: str) -> str:
    return f"MERCHANT#{merchant_id}#LEDGER"


@dataclass(frozen=True)
class Balance:
    """The merchant's balance item as read: `claims` is what its refunds hold against the money we
    keep for it (refunds not yet netted + refunds netted in open settlements + `owed`); `owed` what
    refunds left owing after its last closed settlement; `version` grows with every close."""

    version: int = 0
    claims: int = 0
    owed: int = 0
    flagged: bool = False  # on the settle run's list (a refund came since it was last cleared)


class RefundWrite(Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # a refund with this id is already there (the same request)
    PAYMENT_REFUSED = "payment_refused"  # not refundable, or less left than asked
    BALANCE_CHANGED = "balance_changed"  # a settlement closed, or other refunds took the room
    TOO_MANY = "too_many"  # the payment already took the most refunds it may
    NOT_COVERED = "not_covered"  # `cover` leaves no room for it beside the claims seen: nothing written


# The reconciler's work list of refunds (sparse gsi2, like the waiting payments' PENDING shards): a
# refund is on it while pending or awaiting its payer, keyed by when it next needs a look.
REFUND_WORK_SHARDS = 4
PENDING_GRACE = timedelta(minutes=1)  # the request that made it pending carries it on first


def refund_work_shard(refund_id: str) -> str:
    return f"REFUNDWORK#{shard_of(refund_id, REFUND_WORK_SHARDS)}"


def _work_key(refund: Refund, status: RefundStatus, expires_at: str | None = None) -> str:
    """When it next needs the reconciler: a pending one a minute from now (or its creation), one
    awaiting its payer when its link expires, a final one (its event to tell) now."""
    if status in (RefundStatus.SUCCEEDED, RefundStatus.FAILED):
        due = iso(utcnow())
    elif status is RefundStatus.AWAITING_PAYER:
        due = expires_at or refund.expires_at or refund.created_at
    elif status is refund.status:
        due = iso(datetime.fromisoformat(refund.created_at) + PENDING_GRACE)
    else:
        due = iso(utcnow() + PENDING_GRACE)
    return f"{due}#{refund.id}"


class RefundItems(Table):
    """Refund items and the counters that keep them exact."""

    def _refund_item(self, refund: Refund) -> dict[str, Any]:
        item = {
            "pk": f"REFUND#{refund.id}",
            "sk": "REFUND",
            "gsi1pk": f"PAYMENT#{refund.payment_id}#REFUNDS",
            "gsi1sk": f"{refund.created_at}#{refund.id}",
            **refund.model_dump(mode="json"),
            "token_hash": refund.token_hash,
            "iban": refund.iban,
        }
        if refund.status in (RefundStatus.PENDING, RefundStatus.AWAITING_PAYER):
            item |= {"gsi2pk": refund_work_shard(refund.id), "gsi2sk": _work_key(refund, refund.status)}
        if refund.settlement_id is None and refund.status is not RefundStatus.FAILED:
            # on the merchant's ledger until a settlement nets it
            item |= {
                "gsi3pk": refunds_due_key(refund.merchant_id),
                "gsi3sk": f"{refund.created_at}#{refund.id}",
            }
        return _clean(item)

    def create_refund(
        self, payment: Payment, refund: Refund, seen: Balance, cover: int, max_refunds: int | None = None
    ) -> RefundWrite:
        """The refund, the payment's counter, the merchant's balance and the refund's ledger entry in
        one transaction. The payment's condition on `refundable` keeps its refunds within its amount;
        the balance's keeps all the merchant's refunds within `cover` (what the ledger covers, read
        after `seen`): its claims must still leave room for this one and no settlement may have
        closed since (`version`). Concurrent refunds of one merchant are decided by those conditions,
        never by a value read before. `max_refunds`: at most that many refunds per payment (failed ones
        count), counted in the same transaction."""
        if refund.amount > cover - seen.claims:
            return RefundWrite.NOT_COVERED  # (with no claims stored yet, the condition below cannot tell)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET refundable = if_not_exists(refundable, amount) - :amt, "
                    "amount_refunded = if_not_exists(amount_refunded, :zero) + :amt",
                    "ConditionExpression": "#s IN (:paid, :settled) AND ((attribute_not_exists(refundable) "
                    "AND amount >= :amt) OR refundable >= :amt)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":amt": refund.amount,
                        ":zero": 0,
                        ":paid": REFUNDABLE[0],
                        ":settled": REFUNDABLE[1],
                    },
                }
            },
            self._put(self._refund_item(refund), condition="attribute_not_exists(pk)"),
            self._balance_update(
                refund.merchant_id,
                "ADD claims :amt SET gsi1pk = :flag, gsi1sk = :mid, merchant_id = :mid",
                {":amt": refund.amount, ":room": cover - refund.amount, ":flag": UNSETTLED_MERCHANTS},
                condition=_version_is(seen.version) + " AND " + ROOM_LEFT,
                version=seen.version,
            ),
            self._ledger_entry(refund.merchant_id, "refund", -refund.amount, refund.created_at, refund.id),
        ]
        if max_refunds is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"REFUNDCOUNT#{payment.id}", "sk": "COUNT"},
                        "UpdateExpression": "ADD n :one",
                        "ConditionExpression": "attribute_not_exists(n) OR n < :most",
                        "ExpressionAttributeValues": {":one": 1, ":most": max_refunds},
                    }
                }
            )
        if refund.token_hash:
            items.append(
                self._put(
                    {"pk": f"REFUNDTOKEN#{refund.token_hash}", "sk": "REFUNDTOKEN", "refund_id": refund.id},
                    condition="attribute_not_exists(pk)",
                )
            )
        codes = self._transact_codes(items)
        if not codes:
            return RefundWrite.CREATED
        if codes[1] == "ConditionalCheckFailed":
            return RefundWrite.DUPLICATE
        if codes[0] == "ConditionalCheckFailed":
            return RefundWrite.PAYMENT_REFUSED
        if max_refunds is not None and codes[4] == "ConditionalCheckFailed":
            return RefundWrite.TOO_MANY
        return RefundWrite.BALANCE_CHANGED

    def _transact_codes(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """Write a transaction; [] when written, else the cancellation reasons of its refused
        conditions. A cancellation only by another transaction on one of its items at that moment
        (TransactionConflict: the merchant's balance under concurrent refunds) is tried again."""
        for attempt in range(CONFLICT_TRIES):
            try:
                self.client.transact_write_items(TransactItems=list(items))
                return []
            except Exception as exc:
                if not _is_conditional_failure(exc):
                    raise
                codes = _cancellation_codes(exc)
                if "ConditionalCheckFailed" in codes:
                    return codes
                if "TransactionConflict" not in codes or attempt == CONFLICT_TRIES - 1:
                    raise
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # jitter, not a secret
        raise AssertionError("unreachable")

    def _balance_update(
        self,
        merchant_id: str,
        expression: str,
        values: dict[str, Any],
        *,
        condition: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": f"MERCHANT#{merchant_id}", "sk": "BALANCE"},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values
            | ({":mid": merchant_id} if ":mid" in expression else {})
            | ({":v": version} if condition and ":v" in condition else {}),
        }
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def _ledger_entry(
        self, merchant_id: str, kind: str, amount: int, at: str, object_id: str, **extra: Any
    ) -> dict[str, Any]:
        """One ledger entry (a Put). Its key is made of its time, kind and object, so the transaction
        that writes it (a change made once) writes it once."""
        item = {
            "pk": f"LEDGER#{kind}#{object_id}",
            "sk": "LEDGER",
            "gsi1pk": ledger_key(merchant_id),
            "gsi1sk": f"{at}#{kind}#{object_id}",
            "type": kind,
            "amount": amount,
            "created_at": at,
            "object_id": object_id,
            **extra,
        }
        return {"Put": {"TableName": self.table, "Item": _clean(item)}}

    def paid_payments_page(
        self, merchant_id: str, *, below: str | None, since: str | None, until: str | None, limit: int
    ) -> tuple[list[Payment], bool, str | None]:
        """A merchant's paid or settled payments, newest first by start (gsi2, the payments list's
        index), keys below `below`, started from `since` to `until`; whether more may follow; and,
        when the keys this call may read ran out first, the lowest key it read (every refundable
        payment at or above it is in the answer, those below it are not looked at yet).

        Unpaid payments (anyone may start and abandon one) are skipped on the way, within
        FILTER_SCAN_KEYS keys read FILTERED_INDEX_PAGE at a time, as the filtered payment lists."""
        from paylink.store import table

        highs = [h for h in (below, until + "\uffff" if until else None) if h]
        condition, values = "gsi2pk = :pk", {":pk": f"MERCHANT#{merchant_id}#PAYMENTS"}
        if since and highs:
            condition += " AND gsi2sk BETWEEN :low AND :high"
            values |= {":low": since, ":high": min(highs)}
        elif since:
            condition += " AND gsi2sk >= :low"
            values[":low"] = since
        elif highs:
            condition += " AND gsi2sk <= :high"
            values[":high"] = min(highs)
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi2",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": max(limit + 1, table.FILTERED_INDEX_PAGE),
        }
        keys_left = max(limit + 1, table.FILTER_SCAN_KEYS)
        found: list[dict[str, Any]] = []
        while True:  # the filter may empty a page: read on until enough, the list ends or the keys do
            items, last = self._query_index(request)
            found.extend(
                i for i in items if i.get("status") in REFUNDABLE and (not below or i["gsi2sk"] < below)
            )
            if len(found) > limit or not last:
                more = len(found) > limit or bool(last)
                return [Payment.model_validate(i) for i in found[:limit]], more, None
            keys_left -= request["Limit"]
            if keys_left <= 0:
                return [Payment.model_validate(i) for i in found], True, str(last["gsi2sk"])
            request["ExclusiveStartKey"] = last

    def merchant_balance(self, merchant_id: str) -> Balance:
        """The merchant's balance item (consistent read); zeros before its first refund."""
        item = self._get(f"MERCHANT#{merchant_id}", "BALANCE", consistent=True) or {}
        return Balance(
            version=int(item.get("version", 0)),
            claims=int(item.get("claims", 0)),
            owed=int(item.get("owed", 0)),
            flagged="gsi1pk" in item,
        )

    def clear_refund_flag(self, merchant_id: str, seen: Balance) -> None:
        """Take the balance off the settle run's list unless a refund came or a settlement closed
        since `seen` (the caller saw no refund waiting to be netted after reading `seen`)."""
        update = self._balance_update(
            merchant_id,
            "REMOVE gsi1pk, gsi1sk",
            {":c": seen.claims},
            condition=_version_is(seen.version) + " AND " + _claims_are(seen.claims),
            version=seen.version,
        )
        try:
            self.client.update_item(**update["Update"])
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def ledger_entries(
        self, merchant_id: str, *, below: str | None, since: str | None, until: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """A merchant's ledger items, newest first: keys below `below` (a cursor), from `since` to
        `until` (ISO instants); and whether more may follow."""
        highs = [h for h in (below, until + "\uffff" if until else None) if h]
        condition, values = "gsi1pk = :pk", {":pk": ledger_key(merchant_id)}
        if since and highs:
            condition += " AND gsi1sk BETWEEN :low AND :high"
            values |= {":low": since, ":high": min(highs)}
        elif since:
            condition += " AND gsi1sk >= :low"
            values[":low"] = since
        elif highs:
            condition += " AND gsi1sk <= :high"
            values[":high"] = min(highs)
        found, last = self._query_index(
            {
                "TableName": self.table,
                "IndexName": "gsi1",
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit + 1,
            }
        )
        items = [i for i in found if not below or i["gsi1sk"] < below]
        return items[:limit], len(items) > limit or bool(last)

    def refund_count(self, payment_id: str) -> int:
        """Refunds a payment took (created ones, failed included), as create_refund counts them."""
        item = self._get(f"REFUNDCOUNT#{payment_id}", "COUNT", consistent=True)
        return int(item["n"]) if item else 0

    def get_refund(self, refund_id: str) -> Refund | None:
        item = self._get(f"REFUND#{refund_id}", "REFUND", consistent=True)
        return Refund.model_validate(item) if item else None

    def refund_for_token(self, token_hash: str) -> Refund | None:
        item = self._get(f"REFUNDTOKEN#{token_hash}", "REFUNDTOKEN", consistent=True)
        return self.get_refund(str(item["refund_id"])) if item else None

    def replace_refund_token(self, refund: Refund, new_hash: str, expires_at: str | None = None) -> bool:
        """A reminder's new payer link: the old token stops working, the count of reminders grows,
        the link's life starts again (`expires_at`)."""
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
                    "UpdateExpression": "SET token_hash = :new, expires_at = :exp, "
                    "reminders = if_not_exists(reminders, :zero) + :one, gsi2pk = :work, gsi2sk = :due",
                    "ConditionExpression": "#s = :awaiting AND token_hash = :old",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":new": new_hash,
                        ":exp": expires_at or refund.expires_at or "",
                        ":work": refund_work_shard(refund.id),
                        ":due": _work_key(refund, RefundStatus.AWAITING_PAYER, expires_at),
                        ":old": refund.token_hash,
                        ":zero": 0,
                        ":one": 1,
                        ":awaiting": RefundStatus.AWAITING_PAYER.value,
                    },
                }
            },
            *self._token_swap(refund, new_hash),
        ]
        return self._transact_once(items)

    def refunds_of_payment(self, payment_id: str) -> list[Refund]:
        """A payment's refunds, oldest first (a payment has few: each takes part of its amount)."""
        return [
            Refund.model_validate(i)
            for i in self._query_all("gsi1", "gsi1pk", f"PAYMENT#{payment_id}#REFUNDS")
        ]

    def refunds_due(self, merchant_id: str, before: str | None = None) -> list[Refund]:
        """A merchant's refunds not failed and not yet netted by a settlement (created before `before`)."""
        return [
            Refund.model_validate(i)
            for i in self._query_all("gsi3", "gsi3pk", refunds_due_key(merchant_id), sk_below=before)
        ]

    def move_refund(
        self,
        refund: Refund,
        expected: Sequence[RefundStatus],
        target: RefundStatus,
        *,
        while_token: str | None = None,
        **fields: str | int,
    ) -> bool:
        """Conditional status change of a refund. A refund that fails gives its amount back to the
        payment's counter in the same transaction, and leaves the ledger: off the due list, or, if a
        settlement already netted it, as a credit carried to the merchant's next settlement.
        `while_token`: only while the payer's link is still that one (no reminder came between)."""
        names = {"#s": "status"}
        values: dict[str, Any] = {":target": target.value} | {f":{k}": v for k, v in fields.items()}
        values |= {f":e{i}": s.value for i, s in enumerate(expected)}
        sets = ["#s = :target"] + [f"{k} = :{k}" for k in fields]
        removes = ["gsi3pk", "gsi3sk"] if target is RefundStatus.FAILED else []
        # the reconciler's work list: on it while pending or awaiting the payer, and once final
        # until its event is queued (refund_told), so a crash between the two loses no event
        sets += ["gsi2pk = :work", "gsi2sk = :due"]
        values |= {":work": refund_work_shard(refund.id), ":due": _work_key(refund, target)}
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        if while_token is not None:
            condition += " AND token_hash = :while_token"
            values[":while_token"] = while_token
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if target is RefundStatus.FAILED:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"PAYMENT#{refund.payment_id}", "sk": "PAYMENT"},
                        "UpdateExpression": "SET refundable = refundable + :amt, "
                        "amount_refunded = amount_refunded - :amt",
                        "ExpressionAttributeValues": {":amt": refund.amount},
                    }
                }
            )
            # Its claim leaves the balance; netted already, it is a credit carried to the next one.
            current = self.get_refund(refund.id)
            netted = current is not None and current.settlement_id is not None
            items.append(
                self._balance_update(
                    refund.merchant_id,
                    "ADD claims :back" + (", owed :back" if netted else ""),
                    {":back": -refund.amount},
                )
            )
            at = str(fields.get("completed_at") or iso(utcnow()))
            items.append(self._ledger_entry(refund.merchant_id, "reversal", refund.amount, at, refund.id))
        return not self._transact_codes(items)

    def refunds_needing_work(self, due_before: str) -> Iterator[Refund]:
        """Refunds pending or awaiting their payer whose next look is due before `due_before`
        (the reconciler's work list: a Query per shard, never a Scan)."""
        for shard in range(REFUND_WORK_SHARDS):
            for item in self._query_all("gsi2", "gsi2pk", f"REFUNDWORK#{shard}", sk_below=due_before):
                yield Refund.model_validate(item)

    def refund_told(self, refund: Refund) -> None:
        """A final refund's event is queued: off the reconciler's work list."""
        self._update_refund_if(
            refund.id,
            "REMOVE gsi2pk, gsi2sk",
            "#s IN (:succeeded, :failed)",
            {":succeeded": RefundStatus.SUCCEEDED.value, ":failed": RefundStatus.FAILED.value},
        )

    def claim_reverse(self, refund: Refund, until: str, now: str) -> bool:
        """The right to call the gateway's reverse for a pending refund until `until`: one caller at
        a time (a claim past its time may be taken again: its call's answer was lost)."""
        return self._update_refund_if(
            refund.id,
            "SET reverse_claimed_until = :until",
            "#s = :pending AND (attribute_not_exists(reverse_claimed_until) OR reverse_claimed_until < :now)",
            {":until": until, ":now": now, ":pending": RefundStatus.PENDING.value},
        )

    def claim_read_check(self, refund: Refund, now: str, next_at: str) -> bool:
        """The right of one read to ask the provider about a pending refund now; the next read may
        ask only from `next_at` (reads are free to repeat, the provider's quota is not)."""
        return self._update_refund_if(
            refund.id,
            "SET next_check_at = :next",
            "#s = :pending AND (attribute_not_exists(next_check_at) OR next_check_at <= :now)",
            {":next": next_at, ":now": now, ":pending": RefundStatus.PENDING.value},
        )

    def next_transfer_attempt(self, refund: Refund, reason: str) -> bool:
        """Attempt n of a pending transfer failed: move to attempt n + 1 (its own transfer id), once,
        whoever else saw the same failure at the same time."""
        return self._update_refund_if(
            refund.id,
            "SET transfer_attempts = :next, failure_reason = :reason",
            "#s = :pending AND transfer_attempts = :n",
            {
                ":next": refund.transfer_attempts + 1,
                ":reason": reason,
                ":n": refund.transfer_attempts,
                ":pending": RefundStatus.PENDING.value,
            },
        )

    def ask_payer_again(self, refund: Refund, new_hash: str, expires_at: str, reason: str) -> bool:
        """A transfer the destination refused: back to awaiting the payer with a new link (the old
        token stops working, the checked account is forgotten), once, in one transaction."""
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
                    "UpdateExpression": "SET #s = :awaiting, token_hash = :new, expires_at = :exp, "
                    "failure_reason = :reason, gsi2pk = :work, gsi2sk = :due REMOVE iban",
                    "ConditionExpression": "#s = :pending AND transfer_attempts = :n",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":awaiting": RefundStatus.AWAITING_PAYER.value,
                        ":pending": RefundStatus.PENDING.value,
                        ":new": new_hash,
                        ":exp": expires_at,
                        ":reason": reason,
                        ":n": refund.transfer_attempts,
                        ":work": refund_work_shard(refund.id),
                        ":due": _work_key(refund, RefundStatus.AWAITING_PAYER, expires_at),
                    },
                }
            },
            *self._token_swap(refund, new_hash),
        ]
        return self._transact_once(items)

    def _update_refund_if(self, refund_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        return self._update_if(
            {"pk": f"REFUND#{refund_id}", "sk": "REFUND"},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def _token_swap(self, refund: Refund, new_hash: str) -> list[dict[str, Any]]:
        """The payer's new link in place of the old one (in the caller's transaction)."""
        items: list[dict[str, Any]] = [
            self._put(
                {"pk": f"REFUNDTOKEN#{new_hash}", "sk": "REFUNDTOKEN", "refund_id": refund.id},
                condition="attribute_not_exists(pk)",
            )
        ]
        if refund.token_hash:
            items.append(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": f"REFUNDTOKEN#{refund.token_hash}", "sk": "REFUNDTOKEN"},
                    }
                }
            )
        return items

    def merchant_owed(self, merchant_id: str) -> int:
        """What the merchant's refunds left owing after its last closed settlement (carried balance;
        negative: a credit from a refund that failed after it was netted)."""
        return self.merchant_balance(merchant_id).owed

    def net_refund(self, refund: Refund, settlement_id: str) -> bool:
        """Net one due refund in an open settlement: off the due list, into its `refunds`, once."""
        return self._transact_once(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
                        "UpdateExpression": "SET settlement_id = :sid REMOVE gsi3pk, gsi3sk",
                        "ConditionExpression": "attribute_exists(gsi3pk) AND #s <> :failed",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":sid": settlement_id,
                            ":failed": RefundStatus.FAILED.value,
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
                        "UpdateExpression": "ADD refunds :amt",
                        "ConditionExpression": "#s = :open",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":amt": refund.amount,
                            ":open": SettlementStatus.OPEN.value,
                        },
                    }
                },
            ]
        )

    def close_settlement(
        self,
        settlement_id: str,
        merchant_id: str,
        target: SettlementStatus,
        *,
        seen: Balance,
        claims: int,
        net: int,
        carried_in: int,
        carried_out: int,
        at: str,
        **fields: str,
    ) -> bool:
        """open -> pending|held with its net after refunds; the merchant's balance moved from `seen`
        to `claims` and `carried_out` owed, its version bumped; the payout's ledger entry: in one
        transaction (a crash leaves all or none), refused when the balance changed since `seen`
        (a refund came or failed meanwhile: the caller nets again and retries)."""
        sets = {"net": net, "carried_in": carried_in, "carried_out": carried_out, **fields}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
                    "UpdateExpression": "SET #s = :target, " + ", ".join(f"{k} = :{k}" for k in sets),
                    "ConditionExpression": "#s = :open",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":target": target.value,
                        ":open": SettlementStatus.OPEN.value,
                    }
                    | {f":{k}": v for k, v in sets.items()},
                }
            },
            self._balance_update(
                merchant_id,
                "SET owed = :out, claims = :claims, version = :next",
                {":out": carried_out, ":claims": claims, ":next": seen.version + 1, ":c": seen.claims},
                condition=_version_is(seen.version) + " AND " + _claims_are(seen.claims),
                version=seen.version,
            ),
        ]
        if net:
            items.append(self._ledger_entry(merchant_id, "payout", -net, at, settlement_id))
        return not self._transact_codes(items)


def _version_is(version: int) -> str:
    return "attribute_not_exists(version)" if version == 0 else "version = :v"


def _claims_are(claims: int) -> str:
    return "(attribute_not_exists(claims) OR claims = :c)" if claims == 0 else "claims = :c"
