"""The panel's coupons: the list and a form to make one, through the merchant API's own
`create_coupon` / `list_coupons` (paylink.web.merchant_api), so the rules are the API's.

Form fields: `code` (3-20 of A-Z0-9, typed in any case), `kind` (`percent` or `fixed`), `value` (a
percentage, or toman off for `fixed`), `max_uses`? and `expires_on`? (a Jalali date: the coupon
works until the end of that day, Tehran time). Errors are translation keys ("coupon.err.*").
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import Conflict, ValidationFailed
from paylink.core.models import Merchant
from paylink.notify.messages import EASTERN_DIGITS
from paylink.panel import guard, sessions
from paylink.panel.pages import page, signed_in
from paylink.panel.render import jalali_day, parse_toman
from paylink.web.http import form_fields, query, redirect

FIELDS = ("code", "kind", "value", "max_uses", "expires_on")
TEHRAN = ZoneInfo("Asia/Tehran")


def _whole(text: str) -> int | None:
    cleaned = re.sub(r"[\s,٬،]", "", (text or "").translate(EASTERN_DIGITS))
    return int(cleaned) if re.fullmatch(r"[0-9]{1,9}", cleaned) and int(cleaned) > 0 else None


def _expiry(text: str) -> datetime | None:
    """The end of a Jalali day (yyyy/mm/dd) in Tehran, or None when it is not a date."""
    day = jalali_day(text)
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), TEHRAN) - timedelta(seconds=1)


def coupon_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The API body of the form, and the form's own errors (before the API's rules)."""
    errors: dict[str, str] = {}
    kind = form.get("kind", "percent")
    body: dict[str, Any] = {"code": form.get("code", "").strip().upper(), "kind": kind}
    if kind not in ("percent", "fixed"):
        errors["kind"] = "coupon.err.kind"
    value = parse_toman(form.get("value", "")) if kind == "fixed" else _whole(form.get("value", ""))
    if value is None or (kind == "percent" and value > 100):
        errors["value"] = "coupon.err.value"
    else:
        body["value"] = value
    if form.get("max_uses", "").strip():
        uses = _whole(form["max_uses"])
        if uses is None:
            errors["max_uses"] = "coupon.err.max_uses"
        body["max_uses"] = uses
    if form.get("expires_on", "").strip():
        until = _expiry(form["expires_on"])
        if until is None:
            errors["expires_on"] = "coupon.err.expires_on"
        else:
            body["expires_at"] = until.isoformat()
    return body, errors


def _list(merchant: Merchant, cursor: str | None) -> dict[str, Any]:
    from paylink.web import merchant_api

    try:
        return merchant_api.list_coupons(merchant, {"cursor": cursor} if cursor else {})
    except ValidationFailed:
        return merchant_api.list_coupons(merchant, {})


@signed_in
def coupons_page(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    found = _list(merchant, query(event).get("cursor") or None)
    return page(
        200, "panel/coupons.html", lang, merchant=merchant, nav="coupons", coupons=found["items"],
        next_cursor=found["next_cursor"], form={"kind": "percent"}, errors={},
    )  # fmt: skip


@signed_in
def coupon_create(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.web import merchant_api

    form = form_fields(event)
    body, errors = coupon_body(form)
    if not errors:
        try:
            merchant_api.create_coupon(merchant, body)
        except Conflict:
            errors["code"] = "coupon.err.taken"
        except ValidationFailed as exc:
            for name in exc.fields:
                field = name.split(".")[0]
                key = (
                    field
                    if field in ("code", "value", "max_uses")
                    else ("expires_on" if field == "expires_at" else "code")
                )
                errors[key] = f"coupon.err.{key}"
        else:
            return redirect("/dashboard/coupons" + guard.lang_query(lang))
    shown = {name: form.get(name, "")[:40] for name in FIELDS}
    found = _list(merchant, None)
    return page(
        400, "panel/coupons.html", lang, merchant=merchant, nav="coupons", coupons=found["items"],
        next_cursor=found["next_cursor"], form=shown, errors=errors,
    )  # fmt: skip
