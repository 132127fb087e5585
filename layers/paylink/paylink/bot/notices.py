"""Payment and refund notices in a merchant's linked chats, from the notify queue
(paylink.notify.notifications).

Each chat gets an event once: a marker per (event, chat) is written after Telegram took the message,
and a retry of the queue message skips the chats already marked. A chat that blocked the bot (403)
or is gone (400) is not tried again; a flood answer (429), an error or a timeout is, with the queue's
schedule.
"""

from __future__ import annotations

import time
from typing import Any

from paylink.core.models import Merchant
from paylink.core.observability import logger
from paylink.store import Store

# What linked chats are told of: paid payments, and refunds that reached their end.
CHAT_EVENTS = ("payment.paid", "refund.succeeded", "refund.failed")


def notice_chats(store: Store, merchant: Merchant, event_type: str) -> list[tuple[str, str]]:
    """(chat id, language) of every chat told of this event: the linked chats of paid payments and
    finished refunds, and the chat an operator set (paylink.merchants.accounts.set_telegram) of every
    event, as before."""
    chats = []
    if event_type in CHAT_EVENTS:
        chats = [
            (str(c["chat_id"]), str(c.get("language", "fa"))) for c in store.telegram_chats_of(merchant.id)
        ]
    if merchant.telegram_chat_id and merchant.telegram_chat_id not in {c for c, _ in chats}:
        chats.append((merchant.telegram_chat_id, "fa"))
    return chats


def notice_text(event: dict[str, Any], lang: str) -> str:
    from paylink.bot.texts import say
    from paylink.core.formatting import format_date, format_toman

    data = event["data"]
    if event["type"] in ("refund.succeeded", "refund.failed"):
        return say(
            lang,
            event["type"].replace(".", "_"),
            amount=format_toman(int(data["amount"]), lang),
            title=data.get("link_title", ""),
            id=data["id"],
        )
    if event["type"] != "payment.paid":
        from paylink.notify.notifications import notice_text as plain_notice

        return plain_notice(event)
    settle = ""
    if data.get("expected_settlement_date"):
        settle = say(lang, "paid_settle", date=format_date(data["expected_settlement_date"], lang))
    return say(
        lang,
        "paid",
        amount=format_toman(int(data["amount"]), lang),
        title=data.get("link_title", ""),
        id=data.get("reference") or data["id"],
        settle=settle,
    )


def announce(store: Store, merchant: Merchant, event: dict[str, Any]) -> str | None:
    """Send the event to every chat not yet told; None when none is left to try, else why not."""
    from paylink.bot.api import BotApiError, bot_token, send_message

    chats = notice_chats(store, merchant, str(event.get("type")))
    if not chats or not bot_token():
        return None
    errors = []
    for chat_id, lang in chats:
        if store.telegram_notice_sent(event["id"], chat_id):
            continue
        try:
            send_message(chat_id, notice_text(event, lang))
        except BotApiError as exc:
            logger.warning(
                "telegram notice not sent",
                extra={"event_id": event["id"], "error_code": exc.error_code, "permanent": exc.permanent},
            )
            if not exc.permanent:
                errors.append(f"telegram {exc.error_code}")
                continue
        store.record_telegram_notice(event["id"], chat_id, int(time.time()))
    return ", ".join(errors) or None
