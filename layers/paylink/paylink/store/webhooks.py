"""Webhook deliveries: which try of an event was made and when the next one is due."""

from __future__ import annotations

from typing import Any

from paylink.store.table import Table


class WebhookItems(Table):
    """Webhook deliveries items."""

    def webhook_delivery(self, event_id: str) -> dict[str, Any]:
        """How far an event's delivery has got: tries made, when the next is due, whether it is done."""
        item = self._get(f"WEBHOOK#{event_id}", "DELIVERY", consistent=True) or {}
        return {"attempts": int(item.get("attempts", 0)), "next_at": int(item.get("next_at_ms", 0)) / 1000,
                "done": bool(item.get("done", False))}  # fmt: skip

    def record_webhook_try(self, event_id: str, attempt: int, *, next_at: float, done: bool) -> None:
        """Count a try of an event's delivery (kept 7 days)."""
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": f"WEBHOOK#{event_id}", "sk": "DELIVERY", "attempts": attempt,
                "next_at_ms": int(next_at * 1000), "done": done, "ttl": int(next_at) + 7 * 86_400,
            },
        )  # fmt: skip
