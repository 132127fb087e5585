"""The merchant API's use cases, one function per route, in terms of plain values."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import NotFound, ValidationFailed
from paylink.core.models import (
    CouponCreate,
    LinkCreate,
    LinkUpdate,
    Merchant,
    Payment,
    PaymentStatus,
    Settlement,
    iso,
    utcnow,
)
from paylink.core.settings import get_settings
from paylink.core.validation import parse
from paylink.exports import rows as export_rows
from paylink.merchants import accounts as merchants
from paylink.merchants import links
from paylink.settlement.business_calendar import start_of_day_utc
from paylink.settlement.daily import expected_settlement_date
from paylink.store import get_store
from paylink.web import exports
from paylink.web.http import IMAGE_HEADERS, base_url, json_response

CSV_MAX_ROWS = exports.MAX_ROWS
# The CSV's columns and cells live with the exports (the export worker writes the same rows).
CSV_COLUMNS = export_rows.CSV_COLUMNS
SETTLEMENT_CSV_COLUMNS = export_rows.SETTLEMENT_CSV_COLUMNS
_csv_cell = export_rows.csv_cell
_csv_row = export_rows.payment_row

INTERNAL_PAYMENT_FIELDS = {
    "merchant_id", "gateway_token", "merchant_name", "lang", "redirected_at", "gateway_refs", "holds_slot",
    "holds",
}  # fmt: skip

__all__ = ["NotFound"]


def authenticate(authorization: str | None) -> Merchant:
    return merchants.authenticate(get_store(), authorization)


def create_link(merchant: Merchant, body: Any, event: Any) -> dict[str, Any]:
    link = links.create_link(get_store(), merchant, parse(LinkCreate, body))
    return links.public_link(link, base_url(event))


def create_coupon(merchant: Merchant, body: Any) -> dict[str, Any]:
    from paylink.merchants import coupons

    return coupons.public_coupon(coupons.create_coupon(get_store(), merchant, parse(CouponCreate, body)))


def list_coupons(merchant: Merchant, params: dict[str, str]) -> dict[str, Any]:
    from paylink.merchants import coupons

    items, cursor = get_store().coupons_of(merchant.id, params.get("cursor"))
    return {"items": [coupons.public_coupon(c) for c in items], "next_cursor": cursor}


def send_invoice(merchant: Merchant, code: str, body: Any, event: Any) -> dict[str, Any]:
    """`POST /v1/links/{code}/send`: an invoice's link to its payer, by SMS and/or email."""
    from paylink.merchants import invoices
    from paylink.notify.messages import notifiers

    if not isinstance(body, dict) or not isinstance(body.get("via"), list):
        raise ValidationFailed("the body needs via", fields={"via": "a non-empty list of sms and/or email"})
    via = [str(v) for v in body["via"]]
    tz = get_settings().timezone
    return invoices.send_invoice(get_store(), merchant, code, via, base_url(event), notifiers(), tz=tz)


def telegram_link(merchant: Merchant) -> dict[str, Any]:
    """`POST /v1/telegram/link`: a one-time deep link to link a chat (503 without a bot)."""
    from paylink.bot.api import BotApiError
    from paylink.bot.linking import new_link_token
    from paylink.core.errors import BotUnavailable

    try:
        return new_link_token(get_store(), merchant)
    except BotApiError as exc:
        raise BotUnavailable("the Telegram bot is not available") from exc


def telegram_chats(merchant: Merchant) -> dict[str, Any]:
    from paylink.bot.linking import chats_of

    return {"items": chats_of(get_store(), merchant)}


def unlink_telegram_chat(merchant: Merchant, chat_id: str) -> None:
    from paylink.bot.linking import unlink_chat

    unlink_chat(get_store(), merchant, chat_id)


def get_link(merchant: Merchant, code: str, event: Any) -> dict[str, Any]:
    return links.public_link(links.get_own_link(get_store(), merchant, code), base_url(event))


