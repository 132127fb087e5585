"""One Telegram update in, the bot's replies out: `/start <token>`, `/new`, `/today`, `/balance`,
`/links`, `/help`, `/stop`.

Every message from a person gets an answer (never silence): help, an error that says what to do,
or the result. Only `/start` with a valid token and `/help` do anything in a chat that is not
linked; nothing else changes a thing there.

The bot's sending budget is shared with merchants' payment notices, so strangers cannot spend it:
a chat that is not linked gets at most UNLINKED_REPLIES answers an hour, then silence (a successful
link is always answered); a linked chat makes at most NEW_LINKS_PER_HOUR links an hour by `/new`,
and is told once when it reached that. Each is a conditional counter per chat and hour (TTL).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paylink.bot import api, linking
from paylink.bot.texts import say
from paylink.core.errors import ValidationFailed
from paylink.core.formatting import format_date, format_number, format_toman
from paylink.core.models import MIN_AMOUNT, LinkCreate, Merchant, PaymentStatus, iso
from paylink.core.observability import logger
from paylink.store import Store

RECENT_LINKS = 5
# /today reads at most this many of the last two days' payments, this many a query.
TODAY_PAGE_SIZE = 500
TODAY_MAX_READ = 2_000
MAX_AMOUNT = 10_000_000_000  # rials: the most a link takes (paylink.core.models.Amount)
# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits, read as Latin ones.
DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
SEPARATORS = re.compile("[,\u066c\u060c_'\u2019]")  # 1,500,000  ۱٬۵۰۰٬۰۰۰  1،500  1_500
AMOUNT = re.compile(r"^\d{1,12}$")
COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)
PAID = (PaymentStatus.PAID.value, "settled")
UNLINKED_REPLIES = 5  # per chat that is not linked, per hour
NEW_LINKS_PER_HOUR = 30  # per linked chat


def language(message: dict[str, Any]) -> str:
    """English when the sender's Telegram language is English, else Persian."""
    author = message.get("from")
    code = str(author.get("language_code") or "") if isinstance(author, dict) else ""
    return "en" if code.lower().startswith("en") else "fa"


def parse_toman(text: str) -> int | None:
    """An amount in toman in Persian or Latin digits with separators; None if it is not one."""
    plain = SEPARATORS.sub("", text.translate(DIGITS))
    return int(plain) if AMOUNT.match(plain) else None


def handle_update(store: Store, update: dict[str, Any], base_url: str) -> None:
    """Act on one update and send the replies. Updates other than text messages are ignored."""
    message = update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return
    chat_id = message["chat"].get("id")
    text = message.get("text")
    if not isinstance(chat_id, int) or not isinstance(text, str):
        return
    lang = language(message)
    author = message.get("from")
    sender = author.get("id") if isinstance(author, dict) else None
    user_id = sender if isinstance(sender, int) and not isinstance(sender, bool) else None
    chat_type = str(message["chat"].get("type") or "private")
    reply = _answer(store, chat_id, text.strip(), lang, base_url, user_id, chat_type)
    if reply:
        api.send_message(chat_id, reply)


def _answer(
    store: Store,
    chat_id: int,
    text: str,
    lang: str,
    base_url: str,
    user_id: int | None = None,
    chat_type: str = "private",
) -> str | None:
    match = COMMAND.match(text)
    command, args = (match.group(1).lower(), (match.group(2) or "").strip()) if match else ("", "")
    if command == "start" and args:
        outcome, merchant = linking.link_chat(store, args.split()[0], chat_id, lang, user_id)
        if outcome == "linked" and merchant is not None:
            logger.info("telegram chat linked", extra={"merchant_id": merchant.id})
            return say(lang, "linked", name=merchant.name)
        if not _within_hour(store, "TGREPLY", chat_id, UNLINKED_REPLIES):
            return None  # a chat trying token after token: silence once over its budget
        if outcome == "taken":
            logger.warning("telegram link refused: the chat is linked to another merchant")
            return say(lang, "chat_taken")
        return say(lang, "token_expired" if outcome == "expired" else "token_unknown")
    merchant = linking.linked_merchant(store, chat_id)
    if merchant is None:
        if not _within_hour(store, "TGREPLY", chat_id, UNLINKED_REPLIES):
            return None
        if command == "help":
            return say(lang, "help")
        return say(lang, "welcome_unlinked" if command == "start" else "not_linked")
    if command in ("help", "start"):
        return say(lang, "help")
    if command == "new":
        if not _within_hour(store, "TGNEW", chat_id, NEW_LINKS_PER_HOUR):
            # told once an hour; after that the chat's further /new get no answer
            return say(lang, "new_limit") if _within_hour(store, "TGNEWSAID", chat_id, 1) else None
        return _new_link(store, merchant, chat_id, args, lang, base_url)
    if command == "today":
        return _today(store, merchant, lang)
    if command == "balance":
        return _balance(store, merchant, lang)
    if command == "links":
        return _links(store, merchant, lang, base_url)
    if command == "stop":
        if not linking.may_unlink(store, chat_id, chat_type, user_id):
            return say(lang, "stop_not_yours")
        linking.unlink_chat(store, merchant, str(chat_id))
        logger.info("telegram chat unlinked", extra={"merchant_id": merchant.id})
        return say(lang, "stopped")
    return say(lang, "unknown_command")


