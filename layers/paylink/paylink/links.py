"""Links: creation with an unguessable code, reads with counters, changes by their merchant."""

from __future__ import annotations

from typing import Any

from paylink.errors import Conflict, NotFound, ValidationFailed
from paylink.ids import new_link_code
from paylink.models import Link, LinkCreate, LinkKind, LinkUpdate, Merchant, iso, utcnow
from paylink.store import Store

CODE_ATTEMPTS = 5
INTERNAL_LINK_FIELDS = {
    "merchant_id", "merchant_name", "open_slots",
    "merchant_per_payment_cap", "merchant_daily_cap", "merchant_gateways",
}  # fmt: skip


def create_link(store: Store, merchant: Merchant, request: LinkCreate) -> Link:
    """Store a new link of `merchant` under a fresh code (conditional put; a collision draws again)."""
    cap = merchant.per_payment_cap
    if cap is not None:
        biggest = request.max_amount if request.kind is LinkKind.OPEN else request.amount
        if biggest is not None and biggest * request.max_quantity > cap:
            field = "max_amount" if request.kind is LinkKind.OPEN else "amount"
            raise ValidationFailed(
                "above the account's limit per payment",
                fields={field: f"a payment may be at most {cap} rials on this account"},
            )
    if cap is not None and request.min_amount is not None and request.min_amount > cap:
        raise ValidationFailed(
            "above the account's limit per payment",
            fields={"min_amount": f"a payment may be at most {cap} rials on this account"},
        )
    data = request.model_dump(mode="json", exclude_none=True)
    if request.expires_at is not None:
        data["expires_at"] = iso(request.expires_at)
    if request.kind is LinkKind.INVOICE:
        data["max_payments"] = 1
    if request.kind is LinkKind.OPEN:
        data.setdefault("min_amount", 1_000)
        data.setdefault("max_amount", cap)
    for _ in range(CODE_ATTEMPTS):
        link = Link(
            code=new_link_code(),
            merchant_id=merchant.id,
            merchant_name=merchant.name,
            merchant_per_payment_cap=merchant.per_payment_cap,
            merchant_daily_cap=merchant.daily_cap,
            merchant_gateways=merchant.gateways,
            created_at=iso(utcnow()),
            **data,
        )
        if store.put_new_link(link):
            return link
    raise RuntimeError("could not allocate a unique link code")  # 2**71 codes: never in practice


def get_own_link(store: Store, merchant: Merchant, code: str) -> Link:
    """A link of this merchant; another merchant's link is NotFound, exactly like a missing one."""
    link = store.get_link(code)
    if link is None or link.merchant_id != merchant.id:
        raise NotFound("no such link")
    return link


def update_link(store: Store, merchant: Merchant, code: str, request: LinkUpdate) -> Link:
    """Apply a PATCH; only the fields sent change."""
    changes: dict[str, Any] = {}
    for name in request.model_fields_set:
        value = getattr(request, name)
        changes[name] = iso(value) if name == "expires_at" and value is not None else value
    expected_max = None
    if "max_payments" in changes:
        current = get_own_link(store, merchant, code)
        new_max = changes["max_payments"]
        if new_max is not None and new_max < current.paid_count:
            raise ValidationFailed(
                "stock below what is sold",
                fields={"max_payments": f"{current.paid_count} payments are already paid"},
            )
        expected_max = current.max_payments
    link = store.update_link(merchant.id, code, changes, expected_max_payments=expected_max)
    if link is None:
        if "max_payments" in changes and store.get_link(code) is not None:
            raise Conflict("the link changed meanwhile; read it and try again")
        raise NotFound("no such link")
    return link


def public_link(link: Link, base_url: str) -> dict[str, Any]:
    """The link as the merchant API shows it."""
    data = link.model_dump(mode="json", exclude=INTERNAL_LINK_FIELDS)
    url = f"{base_url}/{link.code}"
    return {
        **data,
        "url": url,
        "qr_svg_url": f"{url}/qr.svg",
        "qr_png_url": f"{url}/qr.png",
        "status": link.status().value,
    }
