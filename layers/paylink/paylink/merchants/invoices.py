"""Invoices sent to their payer by SMS and email, and reminders around the due date (of each
installment, for an invoice in installments)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from paylink.core.errors import Gone, PaylinkError, RateLimited, ValidationFailed
from paylink.core.formatting import format_date, format_number, format_toman
from paylink.core.models import Installment, Link, LinkKind, LinkStatus, Merchant, utcnow
from paylink.core.observability import logger
from paylink.merchants.links import get_own_link
from paylink.notify.messages import Notifier, iran_mobile
from paylink.settlement.business_calendar import local_date, start_of_day_utc
from paylink.store import Store
from paylink.web.pages.i18n import translate

CHANNELS = ("sms", "email")
# Reminder name -> days from the due date to the day it is sent.
REMINDERS: dict[str, int] = {"before_1": -1, "after_1": 1, "after_3": 3}


# Sends of invoices a day (the market's calendar day), each send one request whatever its channels:
# enough to send, correct and resend an invoice; too few to pump SMS or phish through our sender.
SENDS_PER_INVOICE_PER_DAY = 3
SENDS_PER_MERCHANT_PER_DAY = 200
# And to one phone or address from one merchant, whatever the invoice: the per-invoice limit alone let
# a merchant text one number 200 times a day by making 67 invoices to it.
SENDS_PER_RECIPIENT_PER_DAY = 5
SEND_COUNTER_KEEP_SECONDS = 2 * 86_400
# Reminders a merchant's payers get a day (each one reminder, whatever its channels), invoices and
# installments together. Reminders need no send: without this, a merchant creating invoices due the
# same day to any numbers (creating has no daily limit) had us text every one of them, 3 times each
# and 3 per installment.
REMINDERS_PER_MERCHANT_PER_DAY = 200


def _address(link: Link, channel: str) -> str | None:
    """Where a channel reaches the payer: an SMS only an Iranian mobile (in E.164)."""
    payer = link.payer or {}
    return iran_mobile(payer.get("phone")) if channel == "sms" else payer.get("email")


def message(link: Link, url: str, kind: str = "invoice", lang: str = "fa") -> tuple[str, str]:
    """(subject, text) of an invoice message or a reminder, in the payer's language (Persian)."""
    fmt = {
        "merchant": link.merchant_name,
        "title": link.title,
        "amount": format_toman(link.amount or 0, lang),
        "due": format_date(link.due_date, lang) if link.due_date else "",
        "url": url,
        "reference": link.reference or "",
    }
    subject = translate(f"notify.{kind}.subject", lang, **fmt)
    text = translate(f"notify.{kind}.text", lang, **fmt)
    if link.due_date and kind == "invoice":
        text += " " + translate("notify.due", lang, **fmt)
    if link.installments and kind == "invoice":
        text = translate(
            "notify.installments.text", lang, count=format_number(len(link.installments), lang), **fmt
        )
        for part in link.installments:
            if not part.payment_id:  # the schedule still to pay
                text += "\n" + translate(
                    "notify.installments.line",
                    lang,
                    number=format_number(part.number, lang),
                    amount=format_toman(part.amount, lang),
                    due=format_date(part.due_date, lang),
                )
    return subject, text + "\n" + url


def installment_message(
    link: Link, part: Installment, url: str, kind: str, lang: str = "fa"
) -> tuple[str, str]:
    """(subject, text) of a reminder about one installment (`kind`: installment_before or _after)."""
    fmt = {
        "merchant": link.merchant_name,
        "title": link.title,
        "number": format_number(part.number, lang),
        "count": format_number(len(link.installments or []), lang),
        "amount": format_toman(part.amount, lang),
        "due": format_date(part.due_date, lang),
    }
    subject = translate(f"notify.{kind}.subject", lang, **fmt)
    return subject, translate(f"notify.{kind}.text", lang, **fmt) + "\n" + url


