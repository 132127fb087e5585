"""Refunds: the payment's conditional refund counter, refund items, the payer's link token, and the
merchant's ledger of refunds (due to be netted, netted, carried owing). See paylink.refunds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
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
from paylink.store.table import Table, _clean, _is_conditional_failure

REFUNDABLE = (PaymentStatus.PAID.value, PaymentStatus.SETTLED.value)


def refunds_due_key(merchant_id: str) -> str:
    return f"MERCHANT#{merchant_id}#REFUNDS_DUE"


# The reconciler's work list of refunds (sparse gsi2, like the waiting payments' PENDING shards): a
# refund is on it while pending or awaiting its payer, keyed by when it next needs a look.
REFUND_WORK_SHARDS = 4
PENDING_GRACE = timedelta(minutes=1)  # the request that made it pending carries it on first


def refund_work_shard(refund_id: str) -> str:
    return f"REFUNDWORK#{sum(refund_id.encode()) % REFUND_WORK_SHARDS}"


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

    def create_refund(self, payment: Payment, refund: Refund) -> bool:
        """The refund and the payment's counter in one transaction: False when the payment is not
        refundable (status) or has less than `refund.amount` left. Concurrent refunds are decided by
        the condition on `refundable` (what is left), never by a value read before."""
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
        ]
        if refund.token_hash:
            items.append(
                self._put(
                    {"pk": f"REFUNDTOKEN#{refund.token_hash}", "sk": "REFUNDTOKEN", "refund_id": refund.id},
                    condition="attribute_not_exists(pk)",
                )
            )
        return self._transact_once(items)

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
            self._put(
                {"pk": f"REFUNDTOKEN#{new_hash}", "sk": "REFUNDTOKEN", "refund_id": refund.id},
                condition="attribute_not_exists(pk)",
            ),
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
            current = self.get_refund(refund.id)
            if current is not None and current.settlement_id:
                items.append(self._owed_change(refund.merchant_id, -refund.amount))
        return self._transact_once(items)

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
            self._put(
                {"pk": f"REFUNDTOKEN#{new_hash}", "sk": "REFUNDTOKEN", "refund_id": refund.id},
                condition="attribute_not_exists(pk)",
            ),
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
        return self._transact_once(items)

    def _update_refund_if(self, refund_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"REFUND#{refund_id}", "sk": "REFUND"},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _owed_change(self, merchant_id: str, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
                "UpdateExpression": "ADD owed :d",
                "ExpressionAttributeValues": {":d": delta},
            }
        }

    def merchant_owed(self, merchant_id: str) -> int:
        """What the merchant's refunds left owing after its last closed settlement (carried balance;
        negative: a credit from a refund that failed after it was netted)."""
        item = self._get(f"MERCHANT#{merchant_id}", "PROFILE", consistent=True) or {}
        return int(item.get("owed", 0))

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
        owed_seen: int,
        net: int,
        carried_in: int,
        carried_out: int,
        **fields: str,
    ) -> bool:
        """open -> pending|held with its net after refunds, and the merchant's carried balance moved
        from `owed_seen` to `carried_out`, in one transaction (a crash leaves both or neither)."""
        sets = {"net": net, "carried_in": carried_in, "carried_out": carried_out, **fields}
        owed_condition = "attribute_not_exists(owed) OR owed = :seen" if owed_seen == 0 else "owed = :seen"
        try:
            return self._transact_once(
                [
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
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
                            "UpdateExpression": "SET owed = :out",
                            "ConditionExpression": owed_condition,
                            "ExpressionAttributeValues": {":out": carried_out, ":seen": owed_seen},
                        }
                    },
                ]
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