def list_links(merchant: Merchant, params: dict[str, str], event: Any) -> dict[str, Any]:
    items, cursor = get_store().links_of(merchant.id, params.get("cursor"))
    root = base_url(event)
    return {"items": [links.public_link(link, root) for link in items], "next_cursor": cursor}


def update_link(merchant: Merchant, code: str, body: Any, event: Any) -> dict[str, Any]:
    link = links.update_link(get_store(), merchant, code, parse(LinkUpdate, body))
    return links.public_link(link, base_url(event))


def public_payment(payment: Payment) -> dict[str, Any]:
    """A payment as the merchant API shows it; a paid one says which business day pays it out."""
    from paylink.refunds.service import shown_status

    data = payment.model_dump(mode="json", exclude=INTERNAL_PAYMENT_FIELDS)
    data["status"] = shown_status(payment).value
    data["expected_settlement_date"] = None
    if payment.status is PaymentStatus.PAID and payment.paid_at:
        settings = get_settings()
        data["expected_settlement_date"] = expected_settlement_date(
            payment.paid_at, tz=settings.timezone, country=settings.country
        )
    return data


def public_settlement(settlement: Settlement) -> dict[str, Any]:
    return settlement.model_dump(mode="json", exclude={"merchant_id"})


def _day_bound(params: dict[str, str], name: str, *, end: bool) -> str | None:
    """`from`/`to` as calendar days in the market's time zone, turned into UTC bounds."""
    value = params.get(name)
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("invalid filter", fields={name: "expected a date YYYY-MM-DD"}) from exc
    moment = start_of_day_utc(day + timedelta(days=1) if end else day, get_settings().timezone)
    return iso(moment - timedelta(microseconds=1) if end else moment)


def _payment_filters(merchant: Merchant, params: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, str] = {}
    unknown = set(params) - {"link", "status", "from", "to", "cursor", "format"}
    for name in sorted(unknown):
        fields[name] = "unknown filter"
    status = params.get("status")
    if status and status not in {s.value for s in PaymentStatus}:
        fields["status"] = "one of " + ", ".join(s.value for s in PaymentStatus)
    if params.get("format", "json") not in ("json", "csv"):
        fields["format"] = "json or csv"
    if fields:
        raise ValidationFailed("invalid filter", fields=fields)
    since, until = _day_bound(params, "from", end=False), _day_bound(params, "to", end=True)
    if since and until and since > until:
        raise ValidationFailed("invalid filter", fields={"from": "must not be after to"})
    if params.get("link"):
        links.get_own_link(get_store(), merchant, params["link"])
    return {"link": params.get("link"), "status": status, "since": since, "until": until}


def _payments_page(
    merchant: Merchant, filters: dict[str, Any], cursor: str | None, page_size: int | None = None
) -> tuple[list[Payment], str | None]:
    return export_rows.payments_page(get_store(), merchant.id, filters, cursor, page_size)


def list_payments(
    merchant: Merchant, params: dict[str, str], seconds_left: float | None = None
) -> Response[str]:
    """Payments of a merchant, filtered; JSON pages, or one CSV of every match with `format=csv`
    (inline when small, else an export job: paylink.web.exports)."""
    filters = _payment_filters(merchant, params)
    if params.get("format") != "csv":
        items, cursor = _payments_page(merchant, filters, params.get("cursor"))
        return json_response(200, {"items": [public_payment(p) for p in items], "next_cursor": cursor})
    kept = {name: value for name, value in filters.items() if value}
    return exports.csv_export(
        "payments", kept, merchant_id=merchant.id, filename="payments.csv", seconds_left=seconds_left
    )


def get_payment(merchant: Merchant, payment_id: str) -> dict[str, Any]:
    from paylink.payments.archive import find_payment

    payment = find_payment(get_store(), payment_id)  # archived ones too
    if payment is None or payment.merchant_id != merchant.id:
        raise NotFound("no such payment")
    return public_payment(payment)


