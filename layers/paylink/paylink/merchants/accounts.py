"""Merchant accounts: creation by an operator, and API-key authentication."""

from __future__ import annotations

import re

from paylink.core.errors import Conflict, NotFound, ValidationFailed
from paylink.core.ids import hash_api_key, new_api_key, new_merchant_id
from paylink.core.models import (
    PERSONAL_DAILY_CAP,
    PERSONAL_PER_PAYMENT_CAP,
    AccountType,
    Merchant,
    iso,
    utcnow,
)
from paylink.settlement.money import FeePlan
from paylink.store import Store

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_]{2,29}$")


def iban_is_valid(iban: str) -> bool:
    """ISO 13616 check: move the country code and check digits to the end, letters to numbers, mod 97 == 1.

    Iranian IBANs (Sheba) are `IR` + 24 digits; other countries' lengths are accepted as 15-34.
    """
    value = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", value):
        return False
    if value.startswith("IR") and not re.fullmatch(r"IR[0-9]{24}", value):
        return False
    digits = "".join(str(int(ch, 36)) for ch in value[4:] + value[:4])
    return int(digits) % 97 == 1


def create_merchant(
    store: Store,
    *,
    username: str,
    name: str,
    iban: str,
    account_type: AccountType = AccountType.PERSONAL,
    fee: FeePlan | None = None,
    per_payment_cap: int | None = None,
    daily_cap: int | None = None,
    api_key: str | None = None,
    gateways: list[str] | None = None,
    owner_subject: str | None = None,
    owner_person: str | None = None,
) -> tuple[Merchant, str]:
    """Create a merchant and return it with its API key (the only time the key is seen in clear).

    `owner_subject` (the panel's phone key, paylink.panel.codes.subject_key) links the merchant to
    the phone that signed up, in the same transaction: one merchant per phone. `owner_person` (the
    keyed digest of the national code, paylink.panel.codes.person_key) is claimed there too: one
    personal account per person. The username's folded skeleton is claimed with it
    (paylink.merchants.usernames): no look-alike of an existing username, no reserved word."""
    from paylink.merchants.usernames import is_reserved

    fields: dict[str, str] = {}
    if not USERNAME.fullmatch(username):
        fields["username"] = "3-30 lower-case letters, digits or _, starting with a letter or digit"
    elif is_reserved(username):
        fields["username"] = "reserved: a route or a word that would pass for the service"
    if not name.strip() or len(name) > 100:
        fields["name"] = "required, at most 100 characters"
    iban = iban.replace(" ", "").upper()
    if not iban_is_valid(iban):
        fields["iban"] = "not a valid IBAN (ISO 13616 check failed)"
    if fields:
        raise ValidationFailed("the merchant is not valid", fields=fields)
    if account_type is AccountType.PERSONAL:
        per_payment_cap = min(per_payment_cap or PERSONAL_PER_PAYMENT_CAP, PERSONAL_PER_PAYMENT_CAP)
        daily_cap = min(daily_cap or PERSONAL_DAILY_CAP, PERSONAL_DAILY_CAP)
    merchant = Merchant(
        id=new_merchant_id(),
        username=username,
        name=name.strip(),
        iban=iban,
        account_type=account_type,
        fee=fee or FeePlan(),
        per_payment_cap=per_payment_cap,
        daily_cap=daily_cap,
        gateways=gateways,
        created_at=iso(utcnow()),
    )
    from paylink.merchants.api_keys import ADOPTED_NAME, new_key_id
    from paylink.store.api_keys import api_key_item

    key = api_key or new_api_key()
    digest = hash_api_key(key)
    listed = api_key_item(
        digest, merchant.id, key_id=new_key_id(), name=ADOPTED_NAME, last4=key[-4:],
        created_at=merchant.created_at,
    )  # fmt: skip
    if owner_subject is None:
        store.create_merchant(merchant, digest, listed)
        return merchant, key
    refused = store.create_merchant_for_phone(merchant, digest, owner_subject, listed, person=owner_person)
    if refused == "phone":
        raise Conflict("this phone already has a merchant", fields={"phone": "already has a merchant"})
    if refused == "person":
        raise Conflict(
            "this person already has a personal account",
            fields={"national_code": "already has a personal account"},
        )
    if refused:
        raise Conflict(
            "username already taken",
            fields={"username": "already taken, or too close to an existing username"},
        )
    return merchant, key


