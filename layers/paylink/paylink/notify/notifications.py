"""Delivery of queued merchant events: the signed webhook (retried for up to three days, then the
dead-letter queue) and Telegram notices in the merchant's chats (paylink.bot.notices: each chat
once, retried on the same schedule).

The merchant is read at delivery time, so a retry signs with the secrets active then and goes to
the URL set then. Secrets and the bot token are never logged.
"""

from __future__ import annotations

import json
import math
import time
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from paylink.core.observability import Metric, correlate, count, logger
from paylink.notify.webhooks import EVENT_ID_HEADER, MAX_HIDE, SIGNATURE_HEADER, retry_delay, sign

if TYPE_CHECKING:
    import httpx

    from paylink.core.models import Merchant
    from paylink.store import Store

WEBHOOK_TIMEOUT = 5.0


class Delivery(StrEnum):
    DELIVERED = "delivered"
    NOTHING_TO_DO = "nothing_to_do"  # the merchant has no webhook (or is gone)
    RETRY = "retry"  # hidden until its next try
    DEAD_LETTERED = "dead_lettered"  # the last try failed: moved to the dead-letter queue


def _iso(moment: float) -> str:
    from datetime import UTC, datetime

    from paylink.core.models import iso

    return iso(datetime.fromtimestamp(moment, UTC))


def clock() -> float:
    """Now, in seconds since the epoch (tests move it to walk a three-day schedule)."""
    return time.time()


class RetryLater(Exception):
    """The webhook was refused; the message comes back at its next scheduled try."""


class NotifyQueue(Protocol):
    def hide_for(self, receipt_handle: str, seconds: int) -> None: ...

    def send_text(self, body: str, attributes: dict[str, str] | None = None) -> None: ...


@cache
def http_client() -> httpx.Client:
    import httpx

    return httpx.Client(timeout=httpx.Timeout(WEBHOOK_TIMEOUT), follow_redirects=False)


ANSWER_SUMMARY = 200  # characters of the merchant's answer kept for its list of deliveries


def post_webhook(merchant: Merchant, body: str, event_id: str, now: int | None = None) -> str | None:
    """POST the signed body to a public address of the merchant's host (paylink.notify.egress), following
    no redirect; None when the merchant answered 2xx, else why not."""
    _, error, _ = post_webhook_answer(merchant, body, event_id, now)
    return error


