"""The merchants' Telegram bot: one-time link tokens, linked chats, updates seen, notices sent."""

from __future__ import annotations

from typing import Any

from paylink.store.table import Table, _clean, _is_conditional_failure

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

        Returns "linked:{merchant_id}", or "expired" / "unknown" (used, never issued, or gone)."""
        item = self._get(f"TGTOKEN#{token_hash}", "TGTOKEN", consistent=True)
        if item is None:
            return "unknown"
        if int(item["expires_at"]) <= now:
            return "expired"
        merchant_id = str(item["merchant_id"])
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
                {"Put": {"TableName": self.table, "Item": _clean(chat_item)}},
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