def _within_hour(store: Store, kind: str, chat_id: int, limit: int) -> bool:
    """One more of `kind` for this chat this hour, unless it had `limit` already (conditional)."""
    hour = int(time.time()) // 3600
    return store.count_within(f"{kind}#{chat_id}#{hour}", limit, (hour + 2) * 3600)


def _new_link(
    store: Store, merchant: Merchant, chat_id: int, args: str, lang: str, base_url: str
) -> str | None:
    """`/new <amount in toman> <title>`: an item link made by the API's own domain function."""
    from paylink.merchants.links import create_link

    parts = args.split(maxsplit=1)
    if not parts:
        return say(lang, "new_usage")
    toman = parse_toman(parts[0])
    if toman is None:
        return say(lang, "new_bad_amount", amount=parts[0][:30])
    if len(parts) < 2 or not parts[1].strip():
        return say(lang, "new_no_title", amount=parts[0][:30])
    rials, title = toman * 10, parts[1].strip()[:120]
    if rials < MIN_AMOUNT:
        return say(lang, "new_too_small", minimum=format_toman(MIN_AMOUNT, lang))
    cap = merchant.per_payment_cap
    if cap is None or cap > MAX_AMOUNT:  # a business account without a limit: a link's own limit
        cap = MAX_AMOUNT
    if rials > cap:
        return say(lang, "new_above_cap", cap=format_toman(cap, lang))
    try:
        link = create_link(store, merchant, LinkCreate(title=title, amount=rials))
    except ValidationFailed as exc:
        return say(
            lang,
            "new_invalid",
            reason="; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items()) or str(exc),
        )
    except ValueError:  # pydantic: a title it refuses (amounts are checked above)
        return say(lang, "new_invalid", reason="title")
    url = f"{base_url}/{link.code}"
    amount = format_toman(rials, lang)
    logger.info("link made from telegram", extra={"merchant_id": merchant.id, "link_code": link.code})
    api.send_message(chat_id, say(lang, "new_done", title=title, amount=amount, url=url))
    from paylink.web.qr import qr_png

    api.send_photo(chat_id, qr_png(url), say(lang, "new_qr", title=title) + f"\n{url}")
    return None


def _tehran_day_start(tz: str) -> tuple[datetime, str]:
    zone = ZoneInfo(tz)
    start = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC), start.date().isoformat()


def _today(store: Store, merchant: Merchant, lang: str) -> str:
    """Payments paid since midnight, Tehran time (created up to a day before: a slow payer counts).

    At most TODAY_MAX_READ payments are read (newest first, TODAY_PAGE_SIZE a query): a chat
    command answers within Telegram's patience and costs a bounded read, whatever the day's volume;
    past that the answer says it counted only the latest ones and the panel lists them all."""
    from paylink.core.settings import get_settings

    start, day = _tehran_day_start(get_settings().timezone)
    since, cursor, paid, read = iso(start - timedelta(days=1)), None, [], 0
    while True:
        size = min(TODAY_PAGE_SIZE, TODAY_MAX_READ - read)
        page, cursor = store.payments_of_merchant(merchant.id, cursor, page_size=size, since=since)
        read += size
        paid += [p for p in page if p.status in PAID and p.paid_at and p.paid_at >= iso(start)]
        if not cursor or read >= TODAY_MAX_READ:
            break
    total = sum(p.amount for p in paid)
    answer = say(
        lang,
        "today",
        day=format_date(day, lang),
        count=format_number(len(paid), lang),
        total=format_toman(total, lang),
    )
    if cursor:  # more were left unread
        answer += "\n" + say(lang, "today_capped", count=format_number(TODAY_MAX_READ, lang))
    return answer


def _balance(store: Store, merchant: Merchant, lang: str) -> str:
    """What the merchant will receive: GET /v1/balance's `waiting` (the unsettled payments net of
    fees, less the refunds they will net and what earlier refunds left owing), and when."""
    from paylink.core.models import utcnow
    from paylink.core.settings import get_settings
    from paylink.settlement.business_calendar import local_date, next_business_day
    from paylink.settlement.ledger import balance

    settings = get_settings()
    next_day = next_business_day(local_date(utcnow(), settings.timezone), settings.country).isoformat()
    now = balance(store, merchant, next_settlement_date=next_day)
    if not now["next_settlement_date"] and not now["owed"]:
        return say(lang, "balance_none")
    lines = [say(lang, "balance", total=format_toman(now["waiting"], lang))]
    if now["refunds_due"]:
        lines.append(say(lang, "balance_refunds", amount=format_toman(now["refunds_due"], lang)))
    if now["owed"]:
        lines.append(say(lang, "balance_owed", amount=format_toman(now["owed"], lang)))
    if now["next_settlement_date"]:
        lines.append(say(lang, "balance_date", date=format_date(now["next_settlement_date"], lang)))
    return "\n".join(lines)


def _links(store: Store, merchant: Merchant, lang: str, base_url: str) -> str:
    links, _ = store.links_of(merchant.id, None)
    if not links:
        return say(lang, "links_none")
    lines = []
    for link in links[:RECENT_LINKS]:
        amount = format_toman(link.amount, lang) if link.amount else say(lang, "links_open")
        lines.append(
            say(
                lang,
                "links_line",
                title=link.title,
                amount=amount,
                paid=format_number(link.paid_count, lang),
                url=f"{base_url}/{link.code}",
            )
        )
    return "\n\n".join(lines)
