"""A merchant's API keys: authentication, and keys created, listed and revoked by the merchant.

Rules (the merchant API's `/v1/api-keys` and the panel's settings call these):
- a key is shown once, when created; only its SHA-256 is stored, with a name and its last 4 characters;
- a merchant has at most MAX_ACTIVE_KEYS active keys;
- any key may be revoked, the one in use too, but never the merchant's last active key (Conflict),
  so a merchant cannot lock itself out; a revoked key answers 401 like an unknown one;
- `last_used_at` is written at most once per LAST_USED_INTERVAL per key: the request reads the key
  anyway, and writes only when the date it read is older (a conditional update, so concurrent
  requests of the same minute write it once);
- another merchant's key id answers exactly like a missing one.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from paylink.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from paylink.core.ids import hash_api_key, new_api_key, random_base62
from paylink.core.models import Merchant, iso, utcnow
from paylink.store import Store
from paylink.store.api_keys import REVOKED_KEPT_SECONDS, KeyConflict, api_key_item

MAX_ACTIVE_KEYS = 10
MAX_NAME = 60
LAST_USED_INTERVAL = timedelta(seconds=60)
ADOPTED_NAME = "default"


def new_key_id() -> str:
    return "key_" + random_base62(16)


def _adopted_key_id(api_key_hash: str) -> str:
    """The id of a key made before ids: derived from its hash, so every request adopting it agrees."""
    return "key_" + hashlib.sha256(f"key-id:{api_key_hash}".encode()).hexdigest()[:16]


def public_key(item: dict[str, Any]) -> dict[str, Any]:
    """A key as the merchant sees it: never the key, never its hash."""
    return {
        "id": item["key_id"],
        "name": item.get("name", ADOPTED_NAME),
        "last4": item.get("last4"),
        "created_at": item["created_at"],
        "last_used_at": item.get("last_used_at"),
        "revoked_at": item.get("revoked_at"),
    }


def authenticate(store: Store, authorization: str | None) -> Merchant:
    """The merchant of a `Bearer <api key>` header, or Unauthorized (unknown and revoked keys alike).

    Notes the key's use (at most once a minute) and adopts a key made before keys had ids."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send your API key as 'Authorization: Bearer <api key>'")
    digest = hash_api_key(key)
    item = store.api_key(digest)
    if item is None or item.get("revoked_at"):
        raise Unauthorized("the API key is not valid")
    merchant = store.get_merchant(str(item["merchant_id"]))
    if merchant is None:
        raise Unauthorized("the API key is not valid")
    now = utcnow()
    if "key_id" not in item:
        adopted = api_key_item(
            digest, merchant.id, key_id=_adopted_key_id(digest), name=ADOPTED_NAME, last4=key[-4:],
            created_at=merchant.created_at,
        )  # fmt: skip
        store.adopt_api_key(digest, adopted)
    last_used = item.get("last_used_at")
    not_since = iso(now - LAST_USED_INTERVAL)
    if last_used is None or str(last_used) < not_since:
        store.touch_api_key(digest, iso(now), not_since)
    return merchant


def _name(body: Any) -> str:
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "a JSON object"})
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise ValidationFailed("unknown fields", fields=dict.fromkeys(unknown, "unknown field"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise ValidationFailed("the key needs a name", fields={"name": f"1-{MAX_NAME} characters"})
    if not name.isprintable():
        raise ValidationFailed("the key needs a name", fields={"name": "printable characters only"})
    return name.strip()


def create_key(store: Store, merchant: Merchant, body: Any) -> dict[str, Any]:
    """A new key named `body["name"]`: its listed fields and `key`, the only time it is shown."""
    name = _name(body)
    key = new_api_key()
    item = api_key_item(
        hash_api_key(key), merchant.id, key_id=new_key_id(), name=name, last4=key[-4:],
        created_at=iso(utcnow()),
    )  # fmt: skip
    try:
        store.add_api_key(item, max_active=MAX_ACTIVE_KEYS)
    except KeyConflict as exc:
        if exc.which == "merchant":
            raise Conflict(
                f"a merchant has at most {MAX_ACTIVE_KEYS} active keys; revoke one first",
                fields={"name": "too many active keys"},
            ) from exc
        raise
    return {**public_key(item), "key": key}


def list_keys(store: Store, merchant: Merchant) -> list[dict[str, Any]]:
    """The merchant's keys, newest first: active ones and those revoked in the last 30 days."""
    return [public_key(item) for item in store.api_keys_of(merchant.id)]


def revoke_key(store: Store, merchant: Merchant, key_id: str) -> dict[str, Any]:
    """Revoke one of the merchant's keys; revoking a revoked key answers it as it is.

    NotFound for an id that is not the merchant's; Conflict for its last active key."""
    item = next((i for i in store.api_keys_of(merchant.id) if i.get("key_id") == key_id), None)
    if item is None:
        raise NotFound("no such API key")
    if item.get("revoked_at"):
        return public_key(item)
    now = utcnow()
    digest = str(item["pk"]).removeprefix("APIKEY#")
    expires = int(now.timestamp()) + REVOKED_KEPT_SECONDS
    try:
        store.revoke_api_key(digest, merchant.id, iso(now), expires)
    except KeyConflict as exc:
        if exc.which == "merchant":
            raise Conflict(
                "this is your last active API key; create another before revoking it",
                fields={"id": "the last active key"},
            ) from exc
        # Revoked meanwhile by another request: answer it as it now is.
        again = next((i for i in store.api_keys_of(merchant.id) if i.get("key_id") == key_id), None)
        if again is None:
            raise NotFound("no such API key") from exc
        return public_key(again)
    return public_key({**item, "revoked_at": iso(now)})
