"""A merchant's refund of a payment: how much, by which method, and carried to its end exactly once.

Every refund first takes its amount from the payment's conditional counter and from the merchant's
balance item in one transaction (store.create_refund): concurrent refunds never exceed the payment,
and all of a merchant's refunds never exceed what its ledger covers (paylink.settlement.ledger).
Then:

- `reverse` (the whole payment, nothing refunded yet, inside the gateway's reverse window): the
  adapter's reverse call; an answer lost (timeout) leaves the refund `pending`, and `resolve`
  asks the gateway's inquiry (or verify) what became of the payment before anything else is tried.
- `transfer` (otherwise): `awaiting_payer`; the payer gets an SMS link to paylink.refunds.payer.

A refund that fails gives its amount back to the payment's counter in the same transaction.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from paylink.core.errors import Conflict, NotFound, PaylinkError, ValidationFailed
from paylink.core.ids import new_refund_id
from paylink.core.models import (
    MIN_AMOUNT,
    Merchant,
    Payment,
    PaymentStatus,
    Refund,
    RefundCreate,
    RefundMethod,
    RefundStatus,
    iso,
    utcnow,
)
from paylink.core.models import shown_status as shown_payment_status
from paylink.core.observability import logger
from paylink.payments.archive import lookup
from paylink.settlement.ledger import own_allowance, read_cover
from paylink.store import Store
from paylink.store.refunds import RefundWrite

# Reverse windows after payment, by gateway protocol (GATEWAYS.md): Zarinpal 30 min, PayPing 30 min
# for isReversible payments (ours are created so), SEP 50 min. Others (Zibal) have no reverse here.
REVERSE_WINDOWS: dict[str, timedelta] = {
    "zarinpal": timedelta(minutes=30),
    "payping": timedelta(minutes=30),
    "sep": timedelta(minutes=50),
}
# A margin so that a reverse is not asked seconds before the window closes (clocks differ).
REVERSE_MARGIN = timedelta(minutes=1)
# One reverse call at a time per refund, longer than any gateway's timeout: whoever claims it calls.
REVERSE_CLAIM = timedelta(minutes=2)
LINK_LIFETIME = timedelta(days=7)  # the payer's page link; a reminder's new link lives as long again
MAX_REMINDERS = 3
# Refunds one payment may take (failed ones count too; counted in the refund's own transaction): each
# sends the payer an SMS and is its own bank transfer, so a payment is never cut into endless refunds.
MAX_REFUNDS_PER_PAYMENT = 50

EVENT_TYPES = {
    RefundStatus.PENDING: "refund.created",
    RefundStatus.AWAITING_PAYER: "refund.created",
    RefundStatus.SUCCEEDED: "refund.succeeded",
    RefundStatus.FAILED: "refund.failed",
}


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


class TooManyRefunds(Conflict):
    code = "too_many_refunds"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_refund(refund: Refund) -> dict[str, Any]:
    return refund.model_dump(
        mode="json",
        include={"id", "payment_id", "amount", "status", "method", "reason", "created_at", "completed_at"},
    )


def shown_status(payment: Payment) -> PaymentStatus:
    """`refunded` once its refunds (not failed) reach the amount; its stored status otherwise."""
    return shown_payment_status(payment.status, payment.amount, payment.amount_refunded)


def _own_payment(store: Store, merchant: Merchant, payment_id: str, *, to_refund: bool = False) -> Payment:
    """The merchant's payment (an archived one too: its refunds stay readable); `to_refund`: one a
    refund may start on, so not archived (paylink.payments.archive: past its refund window)."""
    payment, archived = lookup(store, payment_id)
    if payment is None or payment.merchant_id != merchant.id:
        raise NotFound("no such payment")  # another merchant's payment is not there for this one
    if to_refund and archived:
        raise Conflict("the refund window of this payment closed (it is archived)")
    return payment


def _protocol(payment: Payment) -> str | None:
    from paylink.payments.routing import adapter

    gateway = adapter(payment.gateway) if payment.gateway else None
    return gateway.config.protocol if gateway else None


def choose_method(payment: Payment, amount: int, now: datetime) -> RefundMethod:
    """`reverse` only for the whole payment, nothing refunded yet, inside its gateway's window."""
    window = REVERSE_WINDOWS.get(_protocol(payment) or "")
    if (
        window is None
        or amount != payment.amount
        or payment.amount_refunded
        or payment.status is not PaymentStatus.PAID
        or not payment.paid_at
    ):
        return RefundMethod.TRANSFER
    paid_at = datetime.fromisoformat(payment.paid_at.replace("Z", "+00:00"))
    return RefundMethod.REVERSE if now < paid_at + window - REVERSE_MARGIN else RefundMethod.TRANSFER


