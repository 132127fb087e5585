"""Coupons: a merchant's discount codes, and what one takes off a payment.

Rounding: a percent discount is rounded down to the rial (the merchant never gives more than
the percentage). Whatever the coupon, the amount left to pay is never below the gateways'
minimum (MIN_AMOUNT rials): the discount is cut to leave that much.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from paylink.core.errors import ValidationFailed
from paylink.core.models import (
    MIN_AMOUNT,
    Coupon,
    CouponCreate,
    CouponKind,
    Link,
    LinkKind,
    Merchant,
    iso,
    utcnow,
)
from paylink.store import Store

CODE = re.compile(r"^[A-Z0-9]{3,20}$")
# Coupon codes one client (its address, an IPv6 /64) may try on a shop's links in an hour, right or
# wrong: codes are words a merchant chose, and the page says which one works.
COUPON_TRIES = 20
TRY_WINDOW = 3600


class CouponRefused(ValidationFailed):
    """The buyer's coupon cannot be used; `fields["coupon"]` is the error code the page translates."""

    def __init__(self, reason: str) -> None:
        super().__init__("the coupon cannot be used", fields={"coupon": reason})


class CouponTries(CouponRefused):
    """The client tried too many codes on this shop lately: no code is checked for it now."""

    status = 429

    def __init__(self) -> None:
        super().__init__("coupon_tries")


def take_try(store: Store, merchant_id: str, source_ip: str | None, now: datetime) -> None:
    """Count one code tried by this client on this merchant's links, or raise CouponTries."""
    from paylink.payments.client_share import _digest, _network

    network = _network(source_ip)
    if network is None:
        return
    window = int(now.timestamp()) // TRY_WINDOW
    key = f"COUPONTRY#{merchant_id}#{_digest(network)}#{window}"
    if not store.count_within(key, COUPON_TRIES, (window + 2) * TRY_WINDOW):
        raise CouponTries


def normalize(raw: str | None) -> str:
    """What the buyer typed, as a code: trimmed, upper-case (codes are A-Z0-9)."""
    return (raw or "").strip().upper()


def create_coupon(store: Store, merchant: Merchant, request: CouponCreate) -> Coupon:
    """Store a new coupon of `merchant`; its links must be the merchant's own."""
    for code in request.links or []:
        link = store.get_link(code)
        if link is None or link.merchant_id != merchant.id:
            raise ValidationFailed("unknown link", fields={"links": f"no such link: {code}"})
    coupon = Coupon(
        code=request.code,
        merchant_id=merchant.id,
        kind=request.kind,
        value=request.value,
        max_uses=request.max_uses,
        expires_at=iso(request.expires_at) if request.expires_at else None,
        links=request.links,
        created_at=iso(utcnow()),
    )
    store.put_new_coupon(coupon)
    return coupon


def public_coupon(coupon: Coupon) -> dict[str, Any]:
    return coupon.model_dump(mode="json", exclude={"merchant_id"})


def usable(store: Store, link: Link, raw: str, now: datetime | None = None) -> Coupon:
    """The coupon a buyer typed if it may be used on `link` now, or CouponRefused (always on an
    invoice: its amount is billed, never discounted).

    `uses` read here is a hint for a clear message; the cap is enforced by the conditional
    write that takes a use in the payment's reservation.
    """
    if link.kind is LinkKind.INVOICE:
        # An invoice's amount is what the merchant billed: a shop-wide code must not cut it.
        raise CouponRefused("coupon_not_for_invoice")
    code = normalize(raw)
    coupon = store.get_coupon(link.merchant_id, code) if CODE.fullmatch(code) else None
    if coupon is None or (coupon.links is not None and link.code not in coupon.links):
        raise CouponRefused("coupon_invalid")
    if coupon.expires_at and datetime.fromisoformat(coupon.expires_at) <= (now or utcnow()):
        raise CouponRefused("coupon_expired")
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        raise CouponRefused("coupon_used_up")
    return coupon


def discount_for(coupon: Coupon, amount: int) -> int:
    """Rials off `amount`: percent rounded down to the rial; never leaving less than MIN_AMOUNT."""
    off = amount * coupon.value // 100 if coupon.kind is CouponKind.PERCENT else coupon.value
    return max(0, min(off, amount - MIN_AMOUNT))
