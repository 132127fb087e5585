"""Links: creation with an unguessable code, reads with counters, changes by their merchant."""

from __future__ import annotations

from datetime import date
from typing import Any

from paylink.core.errors import Conflict, NotFound, ValidationFailed
from paylink.core.ids import new_link_code
from paylink.core.models import MIN_AMOUNT, Link, LinkCreate, LinkKind, LinkUpdate, Merchant, iso, utcnow
from paylink.store import Store

CODE_ATTEMPTS = 5
# A personal page's link code: generated codes are base-62, so a "-" never collides with one.
PERSONAL_PREFIX = "u-"
PERSONAL_COLLECT: list[Any] = ["name", "note"]
INTERNAL_LINK_FIELDS = {
    "merchant_id", "merchant_name", "open_slots",
    "merchant_per_payment_cap", "merchant_daily_cap", "merchant_gateways",
}  # fmt: skip


def create_link(store: Store, merchant: Merchant, request: LinkCreate) -> Link:
    """Store a new link of `merchant` under a fresh code (conditional put; a collision draws again)."""
    cap = merchant.per_payment_cap
    if cap is not None and request.installments:
        # Each installment is one payment: each must fit the limit, not the invoice's total.
        above = [str(n) for n, part in enumerate(request.installments, 1) if part.amount > cap]
        if above:
            raise ValidationFailed(
                "above the account's limit per payment",
                fields={"installments": f"installment {', '.join(above)}: a payment may be at most "
                        f"{cap} rials on this account"},
            )  # fmt: skip
    elif cap is not None:
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
    if request.installments:
        data["max_payments"] = len(request.installments)
        data["installments"] = [
            {"number": n, "amount": part.amount, "due_date": part.due_date.isoformat()}
            for n, part in enumerate(request.installments, 1)
        ]
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
        if current.installments:
            raise ValidationFailed(
                "an invoice in installments is paid once per installment",
                fields={"max_payments": "an invoice in installments has one payment per installment"},
            )
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


def public_link(link: Link, base_url: str, today: date | None = None) -> dict[str, Any]:
    """The link as the merchant API shows it; an invoice in installments with each one's status."""
    data = link.model_dump(mode="json", exclude=INTERNAL_LINK_FIELDS)
    url = f"{base_url}/{link.code}"
    if link.installments:
        day = today or market_today()
        data["installments"] = [
            {
                "number": part.number,
                "amount": part.amount,
                "due_date": part.due_date,
                "status": part.status(day).value,
                "payment_id": part.payment_id,
                "paid_at": part.paid_at,
            }
            for part in link.installments
        ]
    return {
        **data,
        "url": url,
        "qr_svg_url": f"{url}/qr.svg",
        "qr_png_url": f"{url}/qr.png",
        "status": link.status().value,
    }


def market_today() -> date:
    """Today in the market's time zone: the day installments fall due on."""
    from paylink.core.settings import get_settings
    from paylink.settlement.business_calendar import local_date

    return local_date(utcnow(), get_settings().timezone)


def personal_code(username: str) -> str:
    return PERSONAL_PREFIX + username


def personal_username(code: str) -> str | None:
    """The username behind a personal page's link code; None for an ordinary link."""
    return code.removeprefix(PERSONAL_PREFIX) if code.startswith(PERSONAL_PREFIX) else None


def personal_link(store: Store, username: str) -> Link:
    """The unlisted open link behind `/u/{username}`, made on first use; NotFound for no such merchant.

    Its code is derived from the username, so two first visits at once make one link (conditional put).
    """
    from paylink.merchants.accounts import USERNAME

    if not USERNAME.fullmatch(username):
        raise NotFound("no such merchant")
    link = store.get_link(personal_code(username))
    if link is not None:
        return link
    merchant_id = store.merchant_id_for_username(username)
    merchant = store.get_merchant(merchant_id) if merchant_id else None
    if merchant is None:
        raise NotFound("no such merchant")
    return ensure_personal_link(store, merchant)


def ensure_personal_link(store: Store, merchant: Merchant) -> Link:
    """Create the merchant's personal open link if it is not there yet: 1,000 rials up to its cap."""
    link = Link(
        code=personal_code(merchant.username),
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        kind=LinkKind.OPEN,
        title=merchant.name,
        min_amount=MIN_AMOUNT,
        max_amount=merchant.per_payment_cap,
        collect=PERSONAL_COLLECT,
        merchant_per_payment_cap=merchant.per_payment_cap,
        merchant_daily_cap=merchant.daily_cap,
        merchant_gateways=merchant.gateways,
        created_at=iso(utcnow()),
    )
    if store.put_new_link(link, listed=False):
        return link
    existing = store.get_link(link.code)
    if existing is None:  # pragma: no cover - a put refused for an item that is not there
        raise Conflict("the personal page could not be made; try again")
    return existing
