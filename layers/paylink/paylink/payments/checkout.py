"""The buyer's side of a link: the hosted page's data and the start of a payment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from paylink.core.errors import (
    Gone,
    LimitExceeded,
    NoGatewayAvailable,
    NotFound,
    PaymentInProgress,
    ValidationFailed,
)
from paylink.core.ids import new_payment_id
from paylink.core.models import Link, LinkKind, LinkStatus, Payment, PaymentStatus, iso, utcnow
from paylink.core.observability import Metric, correlate, count, count_payment, logger
from paylink.core.settings import get_settings
from paylink.payments import health, routing
from paylink.payments.client_share import client_holds, share_for
from paylink.payments.retention import unpaid_gone_after
from paylink.settlement.business_calendar import local_date
from paylink.store import Store

PERSIAN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
MOBILE = re.compile(r"^(?:\+98|0098|0)?(9\d{9})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REQUIRED_WHEN_COLLECTED = {"name", "phone", "email", "address"}
MAX_LENGTH = {"name": 100, "email": 254, "address": 500, "note": 500}


class FormInvalid(ValidationFailed):
    """The buyer's form has errors; `fields` maps each field to an error code the page translates."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("the form has errors", fields=fields)


@dataclass(frozen=True)
class Redirect:
    method: str
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Started:
    payment: Payment
    redirect: Redirect


def payable_link(store: Store, code: str, now: datetime | None = None) -> Link:
    """The link behind a code if a buyer may pay it now: NotFound, or Gone with the reason."""
    correlate(link_code=code)
    return _payable(store.get_link(code), now)


def payable(link: Link, now: datetime | None = None) -> Link:
    """The link itself if a buyer may pay it now, else Gone with the reason."""
    return _payable(link, now)


def _payable(link: Link | None, now: datetime | None) -> Link:
    if link is None:
        raise NotFound("no such link")
    correlate(merchant_id=link.merchant_id)
    status = link.status(now)
    if status is not LinkStatus.ACTIVE:
        raise Gone("already_paid" if status is LinkStatus.PAID else status.value)
    return link


def read_form(link: Link, form: Mapping[str, str]) -> tuple[dict[str, str], int, int]:
    """Validate the buyer's form: (payer fields, unit amount in rials, quantity) or FormInvalid."""
    errors: dict[str, str] = {}
    payer: dict[str, str] = {}
    for name in link.collect:
        value = (form.get(name) or "").strip()
        if not value:
            if name in REQUIRED_WHEN_COLLECTED:
                errors[name] = "required"
            continue
        if len(value) > MAX_LENGTH.get(name, 100):
            errors[name] = "too_long"
        elif name == "phone":
            match = MOBILE.match(re.sub(r"[\s-]", "", value.translate(PERSIAN_DIGITS)))
            if match is None:
                errors[name] = "invalid_phone"
            else:
                value = "0" + match.group(1)
        elif name == "email" and not EMAIL.match(value):
            errors[name] = "invalid_email"
        payer[name] = value
    unit_amount, quantity = _amount_and_quantity(link, form, errors)
    if errors:
        raise FormInvalid(errors)
    return payer, unit_amount, quantity


def _amount_and_quantity(link: Link, form: Mapping[str, str], errors: dict[str, str]) -> tuple[int, int]:
    unit_amount = link.amount or 0
    part = link.next_installment()
    if part is not None:
        unit_amount = part.amount  # the schedule's, whatever the form says
    if link.kind is LinkKind.OPEN:
        unit_amount = _open_amount(link, form.get("amount"), errors)
    quantity = 1
    raw_quantity = (form.get("quantity") or "1").strip().translate(PERSIAN_DIGITS)
    if not re.fullmatch(r"[0-9]{1,4}", raw_quantity) or not 1 <= int(raw_quantity) <= link.max_quantity:
        errors["quantity"] = "invalid_quantity"
    else:
        quantity = int(raw_quantity)
    return unit_amount, quantity


@dataclass(frozen=True)
class Quote:
    """What a buyer would pay: the amount, the coupon's discount, and what is left."""

    subtotal: int
    discount: int
    total: int
    coupon: str | None


def _priced(
    store: Store,
    link: Link,
    subtotal: int,
    raw_coupon: str | None,
    now: datetime,
    source_ip: str | None = None,
) -> Quote:
    from paylink.merchants import coupons

    if not coupons.normalize(raw_coupon):
        return Quote(subtotal, 0, subtotal, None)
    coupons.take_try(store, link.merchant_id, source_ip, now)  # before the code is looked up
    coupon = coupons.usable(store, link, raw_coupon or "", now)
    discount = coupons.discount_for(coupon, subtotal)
    return Quote(subtotal, discount, subtotal - discount, coupon.code)


def quote(
    store: Store, code: str, form: Mapping[str, str], source_ip: str | None = None
) -> tuple[Link, Quote]:
    """The "apply" button: the amount after the buyer's coupon (payer fields are not checked yet)."""
    now = utcnow()
    link = payable_link(store, code, now)
    errors: dict[str, str] = {}
    unit_amount, quantity = _amount_and_quantity(link, form, errors)
    if errors:
        raise FormInvalid(errors)
    return link, _priced(store, link, unit_amount * quantity, form.get("coupon"), now, source_ip)


