"""Merchant notices: webhook deliveries and the Telegram bot's items.

Webhook deliveries: which try of an event was made, how the merchant answered, when the next is
due. One item per event (`WEBHOOK#{event_id}/DELIVERY`, kept 7 days), also on gsi1
`MERCHANT#{id}#WEBHOOKS/{event created}#{event id}` so a merchant's recent deliveries are one query.
The Telegram bot: one-time link tokens, linked chats, updates seen, notices sent.
"""

from __future__ import annotations

from typing import Any

from paylink.store.table import Table, _clean, _is_conditional_failure, encode_cursor, shard_of

DELIVERY_KEPT_SECONDS = 7 * 86_400
UNSENT_SHARDS = 8
UNSENT_KEPT_SECONDS = 7 * 86_400  # as long as a delivery's record: the reconciler sends it within minutes


def unsent_shard(event_id: str) -> str:
    return f"UNSENT#{shard_of(event_id, UNSENT_SHARDS)}"


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

    def keep_unsent_event(self, event_id: str, body: str, attributes: dict[str, str], now: float) -> None:
        """Keep an event the notify queue refused (`UNSENT#{event id}`, listed on gsi1
        `UNSENT#{shard}`) for the reconciler to queue again; the same event kept twice is one item."""
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": f"UNSENT#{event_id}",
                "sk": "UNSENT",
                "gsi1pk": unsent_shard(event_id),
                "gsi1sk": f"{int(now)}#{event_id}",
                "event_id": event_id,
                "body": body,
                "attributes": attributes,
                "ttl": int(now) + UNSENT_KEPT_SECONDS,
            },
        )

    def unsent_events(self) -> list[dict[str, Any]]:
        """Every kept event, oldest first in each shard (few: what the queue refused since the last run)."""
        return [
            item
            for shard in range(UNSENT_SHARDS)
            for item in self._query_all("gsi1", "gsi1pk", f"UNSENT#{shard}")
        ]

    def drop_unsent_event(self, event_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": f"UNSENT#{event_id}", "sk": "UNSENT"})

    def webhook_deliveries_of(
        self, merchant_id: str, cursor: str | None, page_size: int | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A merchant's recent deliveries (the last 7 days), newest event first, one page."""
        pk = f"MERCHANT#{merchant_id}#WEBHOOKS"
        items, last = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True, page_size=page_size)
        return items, encode_cursor(last)


UPDATE_TTL = 2 * 86_400  # Telegram gives up redelivering an update within a day
NOTICE_TTL = 7 * 86_400  # the notify queue's retries end after three days


class TelegramItems(Table):
    """Telegram bot items."""

    def put_telegram_token(self, token_hash: str, merchant_id: str, expires_at: int) -> None:
        """A new one-time link token (its hash only), gone from the table a day after it expires."""
        item = {
            "pk": f"TGTOKEN#{token_hash}",
            "sk": "TGTOKEN",
            "merchant_id": merchant_id,
            "expires_at": expires_at,
            "ttl": expires_at + 86_400,
        }
        self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def link_telegram_chat(self, token_hash: str, chat: dict[str, Any], now: int) -> str:
        """Use a link token once, linking `chat` to its merchant in the same transaction.

        Returns "linked:{merchant_id}", or "expired" / "unknown" (used, never issued, or gone), or
        "taken" when the chat is linked to another merchant: a member of a shop's group must not move
        the group (and the links its staff make there) to a shop of their own; the token stays unused."""
        item = self._get(f"TGTOKEN#{token_hash}", "TGTOKEN", consistent=True)
        if item is None:
            return "unknown"
        if int(item["expires_at"]) <= now:
            return "expired"
        merchant_id = str(item["merchant_id"])
        linked = self.telegram_chat(str(chat["chat_id"]))
        if linked is not None and str(linked.get("merchant_id")) != merchant_id:
            return "taken"
        chat_item = {
            "pk": f"TGCHAT#{chat['chat_id']}",
            "sk": "TGCHAT",
            **chat,
            "merchant_id": merchant_id,
            "gsi1pk": f"MERCHANT#{merchant_id}#TGCHATS",
            "gsi1sk": f"{chat['linked_at']}#{chat['chat_id']}",
        }
        used = self._transact_once(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": f"TGTOKEN#{token_hash}", "sk": "TGTOKEN"},
                        "ConditionExpression": "attribute_exists(pk) AND expires_at > :now",
                        "ExpressionAttributeValues": {":now": now},
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _clean(chat_item),
                        # linked to another merchant meanwhile: not taken over (see above)
                        "ConditionExpression": "attribute_not_exists(pk) OR merchant_id = :m",
                        "ExpressionAttributeValues": {":m": merchant_id},
                    }
                },
            ]
        )
        return f"linked:{merchant_id}" if used else "unknown"  # another /start used it first

    def telegram_chat(self, chat_id: str) -> dict[str, Any] | None:
        """The link of a chat (merchant_id, language, linked_at), or None when it is not linked."""
        return self._get(f"TGCHAT#{chat_id}", "TGCHAT", consistent=True)

    def set_telegram_chat_language(self, chat_id: str, language: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"TGCHAT#{chat_id}", "sk": "TGCHAT"},
                UpdateExpression="SET #l = :l",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#l": "language"},
                ExpressionAttributeValues={":l": language},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def unlink_telegram_chat(self, chat_id: str, merchant_id: str) -> bool:
        """Unlink a chat of this merchant; False when it was not linked to it."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": f"TGCHAT#{chat_id}", "sk": "TGCHAT"},
                ConditionExpression="merchant_id = :m",
                ExpressionAttributeValues={":m": merchant_id},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def telegram_chats_of(self, merchant_id: str) -> list[dict[str, Any]]:
        """A merchant's linked chats, oldest first."""
        return list(self._query_all("gsi1", "gsi1pk", f"MERCHANT#{merchant_id}#TGCHATS"))

    def claim_telegram_update(self, update_id: int, now: int) -> bool:
        """True the first time an update is seen (Telegram redelivers until it gets a 2xx)."""
        return self._claim(f"TGUPDATE#{update_id}", "TGUPDATE", now + UPDATE_TTL)

    def release_telegram_update(self, update_id: int) -> None:
        """Forget an update whose handling failed, so Telegram's redelivery is handled."""
        self.client.delete_item(TableName=self.table, Key={"pk": f"TGUPDATE#{update_id}", "sk": "TGUPDATE"})

    def telegram_notice_sent(self, event_id: str, chat_id: str) -> bool:
        return self._get(f"TGNOTICE#{event_id}", f"CHAT#{chat_id}", consistent=True) is not None

    def record_telegram_notice(self, event_id: str, chat_id: str, now: int) -> bool:
        """Mark an event announced in a chat; False when it already was."""
        return self._claim(f"TGNOTICE#{event_id}", f"CHAT#{chat_id}", now + NOTICE_TTL)

    def _claim(self, pk: str, sk: str, ttl: int) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": pk, "sk": sk, "ttl": ttl},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
