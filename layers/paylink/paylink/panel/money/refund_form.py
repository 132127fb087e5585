"""A payment's page with its refunds, and the panel's refund form (DESIGN sections 8 and 9).

The form takes `amount` in toman (empty = all that is left) and a hidden one-time `key` made when
the page is drawn. Its first post checks the same rules as the API (paylink.refunds.service.
check_refund) and shows a summary to confirm; the confirming post makes the refund with `key` as its
idempotency key, so a double submit, a reload or a Back-and-submit of that form refunds once. Another
merchant's payment or refund answers exactly like a missing one (the panel's 404 page).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import Conflict, NotFound, ValidationFailed
from paylink.core.models import Merchant, Payment, PaymentStatus, RefundStatus, utcnow
from paylink.panel import sessions
from paylink.panel.pages import page, signed_in
from paylink.panel.render import parse_toman
from paylink.store import get_store
from paylink.web.http import base_url, form_fields, query, redirect

FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
REASON_MAX = 200
DONE_NOTICES = {"refund": "refund.done", "reminded": "refund.reminded"}


def new_form_key() -> str:
    """The one-time key a refund form carries: its post, sent again, finds the same refund."""
    return secrets.token_urlsafe(18)


def card_shown(mask: str | None) -> str:
    """A masked card in groups of four, as on the card: `603799******1234` -> `6037-99**-****-1234`."""
    kept = re.sub(r"[^0-9*]", "", mask or "")
    return "-".join(kept[i : i + 4] for i in range(0, len(kept), 4))


def _lang_query(lang: str, **extra: str) -> str:
    pairs = ([("lang", "en")] if lang == "en" else []) + list(extra.items())
    return ("?" + "&".join(f"{k}={quote(v)}" for k, v in pairs)) if pairs else ""


def _payment_view(
    status: int,
    lang: str,
    merchant: Merchant,
    payment_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    done: str | None = None,
) -> Response[str]:
    """The payment's page: its timeline, its refunds (pending ones carried on first) and the form."""
    from paylink.refunds import service
    from paylink.web import merchant_api

    payment = merchant_api.get_payment(merchant, payment_id)  # NotFound for another merchant's
    settlement = None
    if payment.get("settlement_id"):
        found = get_store().get_settlement(payment["settlement_id"])
        settlement = merchant_api.public_settlement(found) if found else None
    refunds = service.refunds_of(get_store(), merchant, payment_id)
    refunded = sum(r.amount for r in refunds if r.status is not RefundStatus.FAILED)
    left = max(0, payment["amount"] - refunded)
    refundable = payment["status"] in (PaymentStatus.PAID.value, PaymentStatus.SETTLED.value) and left > 0
    return page(
        status, "panel/payment.html", lang, merchant=merchant, nav="payments", p=payment,
        settlement=settlement, refunds=refunds, refunded=refunded, left=left, refundable=refundable,
        form=form or {}, errors=errors or {}, problem=problem, done=done, key=new_form_key(),
        max_reminders=service.MAX_REMINDERS, card=card_shown(payment.get("card_mask")),
    )  # fmt: skip


@signed_in
def payment_page(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, payment_id: str
) -> Response[str]:
    """`GET /dashboard/payments/{id}`; `?done=refund|reminded` says what the last post did."""
    done = DONE_NOTICES.get(query(event).get("done", ""))
    return _payment_view(200, lang, merchant, payment_id, done=done)


def _problem(exc: Exception, payment: Payment | None) -> tuple[int, dict[str, str], str | None]:
    """A refused refund as the page shows it: (status, field errors, message key)."""
    from paylink.refunds.service import InsufficientBalance

    if isinstance(exc, InsufficientBalance):
        return 409, {}, "refund.err.balance"
    if isinstance(exc, Conflict):
        return 409, {}, "refund.err.not_paid"
    if payment is None or payment.amount - payment.amount_refunded <= 0:
        return 409, {}, "refund.err.nothing_left"
    return 400, {"amount": "refund.err.too_much"}, None  # the page shows what is left


@signed_in
def refund_submit(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, payment_id: str
) -> Response[str]:
    """`POST /dashboard/payments/{id}/refund`: without `confirm`, the summary to confirm; with it,
    the refund (the form's `key` as its idempotency key), then 303 back to the payment's page."""
    from paylink.refunds import service

    store = get_store()
    payment = store.get_payment(payment_id)
    if payment is None or payment.merchant_id != merchant.id:
        raise NotFound("no such payment")
    form = form_fields(event)
    shown = {"amount": form.get("amount", "")[:40], "reason": form.get("reason", "")[:REASON_MAX]}
    key = form.get("key", "")
    if not FORM_KEY.fullmatch(key):
        return _payment_view(400, lang, merchant, payment_id, form=shown, problem="refund.err.form")
    text = shown["amount"].strip()
    amount = parse_toman(text) if text else None
    if text and amount is None:
        return _payment_view(
            400, lang, merchant, payment_id, form=shown, errors={"amount": "refund.err.amount"}
        )
    reason = shown["reason"].strip() or None
    try:
        if form.get("confirm") == "yes":
            service.refund_payment(
                store, merchant, payment_id, amount, reason, base_url=base_url(event), request_key=key
            )
            return redirect(f"/dashboard/payments/{quote(payment_id)}" + _lang_query(lang, done="refund"))
        checked, value = service.check_refund(store, merchant, payment_id, amount)
    except (Conflict, ValidationFailed) as exc:
        status, errors, problem = _problem(exc, store.get_payment(payment_id))
        return _payment_view(status, lang, merchant, payment_id, form=shown, errors=errors, problem=problem)
    method = service.choose_method(checked, value, utcnow())
    return page(
        200, "panel/refund_confirm.html", lang, merchant=merchant, nav="payments", p=checked, value=value,
        method=method.value, card=card_shown(checked.card_mask), key=key, amount_text=_toman_text(value),
        reason=reason or "",
    )  # fmt: skip


def _toman_text(rials: int) -> str:
    """What the confirming form posts as `amount`: the summary's own amount, so the rest computed
    now is what is confirmed (empty, the rest, only for an amount that is not whole toman)."""
    return str(rials // 10) if rials % 10 == 0 else ""


@signed_in
def remind_submit(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, payment_id: str
) -> Response[str]:
    """`POST /dashboard/payments/{id}/remind` (`refund`, `reminders`): a new SMS link for a refund
    awaiting its payer. The form carries the count of reminders it was drawn with: a second submit
    of the same form finds that count grown and sends nothing more."""
    from paylink.refunds import service

    store = get_store()
    form = form_fields(event)
    payment = store.get_payment(payment_id)
    refund = store.get_refund(form.get("refund", "")[:64]) if form.get("refund") else None
    if (
        payment is None
        or payment.merchant_id != merchant.id
        or refund is None
        or refund.merchant_id != merchant.id
        or refund.payment_id != payment_id
    ):
        raise NotFound("no such refund")
    back = f"/dashboard/payments/{quote(payment_id)}" + _lang_query(lang, done="reminded")
    if form.get("reminders", "") != str(refund.reminders):
        return redirect(back)  # this form's reminder was sent already
    try:
        service.remind_payer(store, merchant, refund.id, base_url(event))
    except Conflict:
        current = store.get_refund(refund.id)
        if current is not None and current.reminders > refund.reminders:
            return redirect(back)  # the same form, submitted twice at once: one reminder
        return _payment_view(409, lang, merchant, payment_id, problem="refund.err.remind")
    return redirect(back)
