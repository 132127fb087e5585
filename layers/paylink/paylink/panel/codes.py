"""One-time sign-in codes sent by SMS: 6 digits from `secrets`, kept only as a salted hash.

A code lives CODE_SECONDS and is used once. Whether the phone has an account changes nothing here:
every phone gets the same answer and a code, so the login form tells nobody who is a merchant.

Strangers (a browser without a device cookie for the phone) share the phone's limits: MAX_TRIES
wrong answers within LOCK_SECONDS lock the phone for LOCK_SECONDS, STRANGER_DAILY_WRONG in a Tehran
day until midnight, PHONE_SENDS codes per PHONE_WINDOW and DAILY_SENDS per Tehran day; sends are
also limited per source address, and the
whole deployment texts at most `signin_codes_per_hour` codes an hour (a botnet of addresses must not
text every mobile at our cost): a counter in GLOBAL_SHARDS items (one hot item would throttle),
each taking its share of the ceiling; over it the form answers "busy", the SigninCodesCeilingReached
metric counts it (an alarm watches it) and the log says so, without the phone. A trusted device is
never refused by it (strangers filling the ceiling must not lock merchants out).
Those per-phone limits could be spent by anyone who knows a merchant's number (lockout as a
weapon), so, as OWASP's "device cookies" suggest, a successful sign-in gives the browser a long-lived
cookie signed with the panel key and bound to that phone. A browser presenting a valid one for the
phone it asks about is exempt from the phone's lock, window and daily cap: it has its own code slot
(a stranger's request never replaces or spends it) and its own, smaller budget (DEVICE_TRIES wrong
answers lock that device only; DEVICE_SENDS per window, DAILY_SENDS per day). Nobody can mint one
for another phone: the signature covers the phone's key and needs the panel key. A trusted device is
not held to the address limit either: one carrier NAT address holds thousands of subscribers, and a
stranger behind it must not spend the merchant's sign-in. Since the phone's owner can mint devices
(each sign-in gives one), all of a phone's devices together get DEVICE_DAILY_SENDS_PER_PHONE a day.
Phones, addresses and device ids appear in the table only as keyed digests (`keyed`), so a table
dump does not give phones back by trying the ~10^9 mobile numbers. Nothing here logs a phone or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from paylink.core.errors import PaylinkError
from paylink.core.models import iso, utcnow
from paylink.store import Store

CODE_DIGITS = 6
CODE_SECONDS = 5 * 60
MAX_TRIES = 5
LOCK_SECONDS = 15 * 60
PHONE_SENDS = 3  # per PHONE_WINDOW
PHONE_WINDOW = 15 * 60
DAILY_SENDS = 10  # per Tehran day: a stranger's codes to one phone, or one device's codes
ADDRESS_SENDS = 10  # per ADDRESS_WINDOW, all phones together
ADDRESS_WINDOW = 60 * 60
DEVICE_TRIES = 3  # wrong answers from one trusted device within LOCK_SECONDS lock that device
# Wrong answers strangers may give for one phone in a Tehran day, whatever the codes and locks:
# past it the phone is locked for strangers until midnight. Without it, DAILY_SENDS codes of
# MAX_TRIES tries were 50 guesses a phone a day: over 1,000 merchants' phones, one account guessed
# in about 20 days. A stranger could already stop strangers' sign-ins for the day (DAILY_SENDS);
# a trusted device is held to neither.
STRANGER_DAILY_WRONG = 10
DEVICE_SENDS = 3  # per PHONE_WINDOW, from one trusted device
DEVICE_DAILY_SENDS_PER_PHONE = 20  # per Tehran day, all the trusted devices of one phone together
DEVICE_SECONDS = 365 * 24 * 3600  # a device cookie's life
GLOBAL_SHARDS = 10  # items of the deployment-wide hourly counter
GLOBAL_WINDOW = 60 * 60


class TooManyCodes(Exception):
    """Sending was refused: too many codes for this phone or address, or the phone is locked."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason  # "phone", "daily", "address", "locked" or "busy" (the global ceiling)
        self.retry_after = retry_after


class PanelKeyMissing(PaylinkError):
    """The panel key is not configured or readable: no digest can be made (503, nothing done)."""

    status = 503
    code = "panel_unavailable"


class SmsUnavailable(PaylinkError):
    """The SMS provider (SNS) did not take the code (503); the text names no phone."""

    status = 503
    code = "sms_unavailable"


@dataclass(frozen=True)
class Verdict:
    """What checking a code found: ok, or why not ("wrong", "expired", "locked")."""

    ok: bool
    reason: str = ""


