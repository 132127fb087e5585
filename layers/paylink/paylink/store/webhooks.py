"""Webhook deliveries: which try of an event was made, how the merchant answered, when the next is due.

One item per event (`WEBHOOK#{event_id}/DELIVERY`, kept 7 days), also on gsi1
`MERCHANT#{id}#WEBHOOKS/{event created}#{event id}` so a merchant's recent deliveries are one query.
"""

from __future__ import annotations

from typing import Any

from paylink.store.table import Table, _is_conditional_failure, encode_cursor

DELIVERY_KEPT_SECONDS = 7 * 86_400


class WebhookItems(Table):
    """Webhook deliveries items."""

    def webhook_delivery(self, event_id: str) -> dict[str, Any]:
        """How far an event's delivery has got: tries made, when the next is due, whether it is done."""
        item = self._get(f"WEBHOOK#{event_id}", "DELIVERY", consistent=True) or {}
        return {"attempts": int(item.get("attempts", 0)), "next_at": int(item.get("next_at_ms", 0)) / 1000,
                "done": bool(item.get("done", False))}  # fmt: skip

    def record_webhook_try(
        self,
        event_id: str,
        attempt: int,
        *,
        next_at: float,
        done: bool,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Count try `attempt` of an event's delivery (kept 7 days), with what the panel lists
        (`details`: merchant_id, event_type, event_created, last_status, last_answer, last_try_at,
        outcome). Conditional: a copy of the message that made the same try counts nothing again
        (False then)."""
        fields: dict[str, Any] = {
            "attempts": attempt, "next_at_ms": int(next_at * 1000), "done": done,
            "ttl": int(next_at) + DELIVERY_KEPT_SECONDS,
        }  # fmt: skip
        details = {k: v for k, v in (details or {}).items() if v is not None}
        fields.update(details)
        if details.get("merchant_id") and details.get("event_created"):
            fields["gsi1pk"] = f"MERCHANT#{details['merchant_id']}#WEBHOOKS"
            fields["gsi1sk"] = f"{details['event_created']}#{event_id}"
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": fields[name] for i, name in enumerate(fields)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"WEBHOOK#{event_id}", "sk": "DELIVERY"},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression="attribute_not_exists(attempts) OR attempts < :attempt",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":attempt": attempt},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def webhook_deliveries_of(
        self, merchant_id: str, cursor: str | None, page_size: int | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A merchant's recent deliveries (the last 7 days), newest event first, one page."""
        pk = f"MERCHANT#{merchant_id}#WEBHOOKS"
        items, last = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True, page_size=page_size)
        return items, encode_cursor(last)
