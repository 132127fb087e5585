"""Linking a chat to a merchant: a one-time, short-lived token in a deep link, used by `/start`."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from paylink.core.errors import NotFound
from paylink.core.models import Merchant, iso, utcnow
from paylink.store import Store

TOKEN_TTL_SECONDS = 15 * 60
TOKEN_BYTES = 24  # 32 URL-safe characters: within a deep link's 64 of A-Za-z0-9_-


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_link_token(store: Store, merchant: Merchant, *, now: int | None = None) -> dict[str, Any]:
    """A fresh one-time token (stored hashed) as the deep link that links a chat to `merchant`."""
    from paylink.bot.api import bot_username

    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = (int(time.time()) if now is None else now) + TOKEN_TTL_SECONDS
    store.put_telegram_token(_hash(token), merchant.id, expires_at)
    return {
        "deep_link": f"https://t.me/{bot_username()}?start={token}",
        "expires_at": iso(datetime.fromtimestamp(expires_at, UTC)),
    }


def link_chat(
    store: Store, token: str, chat_id: int, language: str, user_id: int | None = None
) -> tuple[str, Merchant | None]:
    """Use a token from `/start`: ("linked", merchant), ("expired", None), ("unknown", None) or
    ("taken", None) for a chat already linked to another merchant. `user_id` (who sent it) is
    kept: in a group, only that member may unlink the chat from Telegram."""
    if not token or len(token) > 64:
        return "unknown", None
    chat: dict[str, Any] = {"chat_id": str(chat_id), "language": language, "linked_at": iso(utcnow())}
    if user_id is not None:
        chat["linked_by"] = str(user_id)
    outcome = store.link_telegram_chat(_hash(token), chat, int(time.time()))
    if not outcome.startswith("linked:"):
        return outcome, None
    return "linked", store.get_merchant(outcome.removeprefix("linked:"))


def linked_merchant(store: Store, chat_id: int) -> Merchant | None:
    """The merchant a chat is linked to, or None."""
    link = store.telegram_chat(str(chat_id))
    return store.get_merchant(str(link["merchant_id"])) if link else None


def chats_of(store: Store, merchant: Merchant) -> list[dict[str, Any]]:
    """A merchant's linked chats as the panel shows them."""
    return [
        {"id": str(c["chat_id"]), "language": c.get("language", "fa"), "linked_at": c["linked_at"]}
        for c in store.telegram_chats_of(merchant.id)
    ]


def may_unlink(store: Store, chat_id: int, chat_type: str, user_id: int | None) -> bool:
    """`/stop` from Telegram: anyone in a private chat (it is theirs); in a group only the member who
    linked it (a link made before `linked_by` was kept: anyone, as before). The panel always may."""
    if chat_type == "private":
        return True
    link = store.telegram_chat(str(chat_id)) or {}
    linked_by = link.get("linked_by")
    return linked_by is None or (user_id is not None and str(linked_by) == str(user_id))


def unlink_chat(store: Store, merchant: Merchant, chat_id: str) -> None:
    """Unlink one of the merchant's chats (the panel, or `/stop`); NotFound when it is not theirs."""
    if not store.unlink_telegram_chat(chat_id, merchant.id):
        raise NotFound("no such chat")
