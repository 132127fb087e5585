"""Unguessable identifiers and API keys, all from `secrets`."""

from __future__ import annotations

import hashlib
import secrets
import string

BASE62 = string.digits + string.ascii_letters
LINK_CODE_LENGTH = 12  # 62**12 ~ 2**71: well over the 64 bits a short link needs to resist guessing


def random_base62(length: int) -> str:
    """A random string of `length` base-62 characters."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_link_code() -> str:
    return random_base62(LINK_CODE_LENGTH)


def new_payment_id() -> str:
    return "pay_" + random_base62(22)


def new_refund_id() -> str:
    return "ref_" + random_base62(22)


def new_merchant_id() -> str:
    return "mer_" + random_base62(16)


def new_api_key() -> str:
    """A merchant API key; shown once, stored only as its hash."""
    return "plk_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A webhook signing secret (an HMAC key, 256 random bits); shown to the merchant once."""
    return "whsec_" + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """SHA-256 of a key; keys are 256-bit random, so a plain hash cannot be reversed by guessing."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def settlement_id(merchant_id: str, business_day: str) -> str:
    """Deterministic: one settlement per merchant and business day, whatever the number of runs."""
    return f"stl_{business_day.replace('-', '')}_{merchant_id.removeprefix('mer_')}"