def create_refund(merchant: Merchant, payment_id: str, body: Any, event: Any) -> dict[str, Any]:
    """`POST /v1/payments/{id}/refunds` (DESIGN section 9)."""
    from paylink.core.models import RefundCreate
    from paylink.refunds import service

    request = parse(RefundCreate, body if body is not None else {})
    headers = {str(k).lower(): str(v) for k, v in (getattr(event, "headers", None) or {}).items()}
    refund = service.refund_payment(
        get_store(),
        merchant,
        payment_id,
        request.amount,
        request.reason,
        base_url=base_url(event),
        request_key=headers.get("idempotency-key") or None,
    )
    return service.public_refund(refund)


def list_refunds(merchant: Merchant, payment_id: str, event: Any = None) -> dict[str, Any]:
    from paylink.refunds import service

    root = base_url(event) if event is not None else None
    refunds = service.refunds_of(get_store(), merchant, payment_id, base_url=root)
    return {"items": [service.public_refund(r) for r in refunds]}


def remind_refund_payer(merchant: Merchant, payment_id: str, refund_id: str, event: Any) -> dict[str, Any]:
    """`POST /v1/payments/{id}/refunds/{refund_id}/remind`: a new link texted to the payer."""
    from paylink.refunds import service

    refund = service.remind_payer(get_store(), merchant, refund_id, base_url(event), payment_id=payment_id)
    return service.public_refund(refund)


def get_balance(merchant: Merchant) -> dict[str, Any]:
    """`GET /v1/balance`: what waits for the next settlements, the refunds it will net, what is owed."""
    from paylink.settlement.business_calendar import local_date, next_business_day
    from paylink.settlement.ledger import balance

    settings = get_settings()
    today = local_date(utcnow(), settings.timezone)
    next_day = next_business_day(today, settings.country).isoformat()
    return balance(get_store(), merchant, next_settlement_date=next_day)


def list_ledger(merchant: Merchant, params: dict[str, str]) -> dict[str, Any]:
    """`GET /v1/ledger`: the merchant's ledger entries, newest first, paged, `from`/`to` days."""
    from paylink.settlement.ledger import ledger_page
    from paylink.store.table import PAGE_SIZE

    unknown = sorted(set(params) - {"from", "to", "cursor"})
    if unknown:
        raise ValidationFailed("invalid filter", fields={name: "unknown filter" for name in unknown})
    since, until = _day_bound(params, "from", end=False), _day_bound(params, "to", end=True)
    if since and until and since > until:
        raise ValidationFailed("invalid filter", fields={"from": "must not be after to"})
    entries, cursor = ledger_page(
        get_store(), merchant, cursor=params.get("cursor"), since=since, until=until, limit=PAGE_SIZE
    )
    return {"items": entries, "next_cursor": cursor}


def _wants_csv(params: dict[str, str]) -> bool:
    if params.get("format", "json") not in ("json", "csv"):
        raise ValidationFailed("invalid filter", fields={"format": "json or csv"})
    return params.get("format") == "csv"


def list_settlements(
    merchant: Merchant, params: dict[str, str], seconds_left: float | None = None
) -> Response[str]:
    """A merchant's settlements, newest first; JSON pages, or one CSV of all with `format=csv`."""
    store = get_store()
    if not _wants_csv(params):
        items, cursor = store.settlements_of(merchant.id, params.get("cursor"))
        return json_response(200, {"items": [public_settlement(s) for s in items], "next_cursor": cursor})
    return exports.csv_export(
        "settlements", {}, merchant_id=merchant.id, filename="settlements.csv", seconds_left=seconds_left
    )