def coverable(store: Store, merchant: Merchant, payment: Payment) -> int:
    """What the merchant's ledger can cover now (paylink.settlement.ledger): the net of its payments
    not yet in a closed settlement, less what its refunds already claim (refunds not yet taken from
    a payout, and what earlier ones left owing), plus, for a payment whose settlement closed, the net
    we paid out for it. We never lend beyond that: a refund is paid from money we hold for the
    merchant, or recovered from its next settlements up to what we paid it for this very payment
    (our fee is kept)."""
    return read_cover(store, merchant).room + own_allowance(store, payment)


def check_refund(
    store: Store, merchant: Merchant, payment_id: str, amount: int | None
) -> tuple[Payment, int]:
    """The rules a refund must pass before it is made (the API's and the panel's, which shows them
    before asking to confirm): the merchant's payment, paid or settled, at most what is left, and
    what the ledger can cover. (payment, amount in rials); raises NotFound, Conflict,
    ValidationFailed on `amount`, InsufficientBalance."""
    payment = _own_payment(store, merchant, payment_id, to_refund=True)
    if payment.status not in (PaymentStatus.PAID, PaymentStatus.SETTLED):
        raise Conflict("only a paid or settled payment can be refunded")
    left = payment.amount - payment.amount_refunded
    value = amount if amount is not None else left
    if left <= 0:
        raise ValidationFailed(
            "nothing is left to refund", fields={"amount": "the payment is fully refunded"}
        )
    if value > left:
        raise ValidationFailed("too much", fields={"amount": f"at most {left} rials are left to refund"})
    if value < MIN_AMOUNT and value != left:  # the gateways' least amount, unless it closes the payment
        raise ValidationFailed(
            "too little", fields={"amount": f"at least {MIN_AMOUNT} rials, or all {left} that are left"}
        )
    if value > coverable(store, merchant, payment):
        raise InsufficientBalance("the merchant's balance cannot cover this refund now")
    return payment, value


def refund_payment(
    store: Store,
    merchant: Merchant,
    payment_id: str,
    amount: int | None,
    reason: str | None,
    *,
    base_url: str,
    request_key: str | None = None,
) -> Refund:
    """Refund part or all of a merchant's payment (the API's and the panel's one entry point).

    With `request_key` (the API's Idempotency-Key) the refund's id is derived from it, so a retry
    after a crash that left the refund written (but no answer, nor the idempotency record's
    completion) finds that refund instead of making a second one."""
    body = RefundCreate(amount=amount, reason=reason)
    if request_key:  # before the checks: a retry must find its refund even once nothing is left
        earlier = store.get_refund(_keyed_id(merchant.id, payment_id, request_key))
        if earlier is not None and earlier.merchant_id == merchant.id:
            return earlier
    payment, value = check_refund(store, merchant, payment_id, body.amount)
    now = utcnow()
    method = choose_method(payment, value, now)
    token = secrets.token_urlsafe(24) if method is RefundMethod.TRANSFER else None
    refund = Refund(
        id=_keyed_id(merchant.id, payment.id, request_key) if request_key else new_refund_id(),
        payment_id=payment.id,
        merchant_id=merchant.id,
        amount=value,
        status=RefundStatus.PENDING if method is RefundMethod.REVERSE else RefundStatus.AWAITING_PAYER,
        method=method,
        reason=body.reason,
        created_at=iso(now),
        token_hash=token_hash(token) if token else None,
        expires_at=iso(now + LINK_LIFETIME) if token else None,
    )
    # Queued before the write, delivered once the table shows the refund (a function that dies
    # right after its write would otherwise lose it; one whose write never lands is dropped).
    emit_refund_event(refund, store)
    written = _write_refund(store, merchant, payment, refund)
    if written is RefundWrite.DUPLICATE:
        earlier = store.get_refund(refund.id)
        if earlier is not None:  # the same request, at the same time: one refund
            return earlier
    if written is RefundWrite.TOO_MANY:
        raise TooManyRefunds(f"a payment takes at most {MAX_REFUNDS_PER_PAYMENT} refunds")
    if written is not RefundWrite.CREATED:
        current = store.get_payment(payment.id) or payment
        if current.status not in (PaymentStatus.PAID, PaymentStatus.SETTLED):
            raise Conflict("only a paid or settled payment can be refunded")
        left = current.amount - current.amount_refunded
        raise ValidationFailed("too much", fields={"amount": f"at most {left} rials are left to refund"})
    logger.info(
        "refund created",
        extra={"refund_id": refund.id, "payment_id": payment.id, "method": method.value, "amount": value},
    )
    if method is RefundMethod.REVERSE:
        return resolve(store, refund, first=True)
    assert token is not None
    send_payer_link(payment, refund, token, base_url)
    return refund


