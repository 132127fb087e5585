"""Signed merchant webhooks: the signature, its check, and the retry schedule of a delivery.

`Paylink-Signature: t=<unix>,v1=<hex>` where hex = HMAC-SHA256(secret, f"{t}.{raw_body}"); during
a secret rotation the header carries one `v1=` per active secret (current first). A receiver
accepts the body when one `v1` matches a secret it knows and `t` is within the tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Paylink-Signature"
EVENT_ID_HEADER = "Paylink-Event-Id"
DEFAULT_TOLERANCE = 300  # seconds either side of the receiver's clock
TIMESTAMP = re.compile(r"[0-9]{1,12}")
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

# Seconds to wait after failed try n (1-based) before try n + 1: five tries in all, at 0, 15 min,
# 2 h 15, 14 h 15 and 62 h 15 (within three days); after the fifth the event goes to the
# dead-letter queue. SQS hides a message for at most 12 h at a time, so a longer wait is taken in
# several hops; tries are counted in the table, not by SQS's receive count.
RETRY_HORIZON = 72 * 3600
RETRY_DELAYS: tuple[int, ...] = (900, 7_200, 43_200, 172_800)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
MAX_HIDE = 43_000  # just under SQS's 12 h limit on a visibility timeout


def retry_delay(attempt: int, scale: float = 1.0) -> int | None:
    """Seconds before the next try after failed try `attempt` (1-based); None after the last try.

    `scale` divides the delays (local runs and tests make the three days pass in seconds)."""
    if attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[max(attempt, 1) - 1]
    return int(base / scale) if scale > 0 else base


def _digest(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Sequence[str], t: int | None = None) -> str:
    """The `Paylink-Signature` value of `body`: one `v1` per secret, in the order given."""
    t = int(time.time()) if t is None else int(t)
    active = [s for s in secrets if s]
    if not active:
        raise ValueError("no secret to sign with")
    return ",".join([f"t={t}", *(f"v1={_digest(s, body, t)}" for s in active)])


def verify_signature(
    body: bytes,
    header: str,
    secrets: Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when `header` signs `body` with one of `secrets` at a time within `tolerance` seconds;
    False, never an exception, on any malformed header."""
    t: int | None = None
    signatures: list[str] = []
    for part in str(header or "").split(","):
        key, _, value = part.strip().partition("=")
        # ASCII only: `str.isdigit` takes '²' (then int() raises), compare_digest raises on non-ASCII.
        if key == "t" and TIMESTAMP.fullmatch(value):
            t = int(value)
        elif key == "v1" and HEX_DIGEST.fullmatch(value):
            signatures.append(value)
    if t is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = [_digest(s, body, t) for s in secrets if s]
    # Every pair is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(e, s) for e in expected for s in signatures]
    return any(matches)
