"""Panel sessions: a random id in a cookie, only its hash in the table, idle and absolute expiry.

The cookie is `__Host-paylink_session`, `HttpOnly; Secure; SameSite=Lax; Path=/`: the `__Host-`
prefix makes browsers refuse it from any other host, so a sibling subdomain cannot toss its own
session in front of the merchant's (which would have the merchant make links that pay the attacker).
A session belongs to a phone (its subject key): the merchant is looked up from the phone at each
request, so a phone that signs up mid-session needs no new session. Ending a session marks it ended
in the table (sign-out works server-side even if the browser keeps the cookie); expiry is checked
here, the item's TTL only cleans up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from paylink.core.models import iso, utcnow
from paylink.store import Store

COOKIE = "__Host-paylink_session"  # no Domain, Path=/, Secure: the prefix's rules
# The device cookie (paylink.panel.codes.new_device_token): given at each sign-in, kept a year and
# across sign-outs; it exempts this browser from the phone's sign-in lock and send limits.
DEVICE_COOKIE = "__Host-paylink_device"
DEVICE_SECONDS = 365 * 24 * 3600
IDLE_SECONDS = 12 * 3600  # a phone left a night signs in again
ABSOLUTE_SECONDS = 14 * 24 * 3600
TOUCH_SECONDS = 300  # last_seen is written at most this often (one write per few page views)


@dataclass(frozen=True)
class Session:
    """A live session: its hash (the handle to end it), the phone it signed in and when."""

    handle: str
    subject: str
    phone: str
    created_at: str
    last_seen: str
    user_agent: str = ""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ttl(created: datetime, seen: datetime) -> int:
    end = min(seen + timedelta(seconds=IDLE_SECONDS), created + timedelta(seconds=ABSOLUTE_SECONDS))
    return int(end.timestamp()) + 60


def start_session(
    store: Store, subject: str, phone: str, user_agent: str = "", now: datetime | None = None
) -> str:
    """A new session for a phone that just proved it; returns the id for the cookie (shown once)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    store.put_session(
        _hash(session_id),
        {
            "subject": subject,
            "phone": phone,
            "created_at": iso(now),
            "last_seen": iso(now),
            "user_agent": user_agent[:200],
            "gsi1pk": f"SESSIONS#{subject}",
            "gsi1sk": iso(now),
            "ttl": _ttl(now, now),
        },
    )
    return session_id


def _alive(item: dict[str, Any], now: datetime) -> bool:
    if item.get("ended_at"):
        return False
    created, seen = _at(str(item["created_at"])), _at(str(item["last_seen"]))
    return now < seen + timedelta(seconds=IDLE_SECONDS) and now < created + timedelta(
        seconds=ABSOLUTE_SECONDS
    )


def _session(handle: str, item: dict[str, Any]) -> Session:
    return Session(
        handle=handle,
        subject=str(item["subject"]),
        phone=str(item["phone"]),
        created_at=str(item["created_at"]),
        last_seen=str(item["last_seen"]),
        user_agent=str(item.get("user_agent", "")),
    )


def current_session(store: Store, session_id: str | None, now: datetime | None = None) -> Session | None:
    """The live session of a cookie value, or None (missing, unknown, ended, idle or too old)."""
    if not session_id or len(session_id) > 100:
        return None
    now = now or utcnow()
    handle = _hash(session_id)
    item = store.get_session(handle)
    if item is None or not _alive(item, now):
        return None
    if (now - _at(str(item["last_seen"]))).total_seconds() >= TOUCH_SECONDS:
        store.touch_session(handle, iso(now), _ttl(_at(str(item["created_at"])), now))
    return _session(handle, item)


def end_session(store: Store, session_id: str | None, now: datetime | None = None) -> None:
    """Sign out: the session of this cookie ends for good."""
    if session_id and len(session_id) <= 100:
        store.end_session(_hash(session_id), None, iso(now or utcnow()))


def sessions_of(store: Store, subject: str, now: datetime | None = None) -> list[Session]:
    """A phone's live sessions, newest first (for the settings page)."""
    now = now or utcnow()
    found = []
    for item in store.sessions_of(subject):
        if _alive(item, now):
            found.append(_session(str(item["pk"]).removeprefix("SESSION#"), item))
    return found


def end_session_of(store: Store, subject: str, handle: str, now: datetime | None = None) -> bool:
    """End one of this phone's sessions by its handle; another phone's session is left alone (False)."""
    if not handle or len(handle) != 64:
        return False
    return store.end_session(handle, subject, iso(now or utcnow()))


def cookie(session_id: str, max_age: int = ABSOLUTE_SECONDS) -> Cookie:
    """The session cookie: script-proof, HTTPS only, not sent on cross-site posts, whole site."""
    return Cookie(
        name=COOKIE, value=session_id, path="/", secure=True, http_only=True, max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )  # fmt: skip


def clearing_cookie() -> Cookie:
    return cookie("", max_age=0)


def device_cookie(token: str) -> Cookie:
    """The device cookie: the same flags as the session's, a year long."""
    return Cookie(
        name=DEVICE_COOKIE, value=token, path="/", secure=True, http_only=True, max_age=DEVICE_SECONDS,
        same_site=SameSite.LAX_MODE,
    )  # fmt: skip


def cookie_value(cookies: list[str] | None, wanted: str = COOKIE) -> str | None:
    """A cookie's value among an HTTP API event's `cookies` (the first one, when sent twice):
    the session id unless `wanted` names another."""
    for entry in cookies or []:
        for part in entry.split(";"):
            name, _, value = part.strip().partition("=")
            if name == wanted and value:
                return value
    return None
