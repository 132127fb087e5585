"""The panel's pages, one function per route: session checked, forms guarded, HTML out.

Each takes the API Gateway event (Powertools' wrapper) and answers a Response. Another merchant's
link or payment answers exactly what a missing one answers (the same 404 page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

from paylink.core.errors import NotFound, PaylinkError, ValidationFailed
from paylink.core.models import Merchant, PaymentStatus
from paylink.merchants import identity
from paylink.panel import codes, guard, sessions
from paylink.panel.render import parse_toman, render
from paylink.store import get_store
from paylink.web.http import form_fields, html_response, query, redirect

logger = logging.getLogger(__name__)
Page = Callable[..., Response[str]]


def lang_of(event: Any, form: dict[str, str] | None = None) -> str:
    value = (query(event).get("lang") or (form or {}).get("lang") or "").strip()
    return "en" if value == "en" else "fa"


def page(status: int, template: str, lang: str, **context: Any) -> Response[str]:
    return html_response(status, render(template, lang=lang, **context))


def forbidden(lang: str) -> Response[str]:
    return page(403, "panel/message.html", lang, title="forbidden.title", message="forbidden.message")


def not_found(lang: str, merchant: Merchant | None = None) -> Response[str]:
    return page(
        404, "panel/message.html", lang, title="notfound.title", message="notfound.message", merchant=merchant
    )


def with_cookie(response: Response[str], *cookies: Cookie) -> Response[str]:
    response.cookies = list(cookies)
    return response


def device_of(event: Any) -> str | None:
    """The browser's device cookie (paylink.panel.codes.device_key decides if it is trusted)."""
    return sessions.cookie_value(event.get("cookies"), sessions.DEVICE_COOKIE)


def unavailable(lang: str, merchant: Merchant | None = None) -> Response[str]:
    """A provider or a secret could not be reached: 503, nothing changed, try later."""
    return page(
        503, "panel/message.html", lang, title="unavailable.title", message="unavailable.message",
        merchant=merchant,
    )  # fmt: skip


def error_page(exc: PaylinkError, lang: str, merchant: Merchant | None) -> Response[str]:
    """A domain error a view did not answer itself, as a page: never a 500 for bad input."""
    if isinstance(exc, NotFound):
        return not_found(lang, merchant)
    if exc.status >= 500:
        logger.warning("panel page: a provider is unavailable", extra={"error": type(exc).__name__})
        return unavailable(lang, merchant)
    if exc.status == 409:
        return page(
            409, "panel/message.html", lang, title="conflict.title", message="conflict.message",
            merchant=merchant,
        )  # fmt: skip
    response = page(
        exc.status if 400 <= exc.status < 500 else 400, "panel/message.html", lang,
        title="badrequest.title", message="badrequest.message", merchant=merchant,
    )  # fmt: skip
    if exc.retry_after_seconds:
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def _is_outage(exc: Exception) -> bool:
    """The table, a queue, SSM or a provider's HTTP API could not be reached (or throttled us)."""
    import httpx
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):  # a refused condition is a bug to see, not an outage
        return exc.response.get("Error", {}).get("Code", "") in OUTAGE_CODES
    return isinstance(exc, BotoCoreError | httpx.HTTPError)


OUTAGE_CODES = frozenset({
    "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
})  # fmt: skip


def guarded(view: Callable[..., Response[str]]) -> Callable[..., Response[str]]:
    """Answers a domain error `view` did not answer as its page (4xx, or 503 for a provider) and an
    unreachable table or provider as the 503 page: bad input never gets a 500."""

    def wrapped(event: Any, *args: str, **options: Any) -> Response[str]:
        try:
            return view(event, *args, **options)
        except Exception as exc:
            posted = event.request_context.http.method == "POST"
            return failure_page(exc, lang_of(event, form_fields(event) if posted else None), None)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def failure_page(exc: Exception, lang: str, merchant: Merchant | None) -> Response[str]:
    """The page of an exception a view let through; re-raised when it is a bug, not bad input or
    an outage (the handler's 500 and its log then show it)."""
    if isinstance(exc, PaylinkError):
        return error_page(exc, lang, merchant)
    if not _is_outage(exc):
        raise exc
    logger.warning("panel page: a provider is unreachable", extra={"error": type(exc).__name__})
    return unavailable(lang, merchant)


