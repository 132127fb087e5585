"""Refunds: the payment's conditional refund counter, refund items, the payer's link token, and the
merchant's ledger of refunds (due to be netted, netted, carried owing). See paylink.refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paylink.core.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    SettlementStatus,
)
from paylink.store.table import Table, _clean, _is_conditional_failure

REFUNDABLE = (PaymentStatus.PAID.value, PaymentStatus.SETTLED.value)


def refunds_due_key(merchant_id: str) -> str:
    return f"MERCHANT#{merchant_id}#REFUNDS_DUE"


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
        if refund.settlement_id is None and refund.status is not RefundStatus.FAILED:
            # on the merchant's ledger until a settlement nets it
            item |= {
                "gsi3pk": refunds_due_key(refund.merchant_id),
                "gsi3sk": f"{refund.created_at}#{refund.id}",
            }
        return _clean(item)

    def create_refund(self, payment: Payment, refund: Refund, max_refunds: int | None = None) -> bool:
        """The refund and the payment's counter in one transaction: False when the payment is not
        refundable (status) or has less than `refund.amount` left, or already took `max_refunds`
        refunds. Concurrent refunds are decided by the conditions, never by a value read before."""
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
        return self._transact_once(items)

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
                    "reminders = if_not_exists(reminders, :zero) + :one",
                    "ConditionExpression": "#s = :awaiting AND token_hash = :old",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":new": new_hash,
                        ":exp": expires_at or refund.expires_at or "",
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
        **fields: str | int,
    ) -> bool:
        """Conditional status change of a refund. A refund that fails gives its amount back to the
        payment's counter in the same transaction, and leaves the ledger: off the due list, or, if a
        settlement already netted it, as a credit carried to the merchant's next settlement."""
        names = {"#s": "status"}
        values: dict[str, Any] = {":target": target.value} | {f":{k}": v for k, v in fields.items()}
        values |= {f":e{i}": s.value for i, s in enumerate(expected)}
        sets = ["#s = :target"] + [f"{k} = :{k}" for k in fields]
        removes = ["gsi3pk", "gsi3sk"] if target is RefundStatus.FAILED else []
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
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