def authenticate(store: Store, authorization: str | None) -> Merchant:
    """The merchant of a `Bearer <api key>` header, or Unauthorized (paylink.merchants.api_keys)."""
    from paylink.merchants.api_keys import authenticate as by_key

    return by_key(store, authorization)


def update_merchant(
    store: Store,
    username: str,
    *,
    name: str | None = None,
    iban: str | None = None,
    per_payment_cap: int | None = None,
    daily_cap: int | None = None,
    gateways: list[str] | None = None,
    read: Merchant | None = None,
) -> Merchant:
    """Change a merchant (an operator's act, or the panel's IBAN change): the IBAN is checked like at
    creation, and the snapshot of limits and gateways its links carry for the checkout is refreshed.

    Only the changed fields are written, and only while each still holds the value it had when read
    (`read`: the merchant as the caller saw it, e.g. before the panel's inquiries; else read here):
    a change made meanwhile is never overwritten, it raises Conflict ("changed meanwhile")."""
    merchant_id = store.merchant_id_for_username(username)
    merchant = store.get_merchant(merchant_id) if merchant_id else None
    if merchant is None:
        raise NotFound("no such merchant")
    if read is not None and read.id == merchant.id:
        merchant = read
    changes: dict[str, object] = {}
    fields: dict[str, str] = {}
    if name is not None:
        if not name.strip() or len(name) > 100:
            fields["name"] = "required, at most 100 characters"
        changes["name"] = name.strip()
    if iban is not None:
        iban = iban.replace(" ", "").upper()
        if not iban_is_valid(iban):
            fields["iban"] = "not a valid IBAN (ISO 13616 check failed)"
        changes["iban"] = iban
    if per_payment_cap is not None or daily_cap is not None:
        if merchant.account_type is AccountType.PERSONAL and (
            (per_payment_cap or 0) > PERSONAL_PER_PAYMENT_CAP or (daily_cap or 0) > PERSONAL_DAILY_CAP
        ):
            fields["account_type"] = (
                "a personal account's limits cannot be raised; make it a business account"
            )
        if per_payment_cap is not None:
            changes["per_payment_cap"] = per_payment_cap
        if daily_cap is not None:
            changes["daily_cap"] = daily_cap
    if gateways is not None:
        changes["gateways"] = gateways or None
    if fields:
        raise ValidationFailed("the change is not valid", fields=fields)
    updated = merchant.model_copy(update=changes)
    written = updated.model_dump(mode="json", include=set(changes))
    before = merchant.model_dump(mode="json", include=set(changes))
    if not store.update_merchant_if(merchant.id, written, before):
        raise Conflict(
            "the merchant was changed meanwhile; read it again and retry",
            fields={name: "changed meanwhile" for name in changes},
        )
    store.refresh_link_snapshots(updated)
    return updated


def _webhook_url(url: str) -> str:
    """An absolute https URL to a public host (no credentials, no localhost or private address)."""
    import ipaddress
    from urllib.parse import urlsplit

    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticError

    from paylink.core.models import HttpsUrl

    try:
        TypeAdapter(HttpsUrl).validate_python(url)
    except PydanticError as exc:
        raise ValidationFailed(
            "the webhook URL is not valid", fields={"url": "must be an absolute https URL"}
        ) from exc
    host = (urlsplit(url).hostname or "").lower()
    private = host == "localhost" or host.endswith((".localhost", ".internal", ".local"))
    try:
        address = ipaddress.ip_address(host)
        private = private or not address.is_global
    except ValueError:
        pass
    if private:
        raise ValidationFailed("the webhook URL is not valid", fields={"url": "must be a public host"})
    return url


