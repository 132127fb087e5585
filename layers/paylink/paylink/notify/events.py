"""Merchant notification events.

A payment's event (paid, failed, cancelled, expired; installment.paid) is queued just before the
write that makes its change, and the notify worker delivers it only once the table shows that very
change (paylink.notify.notifications.payment_change_written): a function that dies right after
its write has queued the event all the same, and an event whose write never landed, or lost its
race to another return's, reaches no merchant. Other events (refunds, installment.overdue) are
queued after their write.

An event's id is derived from (payment id, new status), so a retried or repeated emission of the
same change is the same event: merchants deduplicate on `id` (also sent as `Paylink-Event-Id`).
Queueing never raises. An event the queue refuses is kept in the table and queued again by the
reconciler (`resend_unsent`), so an SQS outage delays a notification instead of losing it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paylink.core.models import Installment, Link, Payment, PaymentStatus, iso, utcnow
from paylink.core.observability import logger

if TYPE_CHECKING:
    from paylink.notify.queues import RawQueue
    from paylink.store import Store

EVENT_TYPES: dict[PaymentStatus, str] = {
    PaymentStatus.PAID: "payment.paid",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELLED: "payment.cancelled",
    PaymentStatus.EXPIRED: "payment.expired",
}


def event_id(payment_id: str, status: PaymentStatus | str) -> str:
    """`evt_` + 24 hex digits of sha256(payment id, status): the same change, the same id."""
    value = status.value if isinstance(status, PaymentStatus) else status
    return "evt_" + hashlib.sha256(f"{payment_id}:{value}".encode()).hexdigest()[:24]


def mask_phone(phone: str) -> str:
    """`09121234567` -> `0912***4567`: enough for a merchant to recognise, not to call."""
    return phone[:4] + "***" + phone[-4:] if len(phone) > 8 else "***"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def payment_data(payment: Payment, *, tz: str, country: str) -> dict[str, Any]:
    """The payment as a webhook carries it: the masked card and payer, the merchant's reference and
    metadata, and the expected settlement date of a paid payment."""
    from paylink.settlement.daily import expected_settlement_date

    payer = dict(payment.payer or {})
    if payer.get("phone"):
        payer["phone"] = mask_phone(payer["phone"])
    if payer.get("email"):
        payer["email"] = mask_email(payer["email"])
    payer.pop("address", None)  # full payer details: GET /v1/payments/{id}
    payer.pop("note", None)
    return {
        "id": payment.id,
        "merchant_id": payment.merchant_id,
        "link_code": payment.link_code,
        "link_title": payment.link_title,
        "amount": payment.amount,
        "quantity": payment.quantity,
        "status": payment.status.value,
        "gateway": payment.gateway,
        "gateway_reference": payment.gateway_reference,
        "card_mask": payment.card_mask,
        "payer": payer,
        "reference": payment.reference,
        "metadata": payment.metadata or {},
        "installment": payment.installment,
        "failure_reason": payment.failure_reason,
        "created_at": payment.created_at,
        "paid_at": payment.paid_at,
        "expected_settlement_date": (
            expected_settlement_date(payment.paid_at, tz=tz, country=country)
            if payment.status is PaymentStatus.PAID and payment.paid_at
            else None
        ),
    }


def build_event(payment: Payment, *, tz: str, country: str) -> dict[str, Any]:
    """The webhook body of a payment's current (final) state."""
    return {
        "id": event_id(payment.id, payment.status),
        "type": EVENT_TYPES[payment.status],
        # A paid event is dated by the payment; others by their emission (the id stays the same).
        "created": payment.paid_at
        if payment.status is PaymentStatus.PAID and payment.paid_at
        else iso(utcnow()),
        "data": payment_data(payment, tz=tz, country=country),
    }


def encode(event: dict[str, Any]) -> str:
    """The exact bytes (as text) that are queued, signed and posted.

    U+FFFE and U+FFFF are escaped (`\\ufffe`, the same JSON): SQS refuses a body holding them, and
    a buyer's name may (the checkout form takes any text), so its every event would be refused.
    """
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def emit_payment_event(payment: Payment) -> str | None:
    """Queue the event of a payment's new final state; returns its id, or None if none was queued.

    Called just before the write of the change (or again for a change already written): the worker
    delivers it once the table shows the change. A failure is logged, never raised."""
    from paylink.core.settings import get_settings
    from paylink.notify.queues import notify_queue

    if payment.status not in EVENT_TYPES:
        return None
    evt = event_id(payment.id, payment.status)
    try:
        queue = notify_queue()
        if queue is None:
            return None
        settings = get_settings()
        event = build_event(payment, tz=settings.timezone, country=settings.country)
    except Exception:
        logger.exception(
            "could not build a merchant notification", extra={"payment_id": payment.id, "event_id": evt}
        )
        return None
    if not send_or_keep(queue, event):
        return None
    # DEBUG: on success it says nothing another line lacks (the event id derives from the payment's
    # id and status; the notify worker's lines carry both ids), and a failure is logged above.
    # Issue 18: ~470 B a payment.
    logger.debug("merchant notification queued", extra={"payment_id": payment.id, "event_id": evt})
    return evt