def _open_amount(link: Link, raw: str | None, errors: dict[str, str]) -> int:
    """An open link's amount: the buyer types toman (as the page says); we keep rials."""
    text = re.sub(r"[\s,٬]", "", (raw or "").strip().translate(PERSIAN_DIGITS))
    if not text:
        errors["amount"] = "required"
        return 0
    if not re.fullmatch(r"[0-9]{1,15}", text):  # ASCII digits only, bounded before int()
        errors["amount"] = "invalid_amount"
        return 0
    rials = int(text) * 10
    if link.min_amount is not None and rials < link.min_amount:
        errors["amount"] = "too_small"
    elif link.max_amount is not None and rials > link.max_amount:
        errors["amount"] = "too_large"
    return rials


def start_payment(
    store: Store,
    code: str,
    form: Mapping[str, str],
    *,
    base_url: str,
    lang: str,
    source_ip: str | None = None,
) -> Started:
    """Validate, reserve, get a token from the healthiest gateway, and send the buyer there.

    Three DynamoDB calls: one read (the link with its merchant's limits, and the gateways'
    health); one transaction that records the payment `created` with its share of the daily cap,
    for a link with stock the unit it holds, and its count on its client's holds (`source_ip`,
    and the phone when collected), so that no gateway is asked for a payment over a cap, for a
    unit another buyer holds, or for a client over its share (TooManyOpenPayments); and, once a
    gateway has given a token, one write that moves it to `redirected`: a transaction with its
    token index and the gateways' health when there is any to write, else a plain conditional
    update (a success on a quiet gateway is counted one time in health.SUCCESS_SAMPLE).
    """
    settings = get_settings()
    now = utcnow()
    correlate(link_code=code)
    link, healths = store.checkout_context(code, routing.gateway_names(), health.window_keys(now))
    link = _payable(link, now)
    payer, unit_amount, quantity = read_form(link, form)
    priced = _priced(store, link, unit_amount * quantity, form.get("coupon"), now, source_ip)
    amount = priced.total
    if link.merchant_per_payment_cap is not None and amount > link.merchant_per_payment_cap:
        raise LimitExceeded("over the limit per payment", fields={"amount": "over_limit"})
    if link.open_slots is not None and link.open_slots < 1:
        raise PaymentInProgress("another payment for this link is in progress")
    day = local_date(now, settings.timezone).isoformat()
    payment = Payment(
        id=new_payment_id(),
        merchant_id=link.merchant_id,
        link_code=link.code,
        link_title=link.title,
        merchant_name=link.merchant_name,
        amount=amount,
        quantity=quantity,
        status=PaymentStatus.CREATED,
        payer=payer,
        redirect_url=link.redirect_url,
        reference=link.reference,
        metadata=link.metadata,
        lang=lang,
        created_at=iso(now),
        holds_slot=link.open_slots is not None,
        holds=client_holds(day, source_ip),
        coupon=priced.coupon,
        discount=priced.discount if priced.coupon else None,
        installment=installment.number if (installment := link.next_installment()) else None,
    )
    correlate(payment_id=payment.id)
    try:
        store.reserve_payment(
            payment, day, link.merchant_daily_cap, share_for(link.merchant_daily_cap, settings)
        )
    except LimitExceeded as exc:
        raise LimitExceeded(exc.message, fields={"amount": "over_daily_limit"}) from exc

    attempt = routing.first_token(
        store,
        routing.plan_for(link.merchant_gateways, healths, now),
        healths,
        order_id=payment.id,
        amount_irr=amount,
        callback_base=f"{base_url}/callback",
        description=link.title[:100],
        mobile=payer.get("phone"),
        budget_seconds=settings.checkout_budget_seconds,
    )
    finished = utcnow()
    if attempt.created is None or attempt.gateway is None:
        moved = store.mark_unpaid(payment, PaymentStatus.FAILED, "no_gateway", day,
                                  store.health_items(attempt.outcomes, finished),
                                  gone_after=unpaid_gone_after("no_gateway", finished))  # fmt: skip
        _count_failovers(attempt)
        count(Metric.CHECKOUT_NO_GATEWAY)
        if moved:
            count_payment(PaymentStatus.FAILED, None)
        logger.error(
            "no gateway could start the payment",
            extra={"payment_id": payment.id, "tried": [o.gateway for o, _ in attempt.outcomes]},
        )
        raise NoGatewayAvailable("no payment gateway is available right now; nothing was charged")
    payment = payment.model_copy(
        update={
            "status": PaymentStatus.REDIRECTED,
            "gateway": attempt.gateway,
            "gateway_token": attempt.created.token,
            "redirected_at": iso(finished),
        }
    )
    chosen = routing.adapter(attempt.gateway) if attempt.gateway else None
    echoes = chosen.capabilities.echoes_order_id if chosen else False
    redirected = store.record_redirect(
        payment, store.health_items(attempt.outcomes, finished), index_token=not echoes
    )
    _count_failovers(attempt)
    if not redirected:
        # The reconciler expired it meanwhile (a gateway slower than a minute): start again.
        raise NoGatewayAvailable("the payment took too long to start; nothing was charged")
    logger.info(
        "payment started",
        extra={
            "payment_id": payment.id,
            "gateway": attempt.gateway,
            "amount": amount,
            "failovers": len(attempt.outcomes) - 1,
            "elapsed_ms": attempt.elapsed_ms,
        },
    )
    redirect = attempt.created.redirect
    return Started(payment, Redirect(redirect.method, redirect.url, dict(redirect.fields)))


def _count_failovers(attempt: routing.Attempt) -> None:
    """One GatewayFailover per gateway that failed this checkout (a business refusal is no failure)."""
    for outcome, _ in attempt.outcomes:
        if not outcome.ok:
            count(Metric.GATEWAY_FAILOVER, gateway=outcome.gateway)