# -- sign-in -------------------------------------------------------------------------------------
@guarded
def login_form(event: Any) -> Response[str]:
    lang = lang_of(event)
    if guard.session_of(event):
        return guard.to_dashboard(lang)
    return page(200, "panel/login.html", lang, phone="", errors={})


@guarded
def login_submit(event: Any) -> Response[str]:
    form = form_fields(event)
    lang = lang_of(event, form)
    if guard.refused(event):
        return forbidden(lang)
    phone = identity.normal_mobile(form.get("phone", ""))
    if phone is None:
        return page(
            400,
            "panel/login.html",
            lang,
            phone=form.get("phone", "")[:40],
            errors={"phone": "login.err.phone"},
        )
    source_ip = event.request_context.http.source_ip or ""
    try:
        codes.send_code(get_store(), phone, source_ip, device=device_of(event))
    except codes.TooManyCodes as exc:
        key = {"locked": "login.err.locked", "daily": "login.err.daily", "busy": "login.err.busy"}.get(
            exc.reason, "login.err.too_many"
        )
        minutes = max(1, (exc.retry_after + 59) // 60)
        response = page(
            429,
            "panel/login.html",
            lang,
            phone=form.get("phone", "")[:40],
            errors={"phone": key},
            minutes=minutes,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except PaylinkError as exc:  # the SMS provider refused or is down (SmsError, 503)
        logger.warning("sign-in code not sent", extra={"error": type(exc).__name__})
        return page(
            503, "panel/login.html", lang, phone=form.get("phone", "")[:40], errors={"phone": "login.err.sms"}
        )
    return _code_form(200, lang, phone, {})


def _code_form(status: int, lang: str, phone: str, errors: dict[str, str], **extra: Any) -> Response[str]:
    return page(
        status, "panel/code.html", lang, phone=phone, errors=errors,
        digits=codes.CODE_DIGITS, code_minutes=codes.CODE_SECONDS // 60, **extra,
    )  # fmt: skip


@guarded
def verify_submit(event: Any) -> Response[str]:
    form = form_fields(event)
    lang = lang_of(event, form)
    if guard.refused(event):
        return forbidden(lang)
    phone = identity.normal_mobile(form.get("phone", ""))
    if phone is None:
        return guard.to_login(lang)
    try:
        verdict = codes.check_code(get_store(), phone, form.get("code", "")[:20], device=device_of(event))
    except codes.PanelKeyMissing:
        return unavailable(lang)
    if not verdict.ok:
        status = 429 if verdict.reason == "locked" else 400
        minutes = codes.LOCK_SECONDS // 60
        return _code_form(status, lang, phone, {"code": f"login.err.{verdict.reason}"}, lock_minutes=minutes)
    user_agent = str((event.get("headers") or {}).get("user-agent", ""))
    subject = guard.subject_of(phone)
    session_id = sessions.start_session(get_store(), subject, phone, user_agent)
    has_merchant = get_store().merchant_id_for_phone(subject) is not None
    target = guard.to_dashboard(lang) if has_merchant else guard.to_signup(lang)
    # A fresh device cookie bound to this phone: later sign-ins from this browser are exempt from
    # the phone's lock and send limits (paylink.panel.codes).
    device = sessions.device_cookie(codes.new_device_token(subject))
    return with_cookie(target, sessions.cookie(session_id), device)


@guarded
def logout(event: Any) -> Response[str]:
    form = form_fields(event)
    lang = lang_of(event, form)
    if guard.refused(event):
        return forbidden(lang)
    sessions.end_session(get_store(), sessions.cookie_value(event.get("cookies")))
    return with_cookie(guard.to_login(lang), sessions.clearing_cookie())


# -- sign-up -------------------------------------------------------------------------------------
@guarded
def signup_form(event: Any) -> Response[str]:
    lang = lang_of(event)
    session = guard.session_of(event)
    if session is None:
        return guard.to_login(lang)
    if guard.merchant_of(session):
        return guard.to_dashboard(lang)
    return page(200, "panel/signup.html", lang, form={}, errors={})


@guarded
def signup_submit(event: Any) -> Response[str]:
    from paylink.panel.signup import FIELDS, sign_up

    form = form_fields(event)
    lang = lang_of(event, form)
    if guard.refused(event):
        return forbidden(lang)
    session = guard.session_of(event)
    if session is None:
        return guard.to_login(lang)
    if guard.merchant_of(session):
        return guard.to_dashboard(lang)
    try:
        result = sign_up(get_store(), session.phone, form)
    except codes.PanelKeyMissing:
        return unavailable(lang)
    if result.merchant:
        return guard.to_dashboard(lang)
    shown = {name: form.get(name, "")[:100] for name in FIELDS}
    status = 429 if result.retry_after else 503 if result.unavailable else 400
    response = page(
        status, "panel/signup.html", lang, form=shown, errors=result.errors, unavailable=result.unavailable,
        limited=bool(result.retry_after),
    )  # fmt: skip
    if result.retry_after:
        response.headers["Retry-After"] = str(result.retry_after)
    return response


# -- the dashboard -------------------------------------------------------------------------------


def signed_in(view: Callable[..., Response[str]]) -> Callable[..., Response[str]]:
    """Runs `view(event, merchant, session, lang, *args)` for a signed-in merchant; otherwise 303 to
    /login (no session) or /signup (no merchant yet). POSTs are refused cross-site first."""

    def wrapped(event: Any, *args: str, **options: Any) -> Response[str]:
        posted = event.request_context.http.method == "POST"
        lang = lang_of(event, form_fields(event) if posted else None)
        if posted and guard.refused(event):
            return forbidden(lang)
        merchant: Merchant | None = None
        try:
            session = guard.session_of(event)
            if session is None:
                return guard.to_login(lang)
            merchant = guard.merchant_of(session)
            if merchant is None:
                return guard.to_signup(lang)
            return view(event, merchant, session, lang, *args, **options)
        except Exception as exc:
            return failure_page(exc, lang, merchant)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@signed_in
def home(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.panel.overview import chart, overview

    figures = overview(merchant)
    return page(
        200, "panel/home.html", lang, merchant=merchant, nav="home", o=figures, bars=chart(figures.days)
    )


@signed_in
def links_list(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.web import merchant_api

    params = query(event)
    try:
        found = merchant_api.list_links(merchant, {"cursor": params.get("cursor", "")}, event)
    except ValidationFailed:
        found = merchant_api.list_links(merchant, {}, event)
    return page(
        200,
        "panel/links.html",
        lang,
        merchant=merchant,
        nav="links",
        links=found["items"],
        next_cursor=found["next_cursor"],
    )


@signed_in
def link_new_form(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    return page(
        200, "panel/link_new.html", lang, merchant=merchant, nav="links", form={"kind": "item"}, errors={},
        rows=_rows(query(event)),
    )  # fmt: skip


LINK_FIELD_ERRORS = {
    "title": "link.err.title",
    "description": "link.err.description",
    "kind": "link.err.kind",
}


@signed_in
def link_new_submit(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.web import merchant_api

    form = form_fields(event)
    from paylink.panel.invoice_form import FIELDS as INVOICE_FIELDS
    from paylink.panel.invoice_form import invoice_parts

    shown = {name: form.get(name, "")[:600] for name in ("title", "amount", "description", "kind")}
    shown.update({name: form.get(name, "")[:40] for name in INVOICE_FIELDS})
    kind = form.get("kind") or "item"
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"title": form.get("title", "").strip(), "kind": kind}
    detail = ""
    if kind == "invoice":  # the payer and an optional schedule (paylink.panel.invoice_form)
        extra, errors = invoice_parts(form)
        body.update(extra)
    if form.get("description", "").strip():
        body["description"] = form["description"].strip()
    amount_text = form.get("amount", "").strip()
    if amount_text or kind != "open":
        amount = parse_toman(amount_text)
        if amount is None:
            errors["amount"] = "link.err.amount"
        else:
            body["amount"] = amount
    if kind not in ("item", "invoice", "open"):
        errors["kind"] = "link.err.kind"
    if kind == "open" and "amount" in body:
        body["max_amount"] = body.pop("amount")
    if not errors:
        try:
            created = merchant_api.create_link(merchant, body, event)
        except ValidationFailed as exc:
            for name, why in exc.fields.items():
                field = name.split(".")[0]
                if field in ("installments", "payer"):
                    errors[field if field == "installments" else "payer_phone"] = f"invoice.err.{field}"
                    detail = str(why)[:200]
                elif field in ("amount", "max_amount", "min_amount"):
                    errors["amount"] = (
                        "link.err.amount_limit" if "limit" in why or "at most" in why else "link.err.amount"
                    )
                else:
                    errors[field if field in LINK_FIELD_ERRORS else "title"] = LINK_FIELD_ERRORS.get(
                        field, "link.err.title"
                    )
        else:
            return redirect(f"/dashboard/links/{quote(created['code'])}" + guard.lang_query(lang))
    return page(
        400, "panel/link_new.html", lang, merchant=merchant, nav="links", form=shown, errors=errors,
        schedule_detail=detail, rows=_rows(form),
    )  # fmt: skip


def _rows(form: dict[str, str]) -> int:
    """Installment rows the form shows: all of them (no JavaScript to add rows; they fold away)."""
    from paylink.panel.invoice_form import MAX_ROWS

    return MAX_ROWS


@signed_in
def link_page(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, code: str
) -> Response[str]:
    from paylink.web import merchant_api

    link = merchant_api.get_link(merchant, code, event)
    text = f"{link['title']} {link['url']}"
    share = {
        "telegram": "https://t.me/share/url?" + urlencode({"url": link["url"], "text": link["title"]}),
        "whatsapp": "https://wa.me/?" + urlencode({"text": text}),
    }
    payments, cursor = merchant_api._payments_page(
        merchant, {"link": code, "status": None, "since": None, "until": None}, None, 10
    )
    # A filtered page reads a bounded part of the list (store.table FILTER_SCAN_KEYS): its cursor
    # goes on in the payments list, filtered by this link.
    keep = {"link": code, **({"lang": "en"} if lang == "en" else {})}
    more_url = "/dashboard/payments?" + urlencode({**keep, "cursor": cursor}) if cursor else None
    return page(
        200,
        "panel/link.html",
        lang,
        merchant=merchant,
        nav="links",
        link=link,
        share=share,
        payments=payments,
        more_url=more_url,
        sent=query(event).get("sent") == "sms",
    )


@signed_in
def link_deactivate(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, code: str
) -> Response[str]:
    from paylink.web import merchant_api

    merchant_api.update_link(merchant, code, {"active": False}, event)
    return redirect(f"/dashboard/links/{quote(code)}" + guard.lang_query(lang))


PAYMENT_FILTERS = ("status", "link", "from", "to")


@signed_in
def payments_list(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, seconds_left: float | None = None
) -> Response[str]:
    """The payments list; its CSV inline while `seconds_left` (this invocation's) allows, else a job."""
    from paylink.web import merchant_api

    params = query(event)
    filters = {name: params[name].strip() for name in PAYMENT_FILTERS if params.get(name, "").strip()}
    statuses = [s.value for s in PaymentStatus]
    try:
        chosen = merchant_api._payment_filters(
            merchant, {**filters, **({"cursor": params["cursor"]} if params.get("cursor") else {})}
        )
        items, cursor = merchant_api._payments_page(merchant, chosen, params.get("cursor") or None)
        bad = False
    except ValidationFailed:
        items, cursor, bad = [], None, True
    except NotFound:  # a link filter naming another merchant's (or no) link: nothing to show
        items, cursor, bad = [], None, True
    if params.get("format") == "csv" and not bad:  # a bad filter gets the list's 400 page, not a 500
        from paylink.panel.money.exports_page import csv_download

        # a large one is an export job: its page (paylink.panel.money.exports_page), not the API's JSON
        return csv_download(
            lambda: merchant_api.list_payments(merchant, {**filters, "format": "csv"}, seconds_left),
            merchant,
            lang,
        )
    keep = {**filters, **({"lang": "en"} if lang == "en" else {})}
    csv_url = "/dashboard/payments?" + urlencode({**keep, "format": "csv"})
    next_url = "/dashboard/payments?" + urlencode({**keep, "cursor": cursor}) if cursor else None
    return page(
        400 if bad else 200, "panel/payments.html", lang, merchant=merchant, nav="payments", payments=items,
        filters=filters, statuses=statuses, csv_url=csv_url, next_url=next_url, bad=bad,
    )  # fmt: skip


@signed_in
def settlements_list(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    items, _ = get_store().settlements_of(merchant.id, None)
    return page(200, "panel/settlements.html", lang, merchant=merchant, nav="settlements", settlements=items)


@signed_in
def settings_page(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    active = sessions.sessions_of(get_store(), session.subject)
    return page(
        200,
        "panel/settings.html",
        lang,
        merchant=merchant,
        nav="settings",
        sessions=active,
        current=session.handle,
    )


@signed_in
def end_other_session(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    handle = form_fields(event).get("session", "")
    sessions.end_session_of(get_store(), session.subject, handle)
    if handle == session.handle:
        return with_cookie(guard.to_login(lang), sessions.clearing_cookie())
    return redirect("/dashboard/settings" + guard.lang_query(lang))