BALANCE_TRIES = 12  # reads again after a settlement closed (or others took the room) meanwhile


def _write_refund(store: Store, merchant: Merchant, payment: Payment, refund: Refund) -> RefundWrite:
    """Write the refund if the merchant's ledger covers it, decided atomically per merchant: the
    write is conditional on the balance read with the cover, so another refund or a settlement
    closing in between makes it read again; InsufficientBalance when the cover is too small."""
    for attempt in range(BALANCE_TRIES):
        cover = read_cover(store, merchant)
        own = own_allowance(store, payment)  # its settlement may have closed since the last try
        if refund.amount > cover.room + own:
            raise InsufficientBalance("the merchant's balance cannot cover this refund now")
        written = store.create_refund(
            payment, refund, cover.seen, cover.pending + own, max_refunds=MAX_REFUNDS_PER_PAYMENT
        )
        if written is RefundWrite.NOT_COVERED:
            raise InsufficientBalance("the merchant's balance cannot cover this refund now")
        if written is not RefundWrite.BALANCE_CHANGED:
            return written
        time.sleep(random.uniform(0.0, 0.02) * (attempt + 1))  # jitter, not a secret
    raise Conflict("the merchant's balance is changing; try again")


def _keyed_id(merchant_id: str, payment_id: str, request_key: str) -> str:
    digest = hashlib.sha256(f"{merchant_id}:{payment_id}:{request_key}".encode()).hexdigest()
    return "ref_" + digest[:22]


def refunds_of(
    store: Store, merchant: Merchant, payment_id: str, *, base_url: str | None = None
) -> list[Refund]:
    """A payment's refunds; pending ones are carried on first (a lost reverse answer asked about,
    a payout's outcome read), so what the merchant sees is as current as the providers know."""
    _own_payment(store, merchant, payment_id)
    refunds = store.refunds_of_payment(payment_id)
    return [resolve_on_read(store, r, base_url=base_url) for r in refunds]


# How often reads (the API's list, the panel, the payer's page) may ask a provider about one pending
# refund: anyone can repeat a read, and the payout provider's quota is shared with settlements.
READ_CHECK_EVERY = timedelta(seconds=30)


def resolve_on_read(store: Store, refund: Refund, *, base_url: str | None = None) -> Refund:
    """A pending refund carried on by a read at most once per READ_CHECK_EVERY (a conditional write
    on the refund picks the one read that asks); other reads show the stored state, and the
    reconciler keeps carrying it on regardless."""
    if refund.status is not RefundStatus.PENDING:
        return refund
    now = utcnow()
    if not store.claim_read_check(refund, iso(now), iso(now + READ_CHECK_EVERY)):
        return refund
    return resolve(store, refund, base_url=base_url)


def payer_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/refund/{token}"