def _key() -> bytes:
    from paylink.core.secrets import secret
    from paylink.core.settings import get_settings

    try:
        value = secret(get_settings().panel_key_parameter)
    except Exception as exc:  # SSM unreachable or the parameter missing: refuse, never guess a key
        raise PanelKeyMissing("the panel is not available now; try again later") from exc
    if len(value) < 16:
        raise PanelKeyMissing("the panel is not available now; try again later")
    return value.encode()


def keyed(purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` under the panel key, per purpose (40 hex digits)."""
    return hmac.new(_key(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def subject_key(phone: str) -> str:
    """The key a phone is stored under (a keyed digest: no phone in the table's keys)."""
    return keyed("phone", phone)


def address_key(source_ip: str) -> str:
    """The client a send counts on: the address (IPv4), or its /64 (IPv6: one subscriber holds a
    whole /64, and rotating addresses inside it must not buy more codes), keyed like the phones."""
    from paylink.payments.client_share import _network

    return keyed("ip", _network(source_ip) or source_ip)


def person_key(national_code: str) -> str:
    """The claim of one personal account per person (a keyed digest of the national code)."""
    return keyed("national-code", national_code)


def new_device_token(subject: str, now: datetime | None = None) -> str:
    """A device cookie's value for a browser that just signed in as `subject`: a random id, when it
    was issued and a signature over both and the phone's key."""
    device_id = secrets.token_urlsafe(18)
    issued = int((now or utcnow()).timestamp())
    signature = keyed("device", f"{subject}|{device_id}|{issued}")
    return f"{device_id}.{issued}.{signature}"


def device_key(store: Store, token: str | None, subject: str, now: datetime) -> str | None:
    """The key of a trusted device: a device cookie signed for this very phone, not older than
    DEVICE_SECONDS, whose device is not locked; None for anything else (a stranger)."""
    if not token or len(token) > 120:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    device_id, issued, signature = parts
    if not 0 <= _epoch(now) - int(issued) <= DEVICE_SECONDS:
        return None
    if not hmac.compare_digest(keyed("device", f"{subject}|{device_id}|{issued}"), signature):
        return None
    device = "DEV#" + keyed("device-id", device_id)
    return None if _locked_until(store, device, now) else device


def _hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _locked_until(store: Store, subject: str, now: datetime) -> datetime | None:
    until = store.subject_lock(subject)
    if until and datetime.fromisoformat(until.replace("Z", "+00:00")) > now:
        return datetime.fromisoformat(until.replace("Z", "+00:00"))
    return None


def _tehran_day(now: datetime) -> tuple[str, int]:
    """The Tehran date of `now` and a TTL two days on (a daily counter's window)."""
    from paylink.core.settings import get_settings

    day = now.astimezone(ZoneInfo(get_settings().timezone)).date().isoformat()
    return day, _epoch(now) + 2 * 86_400


def _until_tehran_midnight(now: datetime) -> int:
    from paylink.core.settings import get_settings

    local = now.astimezone(ZoneInfo(get_settings().timezone))
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - local).total_seconds()) + 1


def _deliver(phone: str, code: str) -> None:
    """Text the code: Kavenegar's verify/lookup template, or a plain SMS through SNS."""
    from paylink.core.settings import get_settings

    if get_settings().sms_provider == "sns":
        from paylink.notify.messages import notifiers

        text = f"کد ورود پی‌لینک: {code}\npaylink code: {code}"
        try:
            notifiers()["sms"].send(phone, "", text)
        except Exception:  # the provider's error may carry the number: not chained, not logged
            raise SmsUnavailable("the SMS could not be sent now; try again later") from None
        return
    from paylink.notify import kavenegar

    kavenegar.send_code(phone, code)


def _within_global_ceiling(store: Store, stamp: int) -> bool:
    """One more code this hour for the whole deployment, unless the ceiling is reached. Each shard
    holds its share (the ceiling rounded up to a multiple of GLOBAL_SHARDS); the shards are tried
    from a random one on, so a send is refused only when every shard is full."""
    from paylink.core.observability import Metric, count, logger
    from paylink.core.settings import get_settings

    ceiling = get_settings().signin_codes_per_hour
    share = -(-ceiling // GLOBAL_SHARDS)
    window = stamp // GLOBAL_WINDOW
    first = secrets.randbelow(GLOBAL_SHARDS)
    for n in range(GLOBAL_SHARDS):
        shard = (first + n) % GLOBAL_SHARDS
        if store.count_within(f"OTPGLOBAL#{window}#{shard}", share, (window + 2) * GLOBAL_WINDOW):
            return True
    logger.warning("sign-in codes refused: the hourly ceiling is reached", extra={"ceiling": ceiling})
    count(Metric.SIGNIN_CEILING)
    return False


def send_code(
    store: Store, phone: str, source_ip: str, now: datetime | None = None, device: str | None = None
) -> None:
    """Make a new code for `phone` (normalised, +989...) and text it; TooManyCodes when refused.

    `device`: the browser's device cookie, if any. The counters are taken before the SMS goes: a
    refused send costs nothing, and a crash after counting only spends one of the allowance.
    """
    now = now or utcnow()
    subject = subject_key(phone)
    trusted = device_key(store, device, subject, now)
    owner = trusted or subject  # whose lock, window and daily cap this send is counted on
    if trusted is None:
        locked = _locked_until(store, subject, now)
        if locked:
            raise TooManyCodes("locked", int((locked - now).total_seconds()) + 1)
    stamp = _epoch(now)
    window = stamp // PHONE_WINDOW
    allowed = DEVICE_SENDS if trusted else PHONE_SENDS
    if not store.count_within(f"OTPSEND#{owner}#{window}", allowed, (window + 2) * PHONE_WINDOW):
        raise TooManyCodes("phone", (window + 1) * PHONE_WINDOW - stamp)
    day, ttl = _tehran_day(now)
    if not store.count_within(f"OTPDAY#{owner}#{day}", DAILY_SENDS, ttl):
        raise TooManyCodes("daily", _until_tehran_midnight(now))
    if trusted is not None:
        # A trusted device (signed in here before; its own small budget) is refused neither by its
        # address nor by the ceiling, which strangers can spend: only by what the phone's devices
        # took today, which nobody but the phone's owner can.
        if not store.count_within(f"OTPDEVDAY#{subject}#{day}", DEVICE_DAILY_SENDS_PER_PHONE, ttl):
            raise TooManyCodes("daily", _until_tehran_midnight(now))
    else:
        window = stamp // ADDRESS_WINDOW
        if not store.count_within(
            f"OTPSEND#IP#{address_key(source_ip)}#{window}", ADDRESS_SENDS, (window + 2) * ADDRESS_WINDOW
        ):
            raise TooManyCodes("address", (window + 1) * ADDRESS_WINDOW - stamp)
        if not _within_global_ceiling(store, stamp):
            raise TooManyCodes("busy", (stamp // GLOBAL_WINDOW + 1) * GLOBAL_WINDOW - stamp)
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
        slot=trusted or "",
    )
    _deliver(phone, code)


def check_code(
    store: Store, phone: str, code: str, now: datetime | None = None, device: str | None = None
) -> Verdict:
    """Check a code typed for `phone`: right, unexpired, unused and not locked → ok (and used).

    `device`: the browser's device cookie; a trusted device checks its own code against its own
    budget, whatever strangers did to the phone."""
    now = now or utcnow()
    subject = subject_key(phone)
    trusted = device_key(store, device, subject, now)
    owner, slot, budget = (trusted, trusted, DEVICE_TRIES) if trusted else (subject, "", MAX_TRIES)
    if trusted is None and _locked_until(store, subject, now):
        return Verdict(False, "locked")
    item = store.get_login_code(subject, slot=slot)
    if item is None or item.get("used_at"):
        return Verdict(False, "expired")
    if int(item.get("tries", 0)) >= budget:
        return Verdict(False, "locked")
    if str(item["expires_at"]) <= iso(now):
        return Verdict(False, "expired")
    typed = "".join(ch for ch in code if ch.isdigit())
    typed = typed.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789"))
    if hmac.compare_digest(_hash(typed, str(item["salt"])), str(item["code_hash"])):
        if store.use_login_code(subject, str(item["code_id"]), budget, iso(now), slot=slot):
            return Verdict(True)
        return Verdict(False, "expired")  # used meanwhile by a parallel request
    tries = store.count_code_try(subject, str(item["code_id"]), budget, slot=slot)
    # Wrong tries also count per phone (per device) over the lock window, whatever the code: asking
    # for a new code does not buy more guesses.
    stamp = _epoch(now)
    window = stamp // LOCK_SECONDS
    within = store.count_within(f"OTPFAIL#{owner}#{window}", budget - 1, (window + 2) * LOCK_SECONDS)
    if trusted is None:
        day, ttl = _tehran_day(now)
        if not store.count_within(f"OTPFAILDAY#{subject}#{day}", STRANGER_DAILY_WRONG - 1, ttl):
            until = now + timedelta(seconds=_until_tehran_midnight(now))
            store.lock_subject(subject, iso(until), _epoch(until) + 60)
            return Verdict(False, "locked")
    if tries is None or tries >= budget or not within:
        until = now + timedelta(seconds=LOCK_SECONDS)
        store.lock_subject(owner, iso(until), _epoch(until) + 60)
        return Verdict(False, "locked")
    return Verdict(False, "wrong")
