"""The buyer's pages: link page, form errors, gateway hand-off, receipt. HTML in, HTML out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import (
    Gone,
    LimitExceeded,
    NoGatewayAvailable,
    NotFound,
    PaymentInProgress,
    TooManyOpenPayments,
    ValidationFailed,
)
from paylink.core.models import Link, PaymentStatus
from paylink.payments import callback, checkout
from paylink.store import get_store
from paylink.web.http import RETRY_AFTER_SECONDS, base_url, html_response, redirect

RETRYABLE = {PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}


def _render(template: str, lang: str, **context: Any) -> str:
    from paylink.web.pages import render

    return render(template, lang=lang, **context)


def language(params: Mapping[str, str]) -> str:
    from paylink.web.pages import normalize_lang

    return normalize_lang(params.get("lang"))


def error_page(status: int, reason: str, lang: str, retry_url: str | None = None) -> Response[str]:
    return html_response(
        status, _render("error.html", lang, status=status, reason=reason, retry_url=retry_url)
    )


def failed_on_our_side(event: Mapping[str, Any], exc: Exception) -> Response[str]:
    """A buyer's page that failed on our side (a throttled table, a timeout, a bug): logged with
    its exception for the operator; the buyer gets a 503 page saying what is safe to do, never API
    Gateway's bare `Internal Server Error`. A gateway return is idempotent, so trying it again
    finishes the payment; a failed checkout wrote nothing that charges the buyer."""
    from paylink.core.observability import logger

    params = dict(event.get("queryStringParameters") or {})
    lang = language(params)
    method = str((event.get("requestContext") or {}).get("http", {}).get("method", "GET"))
    path = str(event.get("rawPath") or "/")
    logger.exception("buyer page failed", extra={"route": event.get("routeKey"), "error": type(exc).__name__})
    retry_url: str | None = path + _lang_query(lang)
    if path.startswith("/callback/"):
        reason, retry_url = "return_unconfirmed", None
        if method == "GET":  # the same return again (a POST one is retried by reloading the page)
            query_string = str(event.get("rawQueryString") or "")
            retry_url = path + (f"?{query_string}" if query_string else "")
    elif method == "POST" and not path.startswith(
        "/refund/"
    ):  # a checkout; nothing is charged on a refund page
        reason = "start_failed"
    else:
        reason = "unavailable"
    page = _render("error.html", lang, status=503, reason=reason, retry_url=retry_url)
    return html_response(503, page, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _form_action(code: str, lang: str) -> str:
    from paylink.merchants.links import personal_username

    username = personal_username(code)
    path = f"/u/{username}" if username else f"/{code}"
    return f"{path}{_lang_query(lang)}"


def _lang_query(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def _link_page(
    link: Link,
    lang: str,
    status: int,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    quote: checkout.Quote | None = None,
) -> Response[str]:
    from paylink.merchants.links import personal_username

    html = _render(
        "link.html",
        lang,
        link=link,
        personal=personal_username(link.code) is not None,
        merchant_name=link.merchant_name,
        values=dict(values),
        errors=dict(errors),
        quote=quote,
        form_action=_form_action(link.code, lang),
        next_part=link.next_installment(),
        today=_market_today() if link.installments else None,
    )
    return html_response(status, html)


def _market_today() -> date:
    from paylink.merchants.links import market_today

    return market_today()


def link_page(code: str, lang: str) -> Response[str]:
    """`GET /{code}`: one read, no gateway call."""
    try:
        link = checkout.payable_link(get_store(), code)
    except NotFound:
        return error_page(404, "not_found", lang)
    except Gone as exc:
        return error_page(410, exc.reason, lang)
    return _link_page(link, lang, 200, {}, {})


def personal_page(username: str, lang: str) -> Response[str]:
    """`GET /u/{username}`: the merchant's open-amount page (its hidden open link, made on first use)."""
    from paylink.merchants.links import personal_link

    try:
        link = checkout.payable(personal_link(get_store(), username))
    except NotFound:
        return error_page(404, "merchant_not_found", lang)
    except Gone as exc:
        return error_page(410, exc.reason, lang)
    return _link_page(link, lang, 200, {}, {})


def personal_submit(username: str, form: Mapping[str, str], lang: str, event: Any) -> Response[str]:
    """`POST /u/{username}`: the open-link checkout of the merchant's personal link."""
    from paylink.merchants.links import personal_link

    if _cross_site(event):
        return error_page(403, "cross_site", lang, retry_url=f"/u/{username}{_lang_query(lang)}")
    try:
        link = personal_link(get_store(), username)
    except NotFound:
        return error_page(404, "merchant_not_found", lang)
    return _submit(link.code, form, lang, event)


def _cross_site(event: Any) -> bool:
    """A form post another site made the buyer's browser send: refused before anything is stored."""
    from paylink.web.origins import refuses_form_post

    return refuses_form_post(event.headers or {}, base_url(event))


def submit(code: str, form: Mapping[str, str], lang: str, event: Any) -> Response[str]:
    """`POST /{code}`: start a payment and send the buyer to the gateway, or show what to fix."""
    if _cross_site(event):
        return error_page(403, "cross_site", lang, retry_url=_form_action(code, lang))
    return _submit(code, form, lang, event)


