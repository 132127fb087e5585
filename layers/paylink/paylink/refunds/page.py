"""The payer's page of a transfer refund: `GET/POST /refund/{token}` (HTML, no JavaScript)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.refunds import payer
from paylink.store import get_store
from paylink.web.http import base_url, html_response, redirect


def _action(token: str, lang: str) -> str:
    return f"/refund/{token}" + ("?lang=en" if lang == "en" else "")


def _page(
    view: payer.PayerView, token: str, lang: str, error: str | None, status: int = 200
) -> Response[str]:
    from paylink.web.pages import render

    html = render(
        "refund.html",
        lang=lang,
        refund=view.refund.model_dump(mode="json"),
        payment=view.payment,
        expired=view.expired,
        error=error,
        form_action=_action(token, lang),
    )
    return html_response(status, html, {"Cache-Control": "no-store"})


def _unknown(lang: str) -> Response[str]:
    from paylink.web.hosted import error_page

    return error_page(404, "payment_not_found", lang)


def show(token: str, lang: str) -> Response[str]:
    """`GET /refund/{token}`: the refund, and the card form while it awaits the payer."""
    store = get_store()
    view = payer.view(store, token)
    if view is None:
        return _unknown(lang)
    if view.refund.status.value == "pending":  # its payout may have settled since (asked at most every 30 s)
        from paylink.refunds.service import resolve_on_read

        view = payer.PayerView(resolve_on_read(store, view.refund), view.payment, view.expired)
    return _page(view, token, lang, None)


def submit(token: str, form: Mapping[str, str], lang: str, event: Any) -> Response[str]:
    """`POST /refund/{token}`: the payer's card; a cross-site post is refused before anything."""
    from paylink.web.origins import refuses_form_post

    store = get_store()
    view = payer.view(store, token)
    if view is None:
        return _unknown(lang)
    if refuses_form_post(event.headers or {}, base_url(event)):
        return _page(view, token, lang, "cross_site", 403)
    try:
        payer.submit_card(store, token, str(form.get("card", ""))[:40])
    except payer.PayerError as exc:
        fresh = payer.view(store, token) or view
        status = {"expired": 410, "too_many": 429}.get(exc.code, 400)
        return _page(fresh, token, lang, exc.code, status)
    return redirect(_action(token, lang))  # post/redirect/get: a reload does not post again
