"""The panel's link edit form and "send this invoice by SMS", through the merchant API's own
`update_link` and `send_invoice` (paylink.web.merchant_api), so the rules are the API's.

Edit fields: `title`, `description`?, `expires_on`? (a Jalali date: the link works until the end of
that day, Tehran time; empty = no expiry), `max_payments`? (empty = no limit), `active` (a checkbox).
Another merchant's link answers exactly like a missing one (NotFound -> the 404 page).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import NotFound, ValidationFailed
from paylink.core.models import Merchant, utcnow
from paylink.panel import guard, sessions
from paylink.panel.coupons import _expiry, _whole
from paylink.panel.pages import page, signed_in
from paylink.web.http import form_fields, redirect

logger = logging.getLogger(__name__)
FIELDS = ("title", "description", "expires_on", "max_payments", "active")


def _jalali(iso_text: str | None) -> str:
    """An ISO instant as the Jalali day (Tehran) the form shows, Latin digits (the input is LTR)."""
    if not iso_text:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import jdatetime

    moment = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tehran"))
    return jdatetime.date.fromgregorian(date=moment.date()).strftime("%Y/%m/%d")


def _form_of(link: dict[str, Any]) -> dict[str, str]:
    return {
        "title": link.get("title") or "",
        "description": link.get("description") or "",
        "expires_on": _jalali(link.get("expires_at")),
        "max_payments": str(link.get("max_payments") or ""),
        "active": "on" if link.get("active") else "",
    }


def edit_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The PATCH body of the form, and the form's own errors."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip() or None,
        "active": form.get("active") == "on",
        "expires_at": None,
        "max_payments": None,
    }
    if form.get("expires_on", "").strip():
        until = _expiry(form["expires_on"])
        if until is None or until <= utcnow():  # a link that expired on saving is a mistake
            errors["expires_on"] = "linkedit.err.expires_on"
        else:
            body["expires_at"] = until.isoformat()
    if form.get("max_payments", "").strip():
        most = _whole(form["max_payments"])
        if most is None:
            errors["max_payments"] = "linkedit.err.max_payments"
        body["max_payments"] = most
    return body, errors


@signed_in
def edit_form(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, code: str
) -> Response[str]:
    from paylink.web import merchant_api

    link = merchant_api.get_link(merchant, code, event)
    return page(
        200,
        "panel/link_edit.html",
        lang,
        merchant=merchant,
        nav="links",
        link=link,
        form=_form_of(link),
        errors={},
    )


@signed_in
def edit_submit(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, code: str
) -> Response[str]:
    from paylink.web import merchant_api

    link = merchant_api.get_link(merchant, code, event)  # NotFound first: another's link is missing
    form = form_fields(event)
    body, errors = edit_body(form)
    if not errors:
        try:
            merchant_api.update_link(merchant, code, body, event)
        except ValidationFailed as exc:
            for name in exc.fields:
                field = name.split(".")[0]
                key = {"expires_at": "expires_on"}.get(field, field)
                errors[key if key in FIELDS else "title"] = (
                    f"linkedit.err.{key if key in FIELDS else 'title'}"
                )
        else:
            return redirect(f"/dashboard/links/{quote(code)}" + guard.lang_query(lang))
    shown = {name: form.get(name, "")[:500] for name in FIELDS}
    return page(
        400,
        "panel/link_edit.html",
        lang,
        merchant=merchant,
        nav="links",
        link=link,
        form=shown,
        errors=errors,
    )


@signed_in
def send_sms(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, code: str
) -> Response[str]:
    """The invoice's link to its payer by SMS (the API's send_invoice and its daily limits)."""
    from paylink.web import merchant_api

    try:
        merchant_api.send_invoice(merchant, code, {"via": ["sms"]}, event)
    except NotFound:
        raise
    except Exception as exc:  # not an invoice, no mobile, paid, over the day's limit, provider down
        logger.warning("invoice SMS not sent", extra={"error": type(exc).__name__})
        status = getattr(exc, "status", 503)
        return page(
            status if isinstance(status, int) else 503, "panel/message.html", lang, merchant=merchant,
            title="linkedit.not_sent_title", message="linkedit.not_sent",
        )  # fmt: skip
    return redirect(
        f"/dashboard/links/{quote(code)}"
        + guard.lang_query(lang)
        + ("&" if lang == "en" else "?")
        + "sent=sms"
    )
