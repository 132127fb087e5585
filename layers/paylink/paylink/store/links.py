"""Payment links and invoices: the link item, a merchant's list, due dates and reminders sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from paylink.core.models import (
    Installment,
    Link,
    LinkKind,
    Merchant,
    iso,
)
from paylink.store.payments import RETURN_RECORD_TTL_SECONDS
from paylink.store.table import (
    Table,
    _cancellation_codes,
    _clean,
    _is_conditional_failure,
    _plain,
    encode_cursor,
)


class LinkItems(Table):
    """Payment links and invoices items."""

    def put_new_link(self, link: Link, *, listed: bool = True) -> bool:
        """Store a link under a fresh code; False when the code is already taken.

        An unlisted link (a merchant's personal page) stays out of the merchant's list of links.
        """
        item = {"pk": f"LINK#{link.code}", "sk": "LINK", **link.model_dump(mode="json")}
        if listed:
            item["gsi1pk"] = f"MERCHANT#{link.merchant_id}#LINKS"
            item["gsi1sk"] = f"{link.created_at}#{link.code}"
        if link.max_payments is not None:
            item["open_slots"] = link.max_payments  # stock not sold and not held by a payment in flight
        if link.kind is LinkKind.INVOICE and link.due_date:
            item["gsi2pk"] = f"DUE#{link.due_date}"  # the reminders' work list for that day
            item["gsi2sk"] = link.code
        if link.installments:
            item["installments"] = [
                part.model_dump(mode="json", exclude_none=True) for part in link.installments
            ]
            # One installment at a time: its payment holds the one slot until it ends; a paid one
            # gives it back for the next (mark_paid), so two buyers never pay the same installment.
            item["open_slots"] = 1
        try:
            if link.installments:
                self._write_transaction(
                    [
                        self._put(_clean(item), condition="attribute_not_exists(pk)"),
                        *(
                            self._put(self._due_item(link.code, part), condition="attribute_not_exists(pk)")
                            for part in link.installments
                        ),
                    ]
                )
            else:
                self.client.put_item(
                    TableName=self.table, Item=_clean(item), ConditionExpression="attribute_not_exists(pk)"
                )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def get_link(self, code: str) -> Link | None:
        item = self._get(f"LINK#{code}", "LINK")
        return Link.model_validate(item) if item else None

    def links_of(self, merchant_id: str, cursor: str | None) -> tuple[list[Link], str | None]:
        pk = f"MERCHANT#{merchant_id}#LINKS"
        items, next_key = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True)
        return [Link.model_validate(i) for i in items], encode_cursor(next_key)

    def update_link(
        self,
        merchant_id: str,
        code: str,
        changes: dict[str, Any],
        *,
        expected_max_payments: int | None = None,
    ) -> Link | None:
        """Apply `changes` (None removes the attribute) to a merchant's own link; None if not theirs.

        A change of `max_payments` moves the link's open slots by the same amount, conditional on
        the stock the caller read (`expected_max_payments`), so stock held by payments in flight
        is never double counted.
        """
        sets, removes, adds = [], [], []
        values: dict[str, Any] = {":m": merchant_id}
        names: dict[str, str] = {}
        condition = "merchant_id = :m"
        for i, (name, value) in enumerate(changes.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = value
        if "max_payments" in changes:
            new = changes["max_payments"]
            if expected_max_payments is None:
                condition += " AND attribute_not_exists(max_payments)"
            else:
                condition += " AND max_payments = :old_max"
                values[":old_max"] = expected_max_payments
            if new is None:
                removes.append("open_slots")
            elif expected_max_payments is None:
                # from unlimited to a stock: what is left is the stock less what was already sold
                sets.append("open_slots = :new_max - if_not_exists(paid_count, :zero)")
                values |= {":new_max": new, ":zero": 0}
            else:
                adds.append("open_slots :slot_delta")
                values[":slot_delta"] = new - expected_max_payments
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(sets) if sets else "",
                "REMOVE " + ", ".join(removes) if removes else "",
                "ADD " + ", ".join(adds) if adds else "",
            )
            if part
        )
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": f"LINK#{code}", "sk": "LINK"},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        return Link.model_validate(_plain(answer["Attributes"]))

    def invoices_due(self, due_date: str) -> list[Link]:
        """Invoices whose due date is `due_date` (paid or not: the caller checks)."""
        return [Link.model_validate(i) for i in self._query_all("gsi2", "gsi2pk", f"DUE#{due_date}")]

    @staticmethod
    def _due_item(code: str, part: Installment) -> dict[str, Any]:
        """An installment's entry in its due day's work list (the reminders read it by day)."""
        key = f"{code}#{part.number:02d}"
        return {
            "pk": f"INSTALLMENTS_DUE#{part.due_date}",
            "sk": key,
            # Listed on gsi1 (every query of the code is of an index: the reminders' role may
            # query no partition of the table itself); the index key names the installment.
            "gsi1pk": f"INSTALLMENTS_DUE#{part.due_date}",
            "gsi1sk": key,
            "link_code": code,
            "number": part.number,
        }

    def installments_due(self, due_date: str) -> list[tuple[str, int]]:
        """(link code, installment number) of every installment due on `due_date` (paid or not)."""
        found: list[tuple[str, int]] = []
        for entry in self._index_keys("gsi1", f"INSTALLMENTS_DUE#{due_date}"):
            code, number = str(entry["gsi1sk"]).rsplit("#", 1)
            found.append((code, int(number)))
        return found

    def claim_reminder(self, code: str, reminder: str, now: datetime) -> bool:
        """Record that reminder `reminder` of invoice `code` is being sent; False if it was before."""
        item = {
            "pk": f"REMINDER#{code}",
            "sk": reminder,
            "sent_at": iso(now),
            "ttl": int(now.timestamp()) + RETURN_RECORD_TTL_SECONDS,
        }
        return self._put_new(item)

    def claim_reminder_slot(self, series: str, slot: int, expires_at: int) -> bool:
        """Claim numbered slot `slot` of a series of reminders (a merchant's day, or its day to one
        recipient); False if it was taken. A conditional put, not a counter: the reminders' role may
        put and get items only."""
        return self._put_new({"pk": f"REMINDSLOTS#{series}", "sk": f"{slot:05d}", "ttl": expires_at})

    def refresh_link_snapshots(self, merchant: Merchant) -> int:
        """Copy a merchant's name, limits and gateway choice onto every one of its links."""
        snapshot = {
            "merchant_name": merchant.name,
            "merchant_per_payment_cap": merchant.per_payment_cap,
            "merchant_daily_cap": merchant.daily_cap,
            "merchant_gateways": merchant.gateways,
        }
        count = 0
        for item in self._query_all("gsi1", "gsi1pk", f"MERCHANT#{merchant.id}#LINKS"):
            self.update_link(merchant.id, str(item["code"]), snapshot)
            count += 1
        # The unlisted personal page (if made yet): its ceiling is the merchant's limit per payment.
        personal = {**snapshot, "max_amount": merchant.per_payment_cap}
        if self.update_link(merchant.id, f"u-{merchant.username}", personal) is not None:
            count += 1
        return count

    def count_invoice_send(
        self,
        merchant_id: str,
        code: str,
        day: str,
        *,
        per_invoice: int,
        per_merchant: int,
        expires_at: int,
        recipients: Sequence[str] = (),
        per_recipient: int = 0,
    ) -> str | None:
        """Count one invoice send on `day` for the invoice, its merchant and each of `recipients`
        (digests of where it goes), all or none; the limit already reached ("invoice", "merchant"
        or "recipient"), or None when it was counted."""

        def counter(sk: str, cap: int) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"SENDS#{merchant_id}#{day}", "sk": sk},
                    "UpdateExpression": "ADD sends :one SET #ttl = :ttl",
                    "ConditionExpression": "attribute_not_exists(sends) OR sends < :cap",
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": {":one": 1, ":cap": cap, ":ttl": expires_at},
                }
            }

        try:
            self.client.transact_write_items(
                TransactItems=[
                    counter(f"LINK#{code}", per_invoice),
                    counter("MERCHANT", per_merchant),
                    *(counter(f"TO#{to}", per_recipient) for to in dict.fromkeys(recipients)),
                ]
            )
        except Exception as exc:
            codes = _cancellation_codes(exc)
            if not _is_conditional_failure(exc) or "ConditionalCheckFailed" not in codes:
                raise
            reached = codes.index("ConditionalCheckFailed")
            return "invoice" if reached == 0 else "merchant" if reached == 1 else "recipient"
        return None