def send_invoice(
    store: Store,
    merchant: Merchant,
    code: str,
    via: Sequence[str],
    base_url: str,
    notifiers: Mapping[str, Notifier],
    *,
    tz: str,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Send a merchant's unpaid invoice to its payer on each channel of `via`, within the day's
    limits per invoice and per merchant (RateLimited until the market's next midnight)."""
    link = get_own_link(store, merchant, code)
    fields: dict[str, str] = {}
    if link.kind is not LinkKind.INVOICE:
        fields["code"] = "only an invoice is sent to its payer"
    bad = [c for c in via if c not in CHANNELS]
    if not via or bad or len(set(via)) != len(via):
        fields["via"] = "a non-empty list of sms and/or email"
    for channel in via:
        if channel in CHANNELS and not _address(link, channel):
            fields["via"] = f"the invoice's payer has no {'phone' if channel == 'sms' else 'email'}"
            if channel == "sms" and (link.payer or {}).get("phone"):
                fields["via"] = (
                    "SMS goes only to an Iranian mobile (09xxxxxxxxx); the payer's phone is not one"
                )
    for channel in via:
        if channel in CHANNELS and channel not in notifiers:
            fields["via"] = f"{channel} is not offered by this deployment (it has no {channel} sender)"
    if fields:
        raise ValidationFailed("the invoice cannot be sent", fields=fields)
    status = link.status()
    if status is not LinkStatus.ACTIVE:
        raise Gone("already_paid" if status is LinkStatus.PAID else status.value)
    _count_send(store, merchant, link, [_address(link, c) or "" for c in via], tz, now or utcnow())
    subject, text = message(link, f"{base_url}/{link.code}")
    for channel in via:
        try:
            notifiers[channel].send(_address(link, channel) or "", subject, text)
        except PaylinkError:
            raise  # our own errors (e.g. SmsError, a 503) carry no provider text: answered as they are
        except Exception as exc:
            # Re-raised without the provider's message (the runtime logs it): it may name the
            # recipient (SES in its sandbox lists the addresses that failed its check).
            raise RuntimeError(f"the {channel} provider refused the invoice ({type(exc).__name__})") from None
    logger.info("invoice sent", extra={"link_code": link.code, "via": list(via)})
    return {"sent": list(via)}


def _count_send(
    store: Store, merchant: Merchant, link: Link, addresses: Sequence[str], tz: str, now: datetime
) -> None:
    """Count this send against the day's limits (all counters or none), or raise RateLimited."""
    today = local_date(now, tz)
    opens = start_of_day_utc(today + timedelta(days=1), tz)
    reached = store.count_invoice_send(
        merchant.id,
        link.code,
        today.isoformat(),
        per_invoice=SENDS_PER_INVOICE_PER_DAY,
        per_merchant=SENDS_PER_MERCHANT_PER_DAY,
        expires_at=int(opens.timestamp()) + SEND_COUNTER_KEEP_SECONDS,
        recipients=[_digest(address) for address in addresses],
        per_recipient=SENDS_PER_RECIPIENT_PER_DAY,
    )
    if reached is not None:
        limit = {
            "invoice": SENDS_PER_INVOICE_PER_DAY,
            "merchant": SENDS_PER_MERCHANT_PER_DAY,
        }.get(reached, SENDS_PER_RECIPIENT_PER_DAY)
        logger.warning("invoice send refused: daily limit", extra={"link_code": link.code, "limit": reached})
        raise RateLimited(
            f"this {reached} has had its {limit} invoice sends today; try again after midnight",
            retry_after_seconds=math.ceil((opens - now).total_seconds()),
        )


class _ReminderAllowance:
    """Reminders on one day, per merchant and per merchant and recipient: numbered slots, claimed
    with a conditional put from the lowest this run has not tried, so a retried run of the day
    sends no more than the allowances."""

    def __init__(self, store: Store, day: date, now: datetime) -> None:
        self.store = store
        self.day = day.isoformat()
        self.expires_at = int(now.timestamp()) + SEND_COUNTER_KEEP_SECONDS + 86_400
        self.tried: dict[str, int] = {}  # series -> slots tried so far

    def take(self, merchant_id: str, addresses: Sequence[str]) -> bool:
        """One more reminder from this merchant to these addresses today, unless an allowance is
        spent. Each recipient's first: a reminder refused for its number spends none of the
        merchant's allowance."""
        for address in dict.fromkeys(addresses):
            if not self._slot(f"{merchant_id}#{self.day}#TO#{_digest(address)}", SENDS_PER_RECIPIENT_PER_DAY):
                logger.warning("reminder not sent: its recipient had the day's sends",
                               extra={"merchant_id": merchant_id})  # fmt: skip
                return False
        if not self._slot(f"{merchant_id}#{self.day}", REMINDERS_PER_MERCHANT_PER_DAY):
            logger.warning("reminder not sent: the merchant's daily allowance is spent",
                           extra={"merchant_id": merchant_id})  # fmt: skip
            return False
        return True

    def _slot(self, series: str, allowed: int) -> bool:
        slot = self.tried.get(series, 0)
        while slot < allowed:
            taken = self.store.claim_reminder_slot(series, slot, self.expires_at)
            slot += 1
            self.tried[series] = slot
            if taken:
                return True
        self.tried[series] = slot
        return False


GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def mailbox(address: str) -> str:
    """The mailbox an address delivers to, as far as a send counter must know it: case and a
    `+tag` sub-address do not count, nor dots in a Gmail name (one box, one allowance). A phone
    (no `@`) is as given."""
    value = address.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at:
        return value
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _digest(address: str) -> str:
    """A recipient as its send counter names it: no phone or address in a key."""
    return hashlib.sha256(mailbox(address).encode()).hexdigest()[:24]


@dataclass
class ReminderReport:
    sent: list[str] = field(default_factory=list)  # "code:reminder"
    skipped: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)  # "code:number" announced overdue this run


def remind(
    store: Store, now: datetime, tz: str, base_url: str, notifiers: Mapping[str, Notifier]
) -> ReminderReport:
    """Send the day's reminders: 1 day before, 1 and 3 days after the due date; once each; none
    for a paid (or closed) invoice. A reminder is recorded before it is sent (at most once); past a
    merchant's REMINDERS_PER_MERCHANT_PER_DAY, or SENDS_PER_RECIPIENT_PER_DAY to one recipient from
    that merchant (counted apart from the sends: this role cannot update their counters), it is
    skipped, not kept for later."""
    today = local_date(now, tz)
    report = ReminderReport()
    allowance = _ReminderAllowance(store, today, now)
    for name, offset in REMINDERS.items():
        due = (today - timedelta(days=offset)).isoformat()
        for link in store.invoices_due(due):
            key = f"{link.code}:{name}"
            if link.status(now) is not LinkStatus.ACTIVE:
                report.skipped.append(key)
                continue
            channels = [c for c in CHANNELS if c in notifiers and _address(link, c)]
            # Claimed first, then counted: a retried run spends no allowance on what was sent.
            if not channels or not store.claim_reminder(link.code, name, now):
                report.skipped.append(key)
                continue
            if not allowance.take(link.merchant_id, [_address(link, c) or "" for c in channels]):
                report.skipped.append(key)
                continue
            kind = "reminder_before" if offset < 0 else "reminder_after"
            subject, text = message(link, f"{base_url}/{link.code}", kind)
            for channel in channels:
                try:
                    notifiers[channel].send(_address(link, channel) or "", subject, text)
                except Exception as exc:
                    # The type only: a provider's refusal may name the recipient (SES in its sandbox).
                    logger.error(
                        "reminder not sent",
                        extra={"link_code": link.code, "channel": channel, "error": type(exc).__name__},
                    )
            report.sent.append(key)
        _remind_installments(store, now, today, offset, name, base_url, notifiers, report, allowance)
    return report


def _remind_installments(
    store: Store,
    now: datetime,
    today: date,
    offset: int,
    name: str,
    base_url: str,
    notifiers: Mapping[str, Notifier],
    report: ReminderReport,
    allowance: _ReminderAllowance,
) -> None:
    """The reminder `name` of each installment due `offset` days before today: once each (claimed
    first), none for a paid installment or a closed invoice. Past its due date an unpaid installment
    is also announced to the merchant as `installment.overdue`, once (claimed like a reminder)."""
    from paylink.notify.events import emit_installment_overdue

    due = (today - timedelta(days=offset)).isoformat()
    for code, number in store.installments_due(due):
        key = f"{code}:{number}:{name}"
        link = store.get_link(code)
        part = next((p for p in (link.installments or []) if p.number == number), None) if link else None
        if link is None or part is None or part.payment_id or link.status(now) is not LinkStatus.ACTIVE:
            report.skipped.append(key)
            continue
        if offset > 0 and store.claim_reminder(code, f"{number}:overdue", now):
            emit_installment_overdue(link, part)
            report.overdue.append(f"{code}:{number}")
        channels = [c for c in CHANNELS if c in notifiers and _address(link, c)]
        if not channels or not store.claim_reminder(code, f"{number}:{name}", now):
            report.skipped.append(key)
            continue
        if not allowance.take(link.merchant_id, [_address(link, c) or "" for c in channels]):
            report.skipped.append(key)
            continue
        kind = "installment_before" if offset < 0 else "installment_after"
        subject, text = installment_message(link, part, f"{base_url}/{code}", kind)
        for channel in channels:
            try:
                notifiers[channel].send(_address(link, channel) or "", subject, text)
            except Exception:
                logger.exception("reminder not sent", extra={"link_code": code, "channel": channel})
        report.sent.append(key)


def remind_now(event: Mapping[str, Any]) -> dict[str, Any]:
    """The RemindFunction: reminders of the local day of the schedule's time (or of now)."""
    from paylink.core.models import utcnow
    from paylink.core.settings import get_settings
    from paylink.notify.messages import notifiers
    from paylink.store import get_store

    settings = get_settings()
    stamp = str(event.get("scheduled_time") or "")
    if not stamp and event.get("now") and settings.allow_clock_override:
        stamp = str(event["now"])  # local runs and tests: run as if at that time
    now = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else utcnow()
    base = settings.public_base_url.rstrip("/")
    if not base:
        # A reminder's link must be absolute; template.yaml always sets one (the API's own URL).
        logger.error("reminders not sent: PUBLIC_BASE_URL is not set")
        return {"skipped": "PUBLIC_BASE_URL is not set: a reminder needs the link's full URL"}
    report = remind(get_store(), now, settings.timezone, base, notifiers())
    return {"sent": report.sent, "skipped": report.skipped, "overdue": report.overdue}
