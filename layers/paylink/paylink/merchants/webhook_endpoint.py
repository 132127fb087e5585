"""A merchant's own webhook endpoint: set, read, rotate, delete, test, and its recent deliveries.

What the merchant API's `/v1/webhook` routes and the panel's settings call. The signing secret is
shown once: when the endpoint is created and when it is rotated; reads never show it. After a
rotation the previous secret keeps signing (a second `v1=`, paylink.notify.webhooks) for
ROTATION_WINDOW, long enough for the merchant to deploy the new one, then only the new one signs.
The URL is checked like an operator's (`https`, a public host); every delivery checks the address
it resolves to again (paylink.notify.egress).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from paylink.core.errors import Conflict, NotFound, PaylinkError, RateLimited, ValidationFailed
from paylink.core.ids import new_webhook_secret, random_base62
from paylink.core.models import Merchant, iso, utcnow
from paylink.store import Store

ROTATION_WINDOW = timedelta(hours=24)
PING = "ping"
TEST_EVENTS_PER_HOUR = 10


class NotificationsOff(PaylinkError):
    """This deployment queues no notifications, so no test event can be sent."""

    status = 503
    code = "notifications_off"


def secrets_to_sign(merchant: Merchant, now: str | None = None) -> list[str]:
    """The secrets a delivery signs with now: the current one, and the previous one within its window."""
    moment = now or iso(utcnow())
    until = merchant.webhook_secret_previous_until
    previous = merchant.webhook_secret_previous if until is None or moment < until else None
    return [s for s in (merchant.webhook_secret, previous) if s]


def public_endpoint(merchant: Merchant, secret: str | None = None) -> dict[str, Any]:
    """The endpoint as the merchant sees it; `secret` only in the answer that made it."""
    now = iso(utcnow())
    until = merchant.webhook_secret_previous_until
    previous_active = bool(merchant.webhook_secret_previous) and (until is None or now < until)
    answer: dict[str, Any] = {
        "url": merchant.webhook_url,
        "created_at": merchant.webhook_created_at,
        "rotated_at": merchant.webhook_rotated_at,
        "previous_secret_expires_at": until if previous_active else None,
    }
    if secret is not None:
        answer["secret"] = secret
    return answer


def _own(merchant: Merchant) -> Merchant:
    if not merchant.webhook_url or not merchant.webhook_secret:
        raise NotFound("no webhook endpoint is set")
    return merchant


def _fresh(store: Store, merchant: Merchant) -> Merchant:
    """The merchant as stored now (the one authenticated may be a read older than a write)."""
    found = store.get_merchant(merchant.id)
    if found is None:
        raise NotFound("no such merchant")
    return found


def get_endpoint(store: Store, merchant: Merchant) -> dict[str, Any]:
    """The endpoint (never its secret); NotFound when none is set."""
    return public_endpoint(_own(_fresh(store, merchant)))


def _url(body: Any) -> str:
    from paylink.merchants.accounts import _webhook_url

    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "a JSON object"})
    unknown = sorted(set(body) - {"url"})
    if unknown:
        raise ValidationFailed("unknown fields", fields=dict.fromkeys(unknown, "unknown field"))
    url = body.get("url")
    if not isinstance(url, str):
        raise ValidationFailed("the webhook URL is not valid", fields={"url": "required, an https URL"})
    return _webhook_url(url)


def set_endpoint(store: Store, merchant: Merchant, body: Any) -> tuple[dict[str, Any], bool]:
    """Set the endpoint's URL (`{"url": "https://..."}`); (answer, created).

    A new endpoint gets a secret, in this answer only; changing the URL keeps the secret."""
    url = _url(body)
    now = iso(utcnow())
    secret = new_webhook_secret()
    created = {
        "webhook_url": url, "webhook_secret": secret, "webhook_secret_previous": None,
        "webhook_secret_previous_until": None, "webhook_created_at": now, "webhook_rotated_at": None,
    }  # fmt: skip
    if store.set_notification_settings_if(merchant.id, created, secret_is=None):
        return public_endpoint(_fresh(store, merchant), secret), True
    # It has one: only the URL changes (whatever secret it has now).
    store.set_notification_settings(merchant.id, {"webhook_url": url})
    return public_endpoint(_fresh(store, merchant)), False


def rotate_secret(store: Store, merchant: Merchant) -> dict[str, Any]:
    """A new secret, in this answer only; the one it replaces still signs for ROTATION_WINDOW."""
    current = _own(_fresh(store, merchant))
    now = utcnow()
    secret = new_webhook_secret()
    changes = {
        "webhook_secret": secret, "webhook_secret_previous": current.webhook_secret,
        "webhook_secret_previous_until": iso(now + ROTATION_WINDOW), "webhook_rotated_at": iso(now),
    }  # fmt: skip
    if not store.set_notification_settings_if(merchant.id, changes, secret_is=current.webhook_secret):
        raise Conflict("the secret was changed by another request; read the endpoint and try again")
    return public_endpoint(_fresh(store, merchant), secret)


def delete_endpoint(store: Store, merchant: Merchant) -> None:
    """No more webhooks (and no secret kept); NotFound when none is set."""
    _own(_fresh(store, merchant))
    store.set_notification_settings(
        merchant.id,
        dict.fromkeys(
            ("webhook_url", "webhook_secret", "webhook_secret_previous", "webhook_secret_previous_until",
             "webhook_created_at", "webhook_rotated_at"),
        ),
    )  # fmt: skip


def ping_event(merchant: Merchant) -> dict[str, Any]:
    """A test event: signed and delivered (and retried) like a payment's, carrying no payment."""
    return {
        "id": "evt_test_" + random_base62(20),
        "type": PING,
        "created": iso(utcnow()),
        "data": {"merchant_id": merchant.id, "message": "a test event from paylink"},
    }


