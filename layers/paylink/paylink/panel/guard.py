"""What every panel route goes through: the session check and the cross-site form guard.

session_of(event)        the live Session of the request's cookie, or None
merchant_of(session)     the phone's merchant, or None before sign-up
refused(event)           True for a cross-site form post (answer 403, change nothing)
to_login(lang) / to_signup(lang) / to_dashboard(lang)   the 303s the pages send
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.models import Merchant
from paylink.panel import sessions
from paylink.panel.codes import subject_key
from paylink.store import get_store
from paylink.web.http import base_url, redirect
from paylink.web.origins import refuses_form_post


def lang_query(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def session_of(event: Any) -> sessions.Session | None:
    return sessions.current_session(get_store(), sessions.cookie_value(event.get("cookies")))


def merchant_of(session: sessions.Session) -> Merchant | None:
    store = get_store()
    merchant_id = store.merchant_id_for_phone(session.subject)
    return store.get_merchant(merchant_id) if merchant_id else None


def refused(event: Any) -> bool:
    """A cross-site (or foreign-origin) form post, refused exactly as the buyer pages refuse it."""
    return refuses_form_post(event.get("headers") or {}, base_url(event))


def subject_of(phone: str) -> str:
    return subject_key(phone)


def to_login(lang: str) -> Response[str]:
    return redirect("/login" + lang_query(lang))


def to_signup(lang: str) -> Response[str]:
    return redirect("/signup" + lang_query(lang))


def to_dashboard(lang: str) -> Response[str]:
    return redirect("/dashboard" + lang_query(lang))