def get_settlement(
    merchant: Merchant, settlement_id: str, params: dict[str, str], seconds_left: float | None = None
) -> Response[str]:
    """One settlement with its payments; `format=csv` answers its payments as CSV."""
    store = get_store()
    wants_csv = _wants_csv(params)
    settlement = store.get_settlement(settlement_id)
    if settlement is None or settlement.merchant_id != merchant.id:
        raise NotFound("no such settlement")
    if wants_csv:
        return exports.csv_export(
            "settlement_payments",
            {"settlement_id": settlement_id},
            merchant_id=merchant.id,
            filename=f"{settlement_id}.csv",
            seconds_left=seconds_left,
        )
    payments = store.payments_of_settlement(settlement_id)
    body = {**public_settlement(settlement), "payments": [public_payment(p) for p in payments]}
    return json_response(200, body)


def get_export(merchant: Merchant, export_id: str) -> dict[str, Any]:
    """`GET /v1/exports/{id}`: an export job's status, and a fresh short-lived link once it is done."""
    from paylink.exports.jobs import export_status

    return export_status(get_store(), merchant.id, export_id)


def qr(code: str, kind: str, event: Any) -> Response[Any]:
    """The QR code image of a link's URL (public: the URL is what a buyer scans anyway)."""
    if get_store().get_link(code) is None:
        raise NotFound("no such link")
    return _qr_image(f"{base_url(event)}/{code}", kind)


def personal_qr(username: str, kind: str, event: Any) -> Response[Any]:
    """The QR code of a merchant's personal page `/u/{username}`."""
    store = get_store()
    if not merchants.USERNAME.fullmatch(username) or store.merchant_id_for_username(username) is None:
        raise NotFound("no such merchant")
    return _qr_image(f"{base_url(event)}/u/{username}", kind)


def _qr_image(url: str, kind: str) -> Response[Any]:
    from paylink.web.qr import qr_png, qr_svg

    headers = dict(IMAGE_HEADERS)
    if kind == "svg":
        return Response(status_code=200, content_type="image/svg+xml", body=qr_svg(url), headers=headers)
    return Response(status_code=200, content_type="image/png", body=qr_png(url), headers=headers)


# ---- settings: the webhook endpoint and API keys (paylink.merchants.webhook_endpoint, api_keys) ----


def get_webhook(merchant: Merchant) -> dict[str, Any]:
    from paylink.merchants import webhook_endpoint

    return webhook_endpoint.get_endpoint(get_store(), merchant)


def put_webhook(merchant: Merchant, body: Any) -> tuple[int, dict[str, Any]]:
    """`PUT /v1/webhook`: 201 with the secret when it creates the endpoint, 200 when it changes the URL."""
    from paylink.merchants import webhook_endpoint

    answer, created = webhook_endpoint.set_endpoint(get_store(), merchant, body)
    return (201 if created else 200), answer


def rotate_webhook(merchant: Merchant) -> dict[str, Any]:
    from paylink.merchants import webhook_endpoint

    return webhook_endpoint.rotate_secret(get_store(), merchant)


def delete_webhook(merchant: Merchant) -> None:
    from paylink.merchants import webhook_endpoint

    webhook_endpoint.delete_endpoint(get_store(), merchant)


def send_test_webhook(merchant: Merchant) -> dict[str, Any]:
    from paylink.merchants import webhook_endpoint

    return webhook_endpoint.send_test_event(get_store(), merchant)


def webhook_deliveries(merchant: Merchant, params: dict[str, str]) -> dict[str, Any]:
    from paylink.merchants import webhook_endpoint

    return webhook_endpoint.deliveries(get_store(), merchant, params.get("cursor"))


def list_api_keys(merchant: Merchant) -> dict[str, Any]:
    from paylink.merchants import api_keys

    return {"items": api_keys.list_keys(get_store(), merchant), "next_cursor": None}


def create_api_key(merchant: Merchant, body: Any) -> dict[str, Any]:
    from paylink.merchants import api_keys

    return api_keys.create_key(get_store(), merchant, body)


def revoke_api_key(merchant: Merchant, key_id: str) -> dict[str, Any]:
    from paylink.merchants import api_keys

    return api_keys.revoke_key(get_store(), merchant, key_id)