def send_test_event(store: Store, merchant: Merchant) -> dict[str, Any]:
    """Queue a signed `ping` on the notify queue, delivered by the same worker as payment events."""
    from paylink.notify.events import encode
    from paylink.notify.queues import notify_queue

    _own(_fresh(store, merchant))
    queue = notify_queue()
    if queue is None:
        raise NotificationsOff("this deployment sends no notifications")
    # Each ping is posted to a URL of the merchant's choosing and retried while it fails: a few an
    # hour, so that test events never make us a flood of posts at someone's host.
    stamp = int(time.time())
    window = stamp // 3600
    if not store.count_within(
        f"WEBHOOKTEST#{merchant.id}#{window}", TEST_EVENTS_PER_HOUR, (window + 2) * 3600
    ):
        raise RateLimited("too many test events this hour", retry_after_seconds=(window + 1) * 3600 - stamp)
    event = ping_event(merchant)
    queue.send_text(encode(event), {"event_id": event["id"], "event_type": PING})
    return {"id": event["id"], "type": PING, "created": event["created"]}


def public_delivery(item: dict[str, Any]) -> dict[str, Any]:
    """One delivery as the merchant sees it."""
    done = bool(item.get("done"))
    return {
        "event_id": str(item["pk"]).removeprefix("WEBHOOK#"),
        "type": item.get("event_type"),
        "created": item.get("event_created"),
        "tries": int(item.get("attempts", 0)),
        "outcome": item.get("outcome") or ("delivered" if done else "retrying"),
        "last_try_at": item.get("last_try_at"),
        "last_status": item.get("last_status"),
        "last_answer": item.get("last_answer"),
        "next_try_at": None if done else _iso_ms(item.get("next_at_ms")),
    }


def _iso_ms(value: Any) -> str | None:
    from datetime import UTC, datetime

    if value is None:
        return None
    return iso(datetime.fromtimestamp(int(value) / 1000, UTC))


def deliveries(store: Store, merchant: Merchant, cursor: str | None) -> dict[str, Any]:
    """The merchant's recent deliveries (7 days), newest event first, one page."""
    items, next_cursor = store.webhook_deliveries_of(merchant.id, cursor)
    return {"items": [public_delivery(i) for i in items], "next_cursor": next_cursor}