def _submit(code: str, form: Mapping[str, str], lang: str, event: Any) -> Response[str]:
    store = get_store()
    if form.get("action") == "apply":
        return _apply_coupon(code, form, lang, _source_ip(event))
    try:
        started = checkout.start_payment(
            store, code, form, base_url=base_url(event), lang=lang, source_ip=_source_ip(event)
        )
    except NotFound:
        return error_page(404, "not_found", lang)
    except Gone as exc:
        return error_page(410, exc.reason, lang)
    except NoGatewayAvailable:
        return error_page(503, "no_gateway", lang, retry_url=_form_action(code, lang))
    except PaymentInProgress:
        return error_page(409, "payment_in_progress", lang, retry_url=_form_action(code, lang))
    except TooManyOpenPayments:
        return error_page(429, "too_many_open_payments", lang, retry_url=_form_action(code, lang))
    except (ValidationFailed, LimitExceeded) as exc:
        link = store.get_link(code)
        if link is None:
            return error_page(404, "not_found", lang)
        return _link_page(link, lang, 429 if exc.status == 429 else 400, form, exc.fields)
    if started.redirect.method == "POST":
        return html_response(
            200, _render("post_redirect.html", lang, url=started.redirect.url, fields=started.redirect.fields)
        )
    return redirect(started.redirect.url)


def _source_ip(event: Any) -> str | None:
    """The client's address as API Gateway saw the connection (not a header a client can set)."""
    return str(event.request_context.http.source_ip or "") or None


def _apply_coupon(code: str, form: Mapping[str, str], lang: str, source_ip: str | None) -> Response[str]:
    """The coupon's "apply" button: the same page again, with the amount after the discount."""
    store = get_store()
    try:
        link, quote = checkout.quote(store, code, form, source_ip)
    except NotFound:
        return error_page(404, "not_found", lang)
    except Gone as exc:
        return error_page(410, exc.reason, lang)
    except ValidationFailed as exc:
        current = store.get_link(code)
        if current is None:
            return error_page(404, "not_found", lang)
        return _link_page(current, lang, 429 if exc.status == 429 else 400, form, exc.fields)
    return _link_page(link, lang, 200, form, {}, quote)


def gateway_return(gateway: str, params: Mapping[str, str], form: Mapping[str, str]) -> Response[str]:
    """`GET|POST /callback/{gateway}`: verify, move the payment once, 303 to the receipt."""
    lang = language(params)
    try:
        payment = callback.handle_return(get_store(), gateway, params, form)
    except NotFound:
        return error_page(404, "payment_not_found", lang)
    except ValidationFailed:
        return error_page(400, "payment_not_found", lang)
    location = callback.return_location(payment)
    if location.startswith("/r/") and payment.lang == "en":
        location += "?lang=en"
    return redirect(location)


def receipt_page(payment_id: str, lang: str | None) -> Response[str]:
    """`GET /r/{id}`: the payment as it stands, with a way to try again after a failure."""
    try:
        payment = callback.receipt(get_store(), payment_id)
    except NotFound:
        return error_page(404, "payment_not_found", lang or "fa")
    lang = lang or payment.lang
    retry = _form_action(payment.link_code, lang) if payment.status in RETRYABLE else None
    link = {"title": payment.link_title, "code": payment.link_code}
    expected = None
    if payment.status is PaymentStatus.PAID and payment.paid_at:
        from paylink.core.settings import get_settings
        from paylink.settlement.daily import expected_settlement_date

        settings = get_settings()
        expected = expected_settlement_date(payment.paid_at, tz=settings.timezone, country=settings.country)
    html = _render(
        "receipt.html",
        lang,
        payment=payment,
        link=link,
        merchant_name=payment.merchant_name,
        retry_url=retry,
        expected_settlement_date=expected,
    )
    return html_response(200, html)


def _scheduled_now(event: Mapping[str, Any]) -> datetime:
    """Now; or, where the operator allowed it (local runs and tests), the `now` an event names."""
    from paylink.core.models import utcnow
    from paylink.core.settings import get_settings

    if event.get("now") and get_settings().allow_clock_override:
        return datetime.fromisoformat(str(event["now"]).replace("Z", "+00:00"))
    return utcnow()


def reconcile_now(event: Mapping[str, Any]) -> dict[str, Any]:
    from paylink.core.settings import get_settings
    from paylink.notify.events import resend_unsent
    from paylink.payments.reconcile import reconcile
    from paylink.refunds.progress import carry_on_refunds

    now = _scheduled_now(event)
    report = reconcile(get_store(), now)
    # Refunds pending or awaiting their payer are carried on here too (paylink.refunds.progress).
    refunds = carry_on_refunds(get_store(), now, get_settings().public_base_url.rstrip("/"))
    return {
        "checked": report.checked,
        "decided": report.decided,
        "left_waiting": report.left_waiting,
        "refunds": refunds,
        "events_resent": resend_unsent(get_store()),  # what the notify queue refused since the last run
    }


def probe_now(event: Mapping[str, Any]) -> dict[str, Any]:
    from paylink.core.settings import get_settings
    from paylink.payments.probe import probe

    base = get_settings().public_base_url.rstrip("/")
    if not base:
        return {"skipped": "PUBLIC_BASE_URL is not set: gateways need a callback URL to give a token"}
    return {"gateways": probe(get_store(), _scheduled_now(event), base)}