def send_payer_link(payment: Payment, refund: Refund, token: str, base_url: str) -> bool:
    """The SMS with the payer's page link; best effort (the merchant can remind, or the payer's
    receipt shows the refund). True when sent."""
    from paylink.notify.messages import notifiers

    phone = (payment.payer or {}).get("phone")
    sms = notifiers().get("sms")
    if not phone or sms is None:
        return False
    text = (
        f"بازپرداخت {refund.amount // 10:,} تومان از {payment.merchant_name}: کارت پرداخت‌کننده را وارد کنید\n"
        f"{payer_link(base_url, token)}"
    )
    try:
        sms.send(phone, "refund", text)
    except Exception:
        logger.exception("refund link SMS not sent", extra={"refund_id": refund.id})
        return False
    return True


class TooManyReminders(PaylinkError):
    """A refund's payer was reminded MAX_REMINDERS times already: no more SMS for it."""

    status = 429
    code = "too_many_reminders"


def remind_payer(
    store: Store, merchant: Merchant, refund_id: str, base_url: str, *, payment_id: str | None = None
) -> Refund:
    """A new link for a refund still awaiting its payer, also after the old one expired (the old
    token stops working): a refund is never stranded while the merchant can remind. 404 for another
    merchant's refund (or another payment's, with `payment_id`), 409 when it does not await its
    payer, 429 past MAX_REMINDERS."""
    refund = store.get_refund(refund_id)
    if refund is None or refund.merchant_id != merchant.id or payment_id not in (None, refund.payment_id):
        raise NotFound("no such refund")
    if refund.status is not RefundStatus.AWAITING_PAYER:
        raise Conflict("this refund is not awaiting its payer")
    if refund.reminders >= MAX_REMINDERS:
        raise TooManyReminders(f"the payer was reminded {MAX_REMINDERS} times already")
    if remind(store, refund, base_url) is None:
        raise Conflict("this refund changed meanwhile; try again")
    return store.get_refund(refund.id) or refund


def remind(store: Store, refund: Refund, base_url: str) -> Refund | None:
    """Replace the payer's link (one more reminder) and text the new one; None when the refund
    changed meanwhile (another reminder, the payer's card, a failure): nothing was done then."""
    token = secrets.token_urlsafe(24)
    if not store.replace_refund_token(refund, token_hash(token), iso(utcnow() + LINK_LIFETIME)):
        return None
    fresh = store.get_refund(refund.id) or refund
    payment = store.get_payment(refund.payment_id)
    if payment is not None:
        send_payer_link(payment, fresh, token, base_url)
    return fresh


def resolve(store: Store, refund: Refund, *, first: bool = False, base_url: str | None = None) -> Refund:
    """Carry a pending refund towards its end. A reverse asks the gateway what became of the payment
    before any (new) reverse call unless this is the very first call; a transfer asks its payout
    (and, with `base_url`, may text the payer a new link when the destination refused it)."""
    if refund.status is not RefundStatus.PENDING:
        return refund
    if refund.method is RefundMethod.TRANSFER:
        from paylink.refunds.payer import resolve_transfer

        return resolve_transfer(store, refund, base_url=base_url)
    from paylink.payments.gateways.base import ErrorKind, GatewayError, VerifyOutcome
    from paylink.payments.routing import adapter

    payment = store.get_payment(refund.payment_id)
    gateway = adapter(payment.gateway) if payment and payment.gateway else None
    if payment is None or gateway is None or not payment.gateway_token:
        # Not known here (a gateway taken out of the configuration): a reverse may have been made,
        # so nothing is decided; it stays pending for an operator, never failed on a guess.
        logger.error("refund reverse cannot be resolved here", extra={"refund_id": refund.id})
        return refund
    refs = _reverse_refs(payment, gateway.config.protocol)
    if not first:
        try:
            state = gateway.inquire(token=payment.gateway_token, amount_irr=payment.amount, refs=refs)
        except GatewayError as exc:
            if exc.kind is not ErrorKind.CONFIG:
                return refund  # not known yet: stays pending, asked again later
            state = gateway.verify(token=payment.gateway_token, amount_irr=payment.amount, refs=refs)
        if state.outcome is VerifyOutcome.REVERSED:
            return _finish(store, refund, RefundStatus.SUCCEEDED)
        if not state.paid:
            return refund  # the gateway's answer is not clear: nothing more is tried now
        if choose_method(payment.model_copy(update={"amount_refunded": 0}), refund.amount, utcnow()) is not (
            RefundMethod.REVERSE
        ):
            return _finish(store, refund, RefundStatus.FAILED, "the reverse window closed")
    now = utcnow()
    if not store.claim_reverse(refund, iso(now + REVERSE_CLAIM), iso(now)):
        # Another caller (the reconciler, the API, the request that made it) is asking the gateway
        # for this reverse right now: a second call could be refused as a repeat and fail it wrongly.
        return store.get_refund(refund.id) or refund
    try:
        done = gateway.reverse(token=payment.gateway_token, amount_irr=payment.amount, refs=refs)
    except GatewayError as exc:
        if exc.kind is ErrorKind.TRANSIENT:
            logger.warning("refund reverse answer lost; inquiry decides", extra={"refund_id": refund.id})
            return refund
        return _finish(store, refund, RefundStatus.FAILED, f"the gateway refused the reverse: {exc.code}")
    if done:
        return _finish(store, refund, RefundStatus.SUCCEEDED)
    return refund