def _merchant_by_username(store: Store, username: str) -> Merchant:
    merchant_id = store.merchant_id_for_username(username)
    merchant = store.get_merchant(merchant_id) if merchant_id else None
    if merchant is None:
        raise NotFound("no such merchant")
    return merchant


def _write_notifications(
    store: Store, merchant: Merchant, settings: dict[str, str | None], *watched: str
) -> None:
    """Write notification settings only while the `watched` fields still hold what `merchant` was
    read with (as the panel's settings do): a concurrent change (the panel, another operator) is
    reported as a Conflict, never overwritten."""
    before = {name: getattr(merchant, name) for name in watched}  # the secret is not in model_dump
    if not store.update_merchant_if(merchant.id, dict(settings), before):
        raise Conflict(
            "the merchant's notification settings were changed meanwhile; read them again and retry",
            fields={name: "changed meanwhile" for name in watched},
        )


def set_webhook(store: Store, username: str, url: str) -> tuple[Merchant, str]:
    """Point a merchant's webhooks at `url` with a new signing secret, returned once; the secret it
    had stays accepted as `previous` so nothing in flight breaks."""
    from paylink.core.ids import new_webhook_secret

    merchant = _merchant_by_username(store, username)
    url = _webhook_url(url)
    from paylink.merchants.webhook_endpoint import ROTATION_WINDOW

    secret = new_webhook_secret()
    previous = merchant.webhook_secret
    now = utcnow()
    _write_notifications(
        store,
        merchant,
        {
            "webhook_url": url, "webhook_secret": secret, "webhook_secret_previous": previous,
            "webhook_secret_previous_until": iso(now + ROTATION_WINDOW) if previous else None,
            "webhook_created_at": merchant.webhook_created_at or iso(now),
            "webhook_rotated_at": iso(now) if previous else None,
        },
        "webhook_url", "webhook_secret",
    )  # fmt: skip
    updated = merchant.model_copy(
        update={"webhook_url": url, "webhook_secret": secret, "webhook_secret_previous": previous}
    )
    return updated, secret


def rotate_webhook_secret(store: Store, username: str) -> tuple[Merchant, str]:
    """A new current secret, returned once; the old current becomes `previous` (both sign until
    the next rotation)."""
    from paylink.core.ids import new_webhook_secret

    merchant = _merchant_by_username(store, username)
    if not merchant.webhook_url or not merchant.webhook_secret:
        raise ValidationFailed("the merchant has no webhook", fields={"username": "set a webhook first"})
    from paylink.merchants.webhook_endpoint import ROTATION_WINDOW

    secret = new_webhook_secret()
    now = utcnow()
    _write_notifications(
        store,
        merchant,
        {
            "webhook_secret": secret, "webhook_secret_previous": merchant.webhook_secret,
            "webhook_secret_previous_until": iso(now + ROTATION_WINDOW), "webhook_rotated_at": iso(now),
        },
        "webhook_url", "webhook_secret",
    )  # fmt: skip
    updated = merchant.model_copy(
        update={"webhook_secret": secret, "webhook_secret_previous": merchant.webhook_secret}
    )
    return updated, secret


def set_telegram(store: Store, username: str, chat_id: str | None) -> Merchant:
    """Send (or, with None, stop sending) a merchant's notifications to a Telegram chat too."""
    merchant = _merchant_by_username(store, username)
    if chat_id is not None and not re.fullmatch(r"-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32}", chat_id):
        raise ValidationFailed("the chat is not valid", fields={"chat_id": "a numeric chat id or @channel"})
    _write_notifications(store, merchant, {"telegram_chat_id": chat_id}, "telegram_chat_id")
    return merchant.model_copy(update={"telegram_chat_id": chat_id})


def set_notify_email(store: Store, username: str, email: str | None) -> Merchant:
    """Send (or, with None, stop sending) a merchant's payment notices to an email address too."""
    merchant = _merchant_by_username(store, username)
    if email is not None and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}", email):
        raise ValidationFailed("the address is not valid", fields={"email": "an email address"})
    _write_notifications(store, merchant, {"notify_email": email}, "notify_email")
    return merchant.model_copy(update={"notify_email": email})
