"""The gateway's return and the reconciler: verify server to server, then move the payment once.

A return is only a hint. A payment becomes `paid` only when the gateway's own verify says so for
the stored amount, through one conditional write, so a return delivered twice, or ten times at
once, credits once. A return that cannot be trusted (unknown token, a token of another payment,
a reference credited before, a verified amount that differs) changes nothing but is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paylink.core.errors import NotFound, ValidationFailed
from paylink.core.models import Payment, PaymentStatus, iso, utcnow
from paylink.core.observability import correlate, count_payment, logger
from paylink.core.settings import get_settings
from paylink.notify.events import emit_installment_paid, emit_payment_event
from paylink.payments.retention import unpaid_gone_after
from paylink.settlement.business_calendar import local_date
from paylink.store import Store
from paylink.store.payments import PaidResult

if TYPE_CHECKING:
    from paylink.payments.gateways.base import GatewayAdapter, VerifyResult

ABANDON_GRACE = timedelta(minutes=2)  # past the token's lifetime: the buyer is not coming back


def handle_return(
    store: Store, gateway_name: str, query: Mapping[str, str], form: Mapping[str, str]
) -> Payment:
    """Decide the payment a gateway return points at, and return it as it now stands."""
    from paylink.payments.gateways.base import ErrorKind, GatewayError
    from paylink.payments.routing import adapter

    now = utcnow()
    gateway = adapter(gateway_name)
    if gateway is None:
        raise NotFound("no such gateway")
    try:
        returned = gateway.parse_callback(query, form)
    except GatewayError as exc:
        store.record_return_attempt(gateway_name, "unreadable", now, code=exc.code)
        logger.warning("unreadable gateway return", extra={"gateway": gateway_name, "code": exc.code})
        raise ValidationFailed("this is not a payment return we can read") from exc
    payment = store.payment_for_token(gateway_name, returned.token, returned.order_id)
    if payment is None:
        store.record_return_attempt(gateway_name, "unknown_token", now)
        logger.warning("gateway return for an unknown token", extra={"gateway": gateway_name})
        raise NotFound("no such payment")
    correlate(payment_id=payment.id, link_code=payment.link_code, merchant_id=payment.merchant_id)
    context = {"payment_id": payment.id, "gateway": gateway_name}
    if returned.order_id and returned.order_id != payment.id:
        store.record_return_attempt(gateway_name, "order_mismatch", now, payment_id=payment.id)
        logger.warning("gateway return names another order than its token's; ignored", extra=context)
        raise ValidationFailed("this return does not belong to its payment")
    if payment.is_final:
        logger.info(
            "repeated gateway return; nothing to change", extra={**context, "status": payment.status.value}
        )
        # The same event again (same id): heals a notification whose first queueing failed.
        emit_payment_event(payment)
        emit_installment_paid(payment)
        return payment

    foreign = [ref for ref in returned.refs.values() if not store.claim_reference(payment, ref, now)]
    if foreign:
        # Another payment's reference (e.g. the RefNum printed on its receipt): never sent to the
        # gateway for this payment, never kept on it, so it can neither credit nor reverse anything.
        store.record_return_attempt(gateway_name, "foreign_reference", now, payment_id=payment.id)
        logger.warning("gateway return carries another payment's reference; ignored", extra=context)
        raise ValidationFailed("this return does not belong to its payment")
    refs = {**(payment.gateway_refs or {}), **returned.refs}
    # Claimed by this return only: kept while the gateway may yet say they are this payment's.
    claimed_now = [ref for ref in returned.refs.values() if ref not in (payment.gateway_refs or {}).values()]
    try:
        result = gateway.verify(token=returned.token, amount_irr=payment.amount, refs=refs)
    except GatewayError as exc:
        if exc.code == "missing_reference" and not returned.claimed_success:
            # Nothing to verify with (a SEP or PayPing "cancelled"): a cancel is a claim too, so the
            # payment stays creditable by its real return or by reconciliation until its window ends.
            reason = "unconfirmed_cancel" if returned.cancelled else "unconfirmed_decline"
            store.record_return_attempt(gateway_name, reason, now, payment_id=payment.id)
            logger.info("unpaid return that the gateway cannot confirm; payment left waiting", extra=context)
            return payment
        if exc.code == "foreign_reference":
            disown_references(store, payment, returned.refs, now)
            raise ValidationFailed("this return does not belong to its payment") from exc
        if exc.kind is ErrorKind.TRANSIENT and returned.refs and refs != (payment.gateway_refs or {}):
            # Only a reference the gateway did not refuse is worth a later verify.
            store.save_gateway_refs(payment, refs)
        elif exc.kind is not ErrorKind.TRANSIENT:
            _release_refused(store, gateway, payment, claimed_now)
        logger.warning(
            "verify failed; payment left for reconciliation",
            extra={**context, "kind": str(exc.kind), "code": exc.code},
        )
        return payment
    after = apply_verification(
        store,
        gateway,
        payment,
        result,
        refs=refs,
        hinted_cancel=returned.cancelled,
        now=now,
        reconciling=False,
    )
    if not result.paid and not after.is_final:
        _release_refused(store, gateway, payment, claimed_now)
    return after


def _release_refused(store: Store, gateway: GatewayAdapter, payment: Payment, claimed_now: list[str]) -> None:
    """Free the references this return claimed when the gateway did not take them as this waiting
    payment's: a forged return must not keep another buyer's reference (its real return would be
    refused as foreign) beyond the one verify that answered "not yours" or "not paid".

    Only where verify is keyed by our token (PayPing binds a paymentRefId to its code, so a freed
    reference can never verify another payment). SEP verifies a RefNum alone: there the claim is
    what keeps a RefNum whose verify hiccuped from being taken by another waiting payment.
    """
    if gateway.capabilities.verify_by != "token":
        return
    for ref in claimed_now:
        store.release_reference(payment, ref)


def disown_references(store: Store, payment: Payment, refs: Mapping[str, str], now: datetime) -> None:
    """The gateway says these references are another payment's: free them and keep them off this one."""
    for ref in refs.values():
        store.release_reference(payment, ref)
    kept = {key: value for key, value in (payment.gateway_refs or {}).items() if value not in refs.values()}
    if kept != (payment.gateway_refs or {}):
        store.save_gateway_refs(payment, kept)
    store.record_return_attempt(payment.gateway or "", "foreign_reference", now, payment_id=payment.id)
    logger.warning(
        "the gateway names another payment for a returned reference; ignored",
        extra={"payment_id": payment.id, "gateway": payment.gateway},
    )


