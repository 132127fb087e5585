"""The settings page's actions: webhook endpoint, API keys, Telegram chats and the IBAN, through the merchant
API's own domain functions (paylink.merchants.webhook_endpoint, .api_keys, paylink.bot.linking).

A secret (the webhook's signing secret, a new API key) is shown once, in the answer to the POST that
made it, never on a later GET. Each POST is guarded by `pages.signed_in` (cross-site refused, session
checked); another merchant's key or chat answers exactly as a missing one (the 404 page).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import Conflict, NotFound, PaylinkError, ValidationFailed
from paylink.core.models import Merchant
from paylink.merchants import identity
from paylink.merchants.accounts import update_merchant
from paylink.panel import sessions
from paylink.panel.pages import page, signed_in
from paylink.panel.signup import parse_birth_date, take_inquiry_try
from paylink.store import Store, get_store
from paylink.web.http import form_fields

logger = logging.getLogger(__name__)


def settings_view(
    merchant: Merchant, session: sessions.Session, lang: str, status: int = 200, **shown: Any
) -> Response[str]:
    """The settings page, with whatever one action has to show (`shown`) this once."""
    from paylink.bot.linking import chats_of
    from paylink.merchants import api_keys, webhook_endpoint

    store = get_store()
    try:
        hook: dict[str, Any] | None = webhook_endpoint.get_endpoint(store, merchant)
        recent = webhook_endpoint.deliveries(store, merchant, None)["items"][:10]
    except NotFound:
        hook, recent = None, []
    return page(
        status, "panel/settings.html", lang, merchant=merchant, nav="settings",
        sessions=sessions.sessions_of(store, session.subject), current=session.handle,
        hook=hook, deliveries=recent, keys=api_keys.list_keys(store, merchant),
        chats=chats_of(store, merchant), errors=shown.pop("errors", {}), **shown,
    )  # fmt: skip


def _field(event: Any, name: str, limit: int = 200) -> str:
    return form_fields(event).get(name, "").strip()[:limit]


# -- webhook -------------------------------------------------------------------------------------
@signed_in
def webhook_set(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.webhook_endpoint import set_endpoint

    url = _field(event, "url", 500)
    try:
        answer, created = set_endpoint(get_store(), merchant, {"url": url})
    except ValidationFailed:
        return settings_view(merchant, session, lang, 400, errors={"url": "settings.err.url"}, url_typed=url)
    if created:
        return settings_view(
            merchant, session, lang, hook_secret=answer["secret"], notice="settings.hook_created"
        )
    return settings_view(merchant, session, lang, notice="settings.hook_saved")


@signed_in
def webhook_rotate(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.webhook_endpoint import rotate_secret

    try:
        answer = rotate_secret(get_store(), merchant)
    except Conflict:
        return settings_view(merchant, session, lang, 409, notice="settings.err.conflict")
    return settings_view(
        merchant, session, lang, hook_secret=answer["secret"], notice="settings.hook_rotated"
    )


@signed_in
def webhook_delete(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.webhook_endpoint import delete_endpoint

    delete_endpoint(get_store(), merchant)
    return settings_view(merchant, session, lang, notice="settings.hook_deleted")


@signed_in
def webhook_test(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.webhook_endpoint import send_test_event

    try:
        send_test_event(get_store(), merchant)
    except PaylinkError as exc:
        if isinstance(exc, NotFound):
            raise
        logger.warning("test event not sent", extra={"error": type(exc).__name__})
        status = 429 if exc.status == 429 else 503  # too many this hour, or no queue to send on
        return settings_view(merchant, session, lang, status, notice="settings.err.test")
    return settings_view(merchant, session, lang, notice="settings.hook_tested")


# -- API keys ------------------------------------------------------------------------------------
@signed_in
def key_create(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.api_keys import create_key

    name = _field(event, "name", 200)
    try:
        made = create_key(get_store(), merchant, {"name": name})
    except Conflict:
        return settings_view(
            merchant, session, lang, 409, errors={"name": "settings.err.too_many_keys"}, key_name=name
        )
    except ValidationFailed:
        return settings_view(
            merchant, session, lang, 400, errors={"name": "settings.err.key_name"}, key_name=name
        )
    return settings_view(merchant, session, lang, new_key=made, notice="settings.key_created")


@signed_in
def key_revoke(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.merchants.api_keys import revoke_key

    try:
        revoke_key(get_store(), merchant, _field(event, "key", 100))
    except Conflict:
        return settings_view(merchant, session, lang, 409, notice="settings.err.last_key")
    return settings_view(merchant, session, lang, notice="settings.key_revoked")


# -- Telegram ------------------------------------------------------------------------------------
@signed_in
def telegram_link(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.bot.linking import new_link_token

    try:
        link = new_link_token(get_store(), merchant)
    except Exception as exc:  # no bot configured, or Telegram unreachable: say so, change nothing
        logger.warning("telegram deep link not made", extra={"error": type(exc).__name__})
        return settings_view(merchant, session, lang, 503, notice="settings.err.telegram")
    return settings_view(merchant, session, lang, deep_link=link, notice="settings.deep_link_made")


@signed_in
def telegram_unlink(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    from paylink.bot.linking import unlink_chat

    unlink_chat(get_store(), merchant, _field(event, "chat", 40))
    return settings_view(merchant, session, lang, notice="settings.chat_unlinked")


@signed_in
def settings_get(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    """The settings page: never a secret (those were shown once, when made)."""
    return settings_view(merchant, session, lang)


# -- IBAN ----------------------------------------------------------------------------------------
# A new IBAN is re-checked as at sign-up: the signed-in mobile must belong to the national code typed
# (Shahkar) and the IBAN to the same person (IBAN-owner inquiry). Only then is it changed, through
# the operator's own `update_merchant` (which checks it again and refreshes the links' snapshots).
IBAN_FIELDS = ("iban", "national_code", "birth_date")


@dataclass
class IbanChange:
    merchant: Merchant | None = None
    errors: dict[str, str] = field(default_factory=dict)  # field -> translation key
    unavailable: bool = False  # an inquiry could not run: nothing changed, try later
    conflict: bool = False  # the merchant changed meanwhile: nothing written, try again
    retry_after: int = 0  # > 0: the phone used its inquiries for today (seconds until tomorrow)


def change_iban(store: Store, merchant: Merchant, phone: str, form: dict[str, str]) -> IbanChange:
    """Change `merchant`'s IBAN for the signed-in `phone`, or say why not (nothing written then)."""
    errors: dict[str, str] = {}
    iban = identity.normal_iban(form.get("iban", "").replace(" ", ""))
    if iban is None:
        errors["iban"] = "signup.err.iban"
    national_code = identity.normal_national_code(form.get("national_code", ""))
    if national_code is None:
        errors["national_code"] = "signup.err.national_code"
    birth = parse_birth_date(form.get("birth_date", ""))
    if birth is None:
        errors["birth_date"] = "signup.err.birth_date"
    if errors or iban is None or national_code is None or birth is None:
        return IbanChange(errors=errors)
    wait = take_inquiry_try(store, phone)  # paid calls: the phone's daily allowance, as at sign-up
    if wait:
        return IbanChange(retry_after=wait)
    try:
        if not identity.shahkar_matches(phone, national_code):
            return IbanChange(errors={"national_code": "signup.err.shahkar"})
        if not identity.iban_matches_national_code(national_code, birth, iban):
            return IbanChange(errors={"iban": "signup.err.iban_owner"})
    except identity.InquiryRejected:
        return IbanChange(errors={"iban": "signup.err.iban"})
    except identity.InquiryUnavailable:
        return IbanChange(unavailable=True)
    try:
        # Written only while the IBAN is still the one this request read before its inquiries: a
        # change made meanwhile (another tab, the operator) is never overwritten.
        return IbanChange(merchant=update_merchant(store, merchant.username, iban=iban, read=merchant))
    except Conflict:
        return IbanChange(conflict=True)


@signed_in
def iban_change(event: Any, merchant: Merchant, session: sessions.Session, lang: str) -> Response[str]:
    """A new IBAN, re-checked by the inquiries as at sign-up (paylink.panel.iban_change)."""
    form = form_fields(event)
    result = change_iban(get_store(), merchant, session.phone, form)
    if result.merchant is not None:
        return settings_view(result.merchant, session, lang, notice="settings.iban_changed")
    typed = {name: form.get(name, "")[:40] for name in IBAN_FIELDS}
    if result.retry_after:
        limited = settings_view(
            merchant, session, lang, 429, notice="settings.err.inquiry_limit", iban_form=typed
        )
        limited.headers["Retry-After"] = str(result.retry_after)
        return limited
    if result.unavailable:
        return settings_view(merchant, session, lang, 503, notice="settings.err.inquiry", iban_form=typed)
    if result.conflict:
        fresh = get_store().get_merchant(merchant.id) or merchant
        return settings_view(fresh, session, lang, 409, notice="settings.err.conflict", iban_form=typed)
    return settings_view(merchant, session, lang, 400, errors=result.errors, iban_form=typed)