def _summary(text: str) -> str:
    """The start of an answer on one line, for the merchant's own list (never logged)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text[: ANSWER_SUMMARY * 2]).split())[
        :ANSWER_SUMMARY
    ]


def post_webhook_answer(
    merchant: Merchant, body: str, event_id: str, now: int | None = None
) -> tuple[int | None, str | None, str]:
    """`post_webhook` with what the merchant answered: (HTTP status or None, error or None, summary)."""
    from paylink.merchants.webhook_endpoint import secrets_to_sign

    raw = body.encode()
    secrets = secrets_to_sign(merchant)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "paylink-webhooks/1",
        SIGNATURE_HEADER: sign(raw, secrets, now),
        EVENT_ID_HEADER: event_id,
    }
    import httpx

    from paylink.notify import egress

    url = httpx.URL(str(merchant.webhook_url))
    try:
        # Checked now, not only when set: the name may resolve inside a network (or since rebound).
        address = egress.public_address(url.host, url.port or (443 if url.scheme == "https" else 80))
        with egress.pinned_client(url.host, address, WEBHOOK_TIMEOUT) as client:
            answer = client.post(url, content=raw, headers=headers)
    except egress.Refused as exc:
        return None, str(exc), _summary(str(exc))
    except Exception as exc:  # timeouts, refused connections, TLS errors: all worth a retry
        return None, type(exc).__name__, type(exc).__name__
    code = answer.status_code
    summary = _summary(answer.text) if answer.content else ""
    return code, (None if 200 <= code < 300 else f"HTTP {code}"), summary


def notice_text(event: dict[str, Any]) -> str:
    """One line a person reads: what happened, for what, how much, and when the money comes."""
    from paylink.core.formatting import format_toman

    data = event["data"]
    text = f"{event['type']}: {data['link_title']}, {format_toman(data['amount'], 'en')} ({data['id']})"
    if data.get("reference"):
        text += f", ref {data['reference']}"
    if data.get("expected_settlement_date"):
        text += f", paid out on {data['expected_settlement_date']}"
    return text


def send_email(merchant: Merchant, event: dict[str, Any]) -> bool:
    """The notice by email (best effort, on the first try only, like Telegram); False when it did not go."""
    from paylink.notify.messages import notifiers

    email = notifiers().get("email")
    if email is None:  # this deployment has no email sender: the notice goes by the other channels
        return False
    try:
        email.send(merchant.notify_email or "", f"paylink: {event['type']}", notice_text(event))
    except Exception as exc:
        logger.warning("email notice not sent", extra={"event_id": event["id"], "error": type(exc).__name__})
        return False
    return True


class Written(StrEnum):
    YES = "yes"  # the table shows the change the event tells of (or the event is of no payment)
    NOT_YET = "not_yet"  # the payment still waits: its write may be on its way
    NEVER = "never"  # another change was written, or none came in time


# A payment event is queued just before its write (paylink.notify.events); its write lands within
# the writing function's run (seconds; API Gateway's 30 s at most), so a payment still waiting
# CONFIRM_HORIZON after the event was made never got it. A reconcile that moves it later queues
# its own event (the same id when the same change).
CONFIRM_WAIT = 20
CONFIRM_HORIZON = 300
REFUND_CREATED = "refund.created"


def _payment_events() -> frozenset[str]:
    from paylink.notify.events import EVENT_TYPES

    return frozenset(EVENT_TYPES.values()) | {"installment.paid"}


def payment_change_written(store: Store, event: dict[str, Any], now: float) -> tuple[Written, float]:
    """Whether the table shows the payment change an event tells of, and the event's age in seconds
    (a refund.created event: whether its refund is in the table):
    a paid event's payment was credited at the very `paid_at` the event carries (the return that
    won; it may be settled or refunded since), an unpaid event's payment is in the event's status
    (terminal: it stays)."""
    kind = event.get("type")
    if kind not in _payment_events() and kind != REFUND_CREATED:
        return Written.YES, 0.0
    from datetime import datetime

    from paylink.core.models import PaymentStatus

    data = event["data"]
    made = datetime.fromisoformat(str(event.get("created") or "").replace("Z", "+00:00")).timestamp()
    age = max(0.0, now - made)
    if kind == REFUND_CREATED:  # queued just before the refund's write (paylink.refunds.service)
        if store.get_refund(str(data["id"])) is not None:
            return Written.YES, age
        return (Written.NOT_YET if age < CONFIRM_HORIZON else Written.NEVER), age
    payment = store.get_payment(str(data["id"]), consistent=True)
    if payment is None:
        return Written.NEVER, age
    if payment.status in (PaymentStatus.CREATED, PaymentStatus.REDIRECTED):
        return (Written.NOT_YET if age < CONFIRM_HORIZON else Written.NEVER), age
    if data.get("status") == PaymentStatus.PAID.value:
        credited = bool(payment.paid_at) and payment.paid_at == data.get("paid_at")
        return (Written.YES if credited else Written.NEVER), age
    return (Written.YES if payment.status.value == data.get("status") else Written.NEVER), age


def deliver(
    store: Store,
    body: str,
    *,
    receipt_handle: str,
    queue: NotifyQueue,
    dead_letters: NotifyQueue | None,
    retry_scale: float = 1.0,
    now: float | None = None,
) -> Delivery:
    """Try one queued event when its next try is due; on a refusal schedule the next try or, after
    the last, dead-letter it. Tries are counted in the table, so a hop of a long wait is no try.

    Raises RetryLater after hiding the message until its next try, so the batch reports it failed."""
    event = json.loads(body)
    data = event["data"]
    correlate(event_id=str(event["id"]), merchant_id=str(data["merchant_id"]), payment_id=data.get("id"))
    moment = clock() if now is None else now
    record = store.webhook_delivery(event["id"])
    if record.get("done"):
        return Delivery.DELIVERED  # a copy of an event already delivered or dead-lettered
    if moment < record["next_at"]:
        queue.hide_for(receipt_handle, min(math.ceil(record["next_at"] - moment), MAX_HIDE))
        raise RetryLater("not due yet")
    attempt = record["attempts"] + 1
    context = {"event_id": event["id"], "event_type": event["type"], "attempt": attempt}
    written, age = payment_change_written(store, event, moment)
    if written is Written.NOT_YET:
        # Waits that double with the event's age: a few receives (the queue dead-letters after 15).
        queue.hide_for(receipt_handle, max(CONFIRM_WAIT, math.ceil(age)))
        raise RetryLater("the change it tells of is not written yet")
    if written is Written.NEVER:
        logger.info("event of a change that was never written dropped", extra=context)
        return Delivery.NOTHING_TO_DO
    merchant = store.get_merchant(str(data["merchant_id"]))
    if merchant is None:
        logger.warning("event of an unknown merchant dropped", extra=context)
        return Delivery.NOTHING_TO_DO
    payment_event = event["type"] != "ping"  # a test event goes to the webhook only
    from paylink.bot.notices import announce

    # Every try: each chat not yet told is told now (a chat is told once: paylink.bot.notices).
    telegram_error = announce(store, merchant, event) if payment_event else None
    if attempt == 1 and payment_event and merchant.notify_email:
        send_email(merchant, event)
    status: int | None = None
    summary: str | None = None
    if not merchant.webhook_url or not merchant.webhook_secret:
        if telegram_error is None:
            return Delivery.NOTHING_TO_DO
        error: str | None = telegram_error
    else:
        # A webhook taken while a chat still waits is posted again at the next try: webhooks are at
        # least once, with the event id in a header for the merchant to drop a copy.
        status, webhook_error, summary = post_webhook_answer(merchant, body, event["id"])
        error = webhook_error or telegram_error
    # What the merchant's list of deliveries shows (paylink.merchants.webhook_endpoint).
    details = {
        "merchant_id": merchant.id, "event_type": event["type"], "event_created": event.get("created"),
        "last_status": status, "last_answer": summary or None, "last_try_at": _iso(moment),
    }  # fmt: skip
    if error is None:
        store.record_webhook_try(
            event["id"], attempt, next_at=moment, done=True, details={**details, "outcome": "delivered"}
        )
        logger.info("webhook delivered", extra=context)
        return Delivery.DELIVERED
    delay = retry_delay(attempt, retry_scale)
    if delay is None:
        if dead_letters is None:
            raise RuntimeError("the last webhook try failed and no dead-letter queue is configured")
        dead_letters.send_text(body, {"event_id": event["id"], "last_error": error, "attempts": str(attempt)})
        store.record_webhook_try(
            event["id"], attempt, next_at=moment, done=True, details={**details, "outcome": "failed"}
        )
        count(Metric.WEBHOOK_DEAD_LETTERED)
        logger.error(
            "webhook failed on its last try; moved to the dead-letter queue",
            extra={**context, "error": error},
        )
        return Delivery.DEAD_LETTERED
    store.record_webhook_try(
        event["id"], attempt, next_at=moment + delay, done=False, details={**details, "outcome": "retrying"}
    )
    queue.hide_for(receipt_handle, min(delay, MAX_HIDE))
    logger.warning("webhook refused; will retry", extra={**context, "error": error, "retry_in": delay})
    raise RetryLater(error)