def apply_verification(
    store: Store,
    gateway: GatewayAdapter,
    payment: Payment,
    result: VerifyResult,
    *,
    refs: dict[str, str],
    hinted_cancel: bool,
    now: datetime,
    reconciling: bool,
) -> Payment:
    """Move a waiting payment as the gateway's verify answer says; the one place both the return
    and the reconciler decide a payment's fate."""
    from paylink.payments.gateways.base import VerifyOutcome

    context = {"payment_id": payment.id, "gateway": payment.gateway, "outcome": result.outcome.value}
    name = payment.gateway or ""
    if result.order_id is not None and result.order_id != payment.id:
        # The gateway's own answer is about another order: nothing here is this payment's to move.
        store.record_return_attempt(name, "order_mismatch", now, payment_id=payment.id)
        logger.error("the gateway's verify names another order; payment left as it is", extra=context)
        return payment
    if result.paid:
        if result.amount_irr is not None and result.amount_irr != payment.amount:
            store.record_return_attempt(
                name, "amount_mismatch", now, payment_id=payment.id, verified_amount=str(result.amount_irr)
            )
            logger.error(
                "verified amount differs from the payment's", extra={**context, "verified": result.amount_irr}
            )
            if not reconciling:
                if refs != (payment.gateway_refs or {}):
                    store.save_gateway_refs(payment, refs)
                return payment  # the reconciler reverses it
            return _reverse_and_fail(store, gateway, payment, refs, "amount_mismatch", now)
        paid_at = iso(now)
        paid = payment.model_copy(update={
            "status": PaymentStatus.PAID, "paid_at": paid_at,
            "gateway_reference": result.reference or payment.gateway_reference,
            "card_mask": result.card_mask or payment.card_mask,
            "card_hash": result.card_hash or payment.card_hash,
        })  # fmt: skip
        # Queued before the write, delivered once the table shows this very credit (paylink.notify
        # .notifications): a function that dies right after the write has told the merchant all the same.
        emit_payment_event(paid)  # never raises
        emit_installment_paid(paid)  # an installment's payment: the merchant hears which one
        moved = store.mark_paid(
            payment,
            reference=result.reference,
            card_mask=result.card_mask,
            paid_at=paid_at,
            card_hash=result.card_hash,
            unique_reference=gateway.capabilities.verify_takes_return_reference,
        )
        logger.info("payment verified", extra={**context, "result": moved.value})
        if moved is PaidResult.CREDITED:
            count_payment(PaymentStatus.PAID, name)
            return paid
        if moved is PaidResult.SOLD_OUT:
            return _reverse_and_fail(store, gateway, payment, refs, "sold_out", now)
        if moved is PaidResult.REFERENCE_REUSED:
            store.record_return_attempt(
                name, "reference_reused", now, payment_id=payment.id, reference=result.reference
            )
            logger.error("gateway reference was credited before; not credited again", extra=context)
            return payment
        return store.get_payment(payment.id) or payment
    if gateway.capabilities.verify_by == "reference" and not (
        reconciling and now > _window_end(gateway, payment)
    ):
        # Asked by a reference the buyer's return only claims (SEP's RefNum), "not found" or
        # "reversed" is about that reference: the payment stays creditable until its window ends.
        logger.info("unpaid answer for a returned reference; payment left waiting", extra=context)
        return payment
    if result.outcome is VerifyOutcome.AMOUNT_MISMATCH:
        store.record_return_attempt(name, "amount_mismatch", now, payment_id=payment.id)
        if reconciling:
            return _mark_unpaid(store, payment, PaymentStatus.FAILED, "amount_mismatch", now)
        return payment
    if result.outcome is VerifyOutcome.PENDING:
        if reconciling and now > _abandoned_after(gateway, payment):
            return _mark_unpaid(store, payment, PaymentStatus.EXPIRED, "abandoned", now)
        logger.info("gateway says the buyer has not finished; payment left waiting", extra=context)
        return payment
    if result.outcome is VerifyOutcome.EXPIRED:
        return _mark_unpaid(store, payment, PaymentStatus.EXPIRED, "expired", now)
    if result.outcome is VerifyOutcome.REVERSED:
        return _mark_unpaid(store, payment, PaymentStatus.EXPIRED, "reversed_by_gateway", now)
    if result.outcome is VerifyOutcome.CANCELLED or hinted_cancel:
        return _mark_unpaid(store, payment, PaymentStatus.CANCELLED, "cancelled", now)
    return _mark_unpaid(store, payment, PaymentStatus.FAILED, "declined", now)


