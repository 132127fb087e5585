"""One-time sign-in codes sent by SMS: 6 digits from `secrets`, kept only as a salted hash.

A code lives CODE_SECONDS and is used once. MAX_TRIES wrong answers (to one code, or to any of a
phone's codes within a LOCK_SECONDS window) lock the phone for LOCK_SECONDS. Sends are limited per
phone and per source address (conditional counters per fixed window). Whether the phone has an
account changes nothing here: every phone gets the same answer and a code, so the login form
tells nobody who is a merchant.
Nothing here logs a phone or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from paylink.core.models import iso, utcnow
from paylink.store import Store

CODE_DIGITS = 6
CODE_SECONDS = 5 * 60
MAX_TRIES = 5
LOCK_SECONDS = 15 * 60
PHONE_SENDS = 3  # per PHONE_WINDOW
PHONE_WINDOW = 15 * 60
ADDRESS_SENDS = 10  # per ADDRESS_WINDOW, all phones together
ADDRESS_WINDOW = 60 * 60


class TooManyCodes(Exception):
    """Sending was refused: too many codes for this phone or address, or the phone is locked."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason  # "phone", "address" or "locked"
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verdict:
    """What checking a code found: ok, or why not ("wrong", "expired", "locked")."""

    ok: bool
    reason: str = ""


def subject_key(phone: str) -> str:
    """The key a phone is stored under (a digest: no phone in the table's keys)."""
    return hashlib.sha256(f"paylink-phone:{phone}".encode()).hexdigest()[:40]


def address_key(source_ip: str) -> str:
    """The client a send counts on: the address (IPv4), or its /64 (IPv6: one subscriber holds a
    whole /64, and rotating addresses inside it must not buy more codes)."""
    from paylink.payments.client_share import _network

    return hashlib.sha256(f"paylink-ip:{_network(source_ip) or source_ip}".encode()).hexdigest()[:40]


def _hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _locked_until(store: Store, subject: str, now: datetime) -> datetime | None:
    until = store.subject_lock(subject)
    if until and datetime.fromisoformat(until.replace("Z", "+00:00")) > now:
        return datetime.fromisoformat(until.replace("Z", "+00:00"))
    return None


def send_code(store: Store, phone: str, source_ip: str, now: datetime | None = None) -> None:
    """Make a new code for `phone` (normalised, +989...) and text it; TooManyCodes when refused.

    The counters are taken before the SMS goes: a refused send costs nothing, and a crash after
    counting only spends one of the allowance.
    """
    from paylink.notify import kavenegar

    now = now or utcnow()
    subject = subject_key(phone)
    locked = _locked_until(store, subject, now)
    if locked:
        raise TooManyCodes("locked", int((locked - now).total_seconds()) + 1)
    stamp = _epoch(now)
    window = stamp // PHONE_WINDOW
    if not store.count_within(f"OTPSEND#{subject}#{window}", PHONE_SENDS, (window + 2) * PHONE_WINDOW):
        raise TooManyCodes("phone", (window + 1) * PHONE_WINDOW - stamp)
    window = stamp // ADDRESS_WINDOW
    if not store.count_within(
        f"OTPSEND#IP#{address_key(source_ip)}#{window}", ADDRESS_SENDS, (window + 2) * ADDRESS_WINDOW
    ):
        raise TooManyCodes("address", (window + 1) * ADDRESS_WINDOW - stamp)
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    salt = secrets.token_hex(16)
    expires = now + timedelta(seconds=CODE_SECONDS)
    store.put_login_code(
        subject,
        {
            "code_id": secrets.token_hex(8),
            "salt": salt,
            "code_hash": _hash(code, salt),
            "tries": 0,
            "created_at": iso(now),
            "expires_at": iso(expires),
            "ttl": _epoch(expires) + 3600,
        },
    )
    kavenegar.send_code(phone, code)


def check_code(store: Store, phone: str, code: str, now: datetime | None = None) -> Verdict:
    """Check a code typed for `phone`: right, unexpired, unused and not locked → ok (and used)."""
    now = now or utcnow()
    subject = subject_key(phone)
    if _locked_until(store, subject, now):
        return Verdict(False, "locked")
    item = store.get_login_code(subject)
    if item is None or item.get("used_at"):
        return Verdict(False, "expired")
    if int(item.get("tries", 0)) >= MAX_TRIES:
        return Verdict(False, "locked")
    if str(item["expires_at"]) <= iso(now):
        return Verdict(False, "expired")
    typed = "".join(ch for ch in code if ch.isdigit())
    typed = typed.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789"))
    if hmac.compare_digest(_hash(typed, str(item["salt"])), str(item["code_hash"])):
        if store.use_login_code(subject, str(item["code_id"]), MAX_TRIES, iso(now)):
            return Verdict(True)
        return Verdict(False, "expired")  # used meanwhile by a parallel request
    tries = store.count_code_try(subject, str(item["code_id"]), MAX_TRIES)
    # Wrong tries also count per phone over the lock window, whatever the code: asking for a new
    # code does not buy more guesses.
    stamp = _epoch(now)
    window = stamp // LOCK_SECONDS
    within = store.count_within(f"OTPFAIL#{subject}#{window}", MAX_TRIES - 1, (window + 2) * LOCK_SECONDS)
    if tries is None or tries >= MAX_TRIES or not within:
        until = now + timedelta(seconds=LOCK_SECONDS)
        store.lock_subject(subject, iso(until), _epoch(until) + 60)
        return Verdict(False, "locked")
    return Verdict(False, "wrong")