def installment_paid_event(payment: Payment, *, tz: str, country: str) -> dict[str, Any]:
    """`installment.paid`: the paid payment of an installment (its `installment` says which)."""
    return {
        "id": event_id(payment.id, "installment.paid"),
        "type": "installment.paid",
        "created": payment.paid_at or iso(utcnow()),
        "data": payment_data(payment, tz=tz, country=country),
    }


def installment_overdue_event(link: Link, part: Installment) -> dict[str, Any]:
    """`installment.overdue`: an installment still unpaid after its due date (one event per installment)."""
    return {
        "id": event_id(f"{link.code}#{part.number}", "installment.overdue"),
        "type": "installment.overdue",
        "created": iso(utcnow()),
        "data": {
            "id": link.code,  # the notices name what the event is about by `id`
            "merchant_id": link.merchant_id,
            "link_code": link.code,
            "link_title": link.title,
            "installment": part.number,
            "installments": len(link.installments or []),
            "amount": part.amount,
            "due_date": part.due_date,
            "status": "overdue",
            "reference": link.reference,
            "metadata": link.metadata or {},
        },
    }


def emit_installment_paid(payment: Payment) -> str | None:
    """Queue `installment.paid` for a payment just credited to an installment (best effort)."""
    from paylink.core.settings import get_settings

    if payment.installment is None or payment.status is not PaymentStatus.PAID:
        return None
    settings = get_settings()
    return _queue(lambda: installment_paid_event(payment, tz=settings.timezone, country=settings.country))


def emit_installment_overdue(link: Link, part: Installment) -> str | None:
    """Queue `installment.overdue` (the caller claims it first, so it goes once); best effort."""
    return _queue(lambda: installment_overdue_event(link, part))


def _queue(build: Callable[[], dict[str, Any]]) -> str | None:
    """Queue an event; its id, or None when nothing was queued. A failure is logged, never raised."""
    from paylink.notify.queues import notify_queue

    try:
        queue = notify_queue()
        if queue is None:
            return None
        event = build()
    except Exception:
        logger.exception("could not build a merchant notification")
        return None
    if not send_or_keep(queue, event):
        return None
    logger.info("merchant notification queued", extra={"event_id": event["id"], "event_type": event["type"]})
    return str(event["id"])


def send_or_keep(queue: RawQueue, event: dict[str, Any]) -> bool:
    """Send an event to the notify queue; True when sent. One the queue refuses (after the SDK's
    own retries: an SQS outage) is kept in the table for the reconciler to send (resend_unsent):
    the state change it tells of is already durable, so it must not be lost with the request."""
    body, attributes = encode(event), {"event_id": str(event["id"]), "event_type": str(event["type"])}
    try:
        queue.send_text(body, attributes)
        return True
    except Exception:
        logger.exception("could not queue a merchant notification; kept for the reconciler",
                         extra={"event_id": event["id"]})  # fmt: skip
    try:
        from paylink.store import get_store

        get_store().keep_unsent_event(str(event["id"]), body, attributes, time.time())
    except Exception:
        logger.exception("could not keep an unqueued merchant notification", extra={"event_id": event["id"]})
    return False


RESEND_REFUSALS = 3  # refusals in a row after which a resend run stops (an outage, not one event)


def resend_unsent(store: Store) -> int:
    """Queue again the events the notify queue refused (the reconciler, every 5 minutes); how many
    went. Each leaves the table once queued; one the queue refuses again waits for the next run."""
    from paylink.notify.queues import notify_queue

    queue = notify_queue()
    if queue is None:
        return 0
    sent = refused = 0
    for item in store.unsent_events():
        event_id = str(item["pk"]).removeprefix("UNSENT#")
        body, attributes = item.get("body"), item.get("attributes")
        if not isinstance(body, str) or not isinstance(attributes, dict):
            logger.error("a kept merchant notification is malformed; dropped", extra={"event_id": event_id})
            store.drop_unsent_event(event_id)  # it can never be sent
            continue
        try:
            queue.send_text(body, {str(k): str(v) for k, v in attributes.items()})
        except Exception:
            logger.exception("the notify queue still refuses a kept event", extra={"event_id": event_id})
            refused += 1
            if refused == RESEND_REFUSALS:  # the queue is down: the next run tries again
                return sent
            continue  # one the queue refuses for good holds back no other
        refused = 0
        store.drop_unsent_event(event_id)
        sent += 1
    return sent
