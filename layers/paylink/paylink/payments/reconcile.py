"""Reconciliation (every 5 minutes): decide payments whose buyer never came back, or whose verify
failed, before the gateway's own window closes; expire the abandoned ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paylink.core.models import Payment, iso
from paylink.core.observability import logger
from paylink.payments.callback import apply_verification
from paylink.store import Store

MIN_AGE = timedelta(minutes=1)  # a buyer still at the gateway is not disturbed sooner


@dataclass
class ReconcileReport:
    checked: int = 0
    decided: dict[str, int] = field(default_factory=dict)
    left_waiting: int = 0


def reconcile(store: Store, now: datetime) -> ReconcileReport:
    """Verify every payment waiting longer than MIN_AGE and move it as its gateway says."""
    report = ReconcileReport()
    for payment in store.waiting_payments(started_before=iso(now - MIN_AGE)):
        report.checked += 1
        with logger.append_context_keys(
            payment_id=payment.id, link_code=payment.link_code, merchant_id=payment.merchant_id
        ):
            after = reconcile_one(store, payment, now)
        if after.is_final:
            report.decided[after.status.value] = report.decided.get(after.status.value, 0) + 1
        else:
            report.left_waiting += 1
    logger.info(
        "reconciliation done",
        extra={"checked": report.checked, "decided": report.decided, "left_waiting": report.left_waiting},
    )
    return report


def reconcile_one(store: Store, payment: Payment, now: datetime) -> Payment:
    """Ask the payment's gateway once and act on the answer; unknown answers leave it waiting."""
    from paylink.core.models import PaymentStatus
    from paylink.payments.callback import _mark_unpaid, disown_references
    from paylink.payments.gateways.base import ErrorKind, GatewayError
    from paylink.payments.routing import adapter

    if payment.status is PaymentStatus.CREATED:
        # Recorded, but no gateway gave it a token within a minute (its checkout crashed or gave
        # up): nobody can pay it, so its reservations go back.
        return _mark_unpaid(store, payment, PaymentStatus.EXPIRED, "not_started", now)
    gateway = adapter(payment.gateway or "")
    if gateway is None or payment.gateway_token is None:
        logger.error("waiting payment of an unknown gateway", extra={"payment_id": payment.id})
        return payment
    refs = dict(payment.gateway_refs or {})
    caps = gateway.capabilities
    redirected = datetime.fromisoformat(payment.redirected_at or payment.created_at)
    window_closed = now > redirected + caps.token_ttl + caps.verify_window
    foreign = {key: ref for key, ref in refs.items() if not store.claim_reference(payment, ref, now)}
    if foreign:
        # Kept before references were claimed, and another payment's: never verified or reversed here.
        disown_references(store, payment, foreign, now)
        return payment
    try:
        result = gateway.verify(token=payment.gateway_token, amount_irr=payment.amount, refs=refs)
    except GatewayError as exc:
        if exc.code == "foreign_reference":
            disown_references(store, payment, refs, now)
            return payment
        if exc.kind is not ErrorKind.TRANSIENT and window_closed:
            # Cannot be verified (no return, so no reference) and the gateway's window is over:
            # the gateway has voided or reversed it, so the buyer keeps his money.
            reason = "no_return" if exc.code == "missing_reference" else "not_verified"
            return _mark_unpaid(store, payment, PaymentStatus.EXPIRED, reason, now)
        logger.info(
            "payment still undecided",
            extra={"payment_id": payment.id, "code": exc.code, "window_closed": window_closed},
        )
        return payment
    return apply_verification(
        store, gateway, payment, result, refs=refs, hinted_cancel=False, now=now, reconciling=True
    )
