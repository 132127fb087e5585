"""The gateway's return: verify server to server, then move the payment once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paylink.business_calendar import local_date
from paylink.errors import NotFound, ValidationFailed
from paylink.models import Payment, PaymentStatus, iso, utcnow
from paylink.observability import logger
from paylink.settings import get_settings
from paylink.store import Store


def handle_return(
    store: Store, gateway_name: str, query: Mapping[str, str], form: Mapping[str, str]
) -> Payment:
    """Settle the fate of the payment a gateway return points at, and return it as it now stands.

    The return itself is only a hint: the payment becomes `paid` only when the gateway's own
    verify says so for the stored amount, and only through one conditional write, so a return
    delivered twice, or ten times at once, credits once.
    """
    from paylink.gateways.base import GatewayError, VerifyOutcome
    from paylink.routing import adapter

    gateway = adapter(gateway_name)
    if gateway is None:
        raise NotFound("no such gateway")
    try:
        returned = gateway.parse_callback(query, form)
    except GatewayError as exc:
        logger.warning("unreadable gateway return", extra={"gateway": gateway_name, "code": exc.code})
        raise ValidationFailed("this is not a payment return we can read") from exc
    payment = store.payment_for_token(gateway_name, returned.token)
    if payment is None:
        logger.warning("gateway return for an unknown token", extra={"gateway": gateway_name})
        raise NotFound("no such payment")
    context = {"payment_id": payment.id, "gateway": gateway_name}
    if payment.is_final:
        logger.info(
            "repeated gateway return; nothing to change", extra={**context, "status": payment.status.value}
        )
        return payment

    try:
        result = gateway.verify(token=returned.token, amount_irr=payment.amount)
    except GatewayError as exc:
        # Unknown outcome: leave the payment as it is; reconciliation asks the gateway again.
        logger.warning(
            "verify failed; payment left pending", extra={**context, "kind": str(exc.kind), "code": exc.code}
        )
        return payment

    now = utcnow()
    if result.outcome in (VerifyOutcome.VERIFIED, VerifyOutcome.ALREADY_VERIFIED):
        if result.amount_irr is not None and result.amount_irr != payment.amount:
            logger.error(
                "verified amount differs from the payment's", extra={**context, "verified": result.amount_irr}
            )
            return _mark_unpaid(store, payment, PaymentStatus.FAILED, "amount_mismatch")
        paid_at = iso(now)
        moved = store.mark_paid(
            payment, reference=result.reference, card_mask=result.card_mask, paid_at=paid_at
        )
        logger.info("payment verified", extra={**context, "credited": moved, "outcome": result.outcome.value})
        if not moved:
            return _current(store, payment)
        return payment.model_copy(
            update={
                "status": PaymentStatus.PAID,
                "paid_at": paid_at,
                "gateway_reference": result.reference or payment.gateway_reference,
                "card_mask": result.card_mask or payment.card_mask,
            }
        )
    if result.outcome is VerifyOutcome.PENDING:
        logger.info("gateway says the buyer has not finished; payment left pending", extra=context)
        return payment
    if result.outcome is VerifyOutcome.CANCELLED or returned.cancelled:
        return _mark_unpaid(store, payment, PaymentStatus.CANCELLED, "cancelled")
    return _mark_unpaid(store, payment, PaymentStatus.FAILED, "declined")


def _mark_unpaid(store: Store, payment: Payment, status: PaymentStatus, reason: str) -> Payment:
    day = local_date(datetime.fromisoformat(payment.created_at), get_settings().timezone).isoformat()
    moved = store.mark_unpaid(payment, status, reason, day)
    logger.info(
        "payment not paid",
        extra={"payment_id": payment.id, "status": status.value, "reason": reason, "moved": moved},
    )
    if not moved:
        return _current(store, payment)
    return payment.model_copy(update={"status": status, "failure_reason": reason})


def _current(store: Store, payment: Payment) -> Payment:
    return store.get_payment(payment.id) or payment


def return_location(payment: Payment) -> str:
    """Where the buyer goes after a return: the merchant's redirect_url (final payments) or our receipt."""
    if payment.redirect_url and payment.is_final:
        parts = urlsplit(payment.redirect_url)
        query = [
            *parse_qsl(parts.query, keep_blank_values=True),
            ("payment_id", payment.id),
            ("status", payment.status.value),
        ]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    return f"/r/{payment.id}"


def receipt(store: Store, payment_id: str) -> Payment:
    payment = store.get_payment(payment_id)
    if payment is None:
        raise NotFound("no such payment")
    return payment