# The key under which each protocol's reverse reads the bank reference that verify reported.
REFERENCE_KEYS = {"sep": "RefNum", "payping": "paymentRefId"}


def _reverse_refs(payment: Payment, protocol: str) -> dict[str, str]:
    """What the reverse call needs besides the token: the verified payment's own reference."""
    refs = dict(payment.gateway_refs or {})
    key = REFERENCE_KEYS.get(protocol)
    if key and payment.gateway_reference:
        refs[key] = payment.gateway_reference
    return refs


def _finish(
    store: Store,
    refund: Refund,
    target: RefundStatus,
    reason: str | None = None,
    *,
    expected: tuple[RefundStatus, ...] = (RefundStatus.PENDING, RefundStatus.AWAITING_PAYER),
    while_token: str | None = None,
) -> Refund:
    fields: dict[str, str] = {"completed_at": iso(utcnow())}
    if reason:
        fields["failure_reason"] = reason
    if store.move_refund(refund, expected, target, while_token=while_token, **fields):
        logger.info("refund finished", extra={"refund_id": refund.id, "status": target.value})
        current = store.get_refund(refund.id) or refund
        tell(store, current)
        return current
    return store.get_refund(refund.id) or refund


def tell(store: Store, refund: Refund) -> None:
    """Queue a final refund's event, then take it off the reconciler's work list; a crash or a queue
    error between the two leaves it there, and the next run tells it (the same event id)."""
    if emit_refund_event(refund, store) is not None:
        store.refund_told(refund)


def emit_refund_event(refund: Refund, store: Store | None = None) -> str | None:
    """Queue `refund.created|succeeded|failed` (id from refund id and status: a repeat is the same
    event). `created` just before the refund's write (the notify worker delivers it once the refund
    is in the table), a final one after its change is durable; its id, or None when it could not
    be queued (a final refund's is then told again by the reconciler). Its data carries what the
    delivery worker and the Telegram/email notice read (merchant_id, link_title) beside the
    refund's own fields."""
    from paylink.notify.events import event_id, send_or_keep
    from paylink.notify.queues import notify_queue

    kind = EVENT_TYPES[refund.status]
    evt = event_id(refund.id, "created" if kind == "refund.created" else refund.status.value)
    try:
        queue = notify_queue()
        if queue is None:
            return evt  # this deployment sends no events: nothing is owed
        payment = store.get_payment(refund.payment_id) if store is not None else None
        data = public_refund(refund) | {
            "merchant_id": refund.merchant_id,
            "link_title": payment.link_title if payment else "",
        }
        event = {"id": evt, "type": kind, "created": iso(utcnow()), "data": data}
    except Exception:
        logger.exception("could not build a refund event", extra={"refund_id": refund.id})
        return None
    # One the queue refuses is kept for the reconciler to queue (notify.events.send_or_keep); a
    # final refund's is told again by the reconciler too (the same id: merchants deduplicate).
    return evt if send_or_keep(queue, event) else None