def _abandoned_after(gateway: GatewayAdapter, payment: Payment) -> datetime:
    redirected = datetime.fromisoformat(payment.redirected_at or payment.created_at)
    return redirected + gateway.capabilities.token_ttl + ABANDON_GRACE


def _window_end(gateway: GatewayAdapter, payment: Payment) -> datetime:
    """When the gateway has voided or reversed whatever this payment's buyer did there."""
    caps = gateway.capabilities
    redirected = datetime.fromisoformat(payment.redirected_at or payment.created_at)
    return redirected + caps.token_ttl + caps.verify_window


def _reverse_and_fail(
    store: Store, gateway: GatewayAdapter, payment: Payment, refs: dict[str, str], reason: str, now: datetime
) -> Payment:
    """Give verified money back that we cannot accept, then close the payment as failed."""
    from paylink.payments.gateways.base import GatewayError

    try:
        reversed_ = gateway.reverse(token=payment.gateway_token or "", amount_irr=payment.amount, refs=refs)
    except GatewayError as exc:
        if exc.code == "unsupported":
            # This gateway has no reverse API: close the payment and leave the refund to an operator.
            logger.error(
                "payment cannot be accepted and must be refunded by hand",
                extra={"payment_id": payment.id, "reason": reason, "gateway": payment.gateway},
            )
            return _mark_unpaid(store, payment, PaymentStatus.FAILED, f"{reason}_refund_due", now)
        logger.error(
            "could not reverse a payment we cannot accept; will retry",
            extra={"payment_id": payment.id, "reason": reason, "code": exc.code},
        )
        if refs != (payment.gateway_refs or {}):
            store.save_gateway_refs(payment, refs)
        return payment
    logger.warning(
        "payment reversed at the gateway",
        extra={"payment_id": payment.id, "reason": reason, "confirmed": reversed_},
    )
    return _mark_unpaid(store, payment, PaymentStatus.FAILED, reason, now)


def _mark_unpaid(
    store: Store, payment: Payment, status: PaymentStatus, reason: str, now: datetime
) -> Payment:
    """End a waiting payment unpaid at `now`; it leaves the table later only if nothing was charged."""
    day = local_date(datetime.fromisoformat(payment.created_at), get_settings().timezone).isoformat()
    unpaid = payment.model_copy(update={"status": status, "failure_reason": reason})
    emit_payment_event(unpaid)  # before the write, delivered once the table shows it; never raises
    moved = store.mark_unpaid(payment, status, reason, day, gone_after=unpaid_gone_after(reason, now))
    logger.info(
        "payment not paid",
        extra={"payment_id": payment.id, "status": status.value, "reason": reason, "moved": moved},
    )
    if not moved:
        return store.get_payment(payment.id) or payment
    count_payment(status, payment.gateway)
    return unpaid


def return_location(payment: Payment) -> str:
    """Where the buyer goes after a return: the merchant's redirect_url (final payments) or our receipt.

    Every value added is URL-encoded, so a reference or metadata value cannot add parameters,
    a fragment or a header; a stored URL that fails today's checks sends the buyer to the receipt.
    """
    from paylink.web.origins import redirect_url_problem

    if payment.redirect_url and payment.is_final and redirect_url_problem(payment.redirect_url) is None:
        parts = urlsplit(payment.redirect_url)
        query = [
            *parse_qsl(parts.query, keep_blank_values=True),
            ("payment_id", payment.id),
            ("status", payment.status.value),
        ]
        # The merchant's own reference and metadata come back to it, as on the webhook and in CSV.
        if payment.reference:
            query.append(("reference", payment.reference))
        query.extend((f"metadata[{key}]", value) for key, value in sorted((payment.metadata or {}).items()))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    return f"/r/{payment.id}"


def receipt(store: Store, payment_id: str) -> Payment:
    from paylink.payments.archive import find_payment

    payment = find_payment(store, payment_id)  # an archived payment keeps its receipt
    if payment is None:
        raise NotFound("no such payment")
    return payment
