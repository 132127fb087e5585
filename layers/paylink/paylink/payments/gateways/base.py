"""The gateway adapter interface: what every payment gateway (IPG) adapter provides.

An adapter speaks one gateway protocol. It never changes paylink's state: it creates a token,
parses the buyer's return (a hint, never proof) and verifies server to server. Amounts are always
integer rials (IRR); an adapter converts for gateways that count in toman.

Errors are `GatewayError` with a kind:
- TRANSIENT: the gateway could not be reached or answered garbage (connect error, timeout, 5xx,
  a non-JSON body such as an HTML 502 page, an unknown result code). Retry, or fail over.
- BUSINESS: the gateway understood and refused this payment (amount too small, invalid token...).
- CONFIG: our configuration is wrong (merchant id unknown or inactive, bad callback URL...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

import httpx

__all__ = [
    "CallbackData",
    "Capabilities",
    "CreateResult",
    "ErrorKind",
    "GatewayAdapter",
    "GatewayConfig",
    "GatewayError",
    "Redirect",
    "VerifyOutcome",
    "VerifyResult",
    "card_hash_or_none",
    "get_json",
    "int_or_none",
    "mask_card",
    "parse_gateways",
    "positive_amount",
    "post_json",
    "return_fields",
    "text_or_none",
]


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    BUSINESS = "business"
    CONFIG = "config"


class GatewayError(Exception):
    """A failed gateway call. `str(e)` is `kind:code: message` and never holds a secret.

    Adapters build `message` from their own text (never from the merchant id or the raw body).
    """

    def __init__(self, kind: ErrorKind, code: str, message: str = "") -> None:
        self.kind = kind
        self.code = code
        self.message = message
        super().__init__(kind, code, message)

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}: {self.message}" if self.message else f"{self.kind}:{self.code}"

    def __repr__(self) -> str:
        return f"GatewayError(kind={self.kind.value!r}, code={self.code!r}, message={self.message!r})"


_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
_CONFIG_KEYS = frozenset({"name", "protocol", "base_url", "merchant_id", "timeout_seconds"})


@dataclass(frozen=True)
class GatewayConfig:
    """One configured gateway. `merchant_id` is a secret: it is kept out of repr and messages."""

    name: str
    protocol: str
    base_url: str
    merchant_id: str = field(repr=False)
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"gateway name {self.name!r} must be 1-40 characters of a-z, 0-9, '-' or '_' "
                "and start with a letter or digit"
            )
        if not isinstance(self.protocol, str) or not _NAME_RE.match(self.protocol):
            raise ValueError(f"gateway {self.name!r}: protocol {self.protocol!r} is not a protocol name")
        if not isinstance(self.base_url, str) or not _URL_RE.match(self.base_url):
            raise ValueError(
                f"gateway {self.name!r}: base_url must be an http(s) URL without query or fragment"
            )
        if self.base_url.endswith("/"):
            raise ValueError(f"gateway {self.name!r}: base_url must not end with '/'")
        if not isinstance(self.merchant_id, str) or not self.merchant_id.strip():
            raise ValueError(f"gateway {self.name!r}: merchant_id must be a non-empty string")
        timeout = self.timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
            raise ValueError(f"gateway {self.name!r}: timeout_seconds must be a number in (0, 60]")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GatewayConfig:
        """One config from a JSON object; a trailing '/' on base_url is dropped."""
        unknown = sorted(set(raw) - _CONFIG_KEYS)
        if unknown:
            raise ValueError(f"gateway config has unknown keys: {', '.join(unknown)}")
        missing = sorted({"name", "protocol", "base_url", "merchant_id"} - set(raw))
        if missing:
            raise ValueError(f"gateway config {raw.get('name')!r} is missing: {', '.join(missing)}")
        base_url = raw["base_url"]
        if isinstance(base_url, str):
            base_url = base_url.rstrip("/")
        return cls(
            name=raw["name"],
            protocol=raw["protocol"],
            base_url=base_url,
            merchant_id=raw["merchant_id"],
            timeout_seconds=raw.get("timeout_seconds", 5.0),
        )


_CREDENTIAL_KEYS = frozenset({"merchant_id"})


def _with_credentials(item: dict[str, Any], index: int, credentials: Any) -> dict[str, Any]:
    """`item` with its merchant_id taken from the credentials object."""
    if not isinstance(credentials, dict):
        raise ValueError("gateway credentials must be a JSON object of gateway name -> credentials")
    if "merchant_id" in item:
        raise ValueError(f"gateway config item {index}: merchant_id belongs in the credentials parameter")
    found = credentials.get(item.get("name"))
    if not isinstance(found, dict) or set(found) - _CREDENTIAL_KEYS:
        raise ValueError(f"gateway config item {index}: no valid credentials for {item.get('name')!r}")
    return {**item, **found}


def parse_gateways(raw_json: str, credentials: Any = None) -> list[GatewayConfig]:
    """Parse the PAYLINK_GATEWAYS JSON list, in priority order. Raises ValueError on bad config.

    Example: `[{"name": "sandbox-a", "protocol": "zibal", "base_url": "http://127.0.0.1:3001/a",
    "merchant_id": "zibal"}]`. Names must be unique. Messages never include merchant ids.
    `credentials` (deployed: the SSM SecureString, `{"<name>": {"merchant_id": "..."}}`) supplies
    each gateway's merchant_id; the plain list then must not carry one (a secret in plain sight).
    """
    try:
        data = json.loads(raw_json)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"gateway config is not valid JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, list):
        raise ValueError("gateway config must be a JSON list of objects")
    configs: list[GatewayConfig] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"gateway config item {index} must be a JSON object")
        if credentials is not None:
            item = _with_credentials(item, index, credentials)
        try:
            config = GatewayConfig.from_mapping(item)
        except ValueError as exc:
            raise ValueError(f"gateway config item {index}: {exc}") from None
        if config.name in seen:
            raise ValueError(f"gateway config item {index}: duplicate name {config.name!r}")
        seen.add(config.name)
        configs.append(config)
    return configs


@dataclass(frozen=True)
class Redirect:
    """Where to send the buyer: a GET URL, or a POST form to auto-submit."""

    method: Literal["GET", "POST"]
    url: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateResult:
    token: str
    redirect: Redirect


@dataclass(frozen=True)
class CallbackData:
    """What the buyer's return claims. A hint only, never proof: decide on `verify` alone.

    `refs` holds the gateway's own references that its verify needs besides our token (SEP's
    RefNum, PayPing's paymentRefId); they are stored with the payment so that a later verify
    (reconciliation) can use them. `order_id` is our payment id when the gateway echoes it.
    """

    token: str
    claimed_success: bool
    cancelled: bool
    refs: dict[str, str] = field(default_factory=dict)
    order_id: str | None = None
    claimed_amount_irr: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a gateway promises and how it behaves; the orchestrator plans around these."""

    unit: Literal["IRR", "IRT"]
    min_amount_irr: int
    token_ttl: timedelta  # how long a buyer may take at the gateway
    verify_window: timedelta  # after payment: verify before this or the gateway reverses / voids it
    reverse_window: timedelta | None  # None: no reverse API
    callback_methods: frozenset[str]  # "GET", "POST"
    redirect_method: Literal["GET", "POST"]
    repeated_verify: Literal["already_verified", "success_again"]  # SEP confirms a RefNum again
    supports_inquiry: bool
    # "token": verify asks about our own token, so its answer is about this payment. "reference":
    # verify asks about a reference the buyer's return carried (SEP's RefNum), so an unpaid answer
    # (not found, reversed) is about that reference only and decides nothing about the payment.
    verify_by: Literal["token", "reference"] = "token"
    # Verify sends a reference the buyer's return carried (SEP's RefNum, PayPing's paymentRefId):
    # a return could carry another payment's, so a credited reference is kept (GWREF) and never
    # credits again. A gateway verified by our token alone answers about that token's own
    # transaction, which only this payment holds: its one-shot paid move is the whole guard, and
    # no GWREF item is written for it (issue 18: 2 WRU a paid payment).
    verify_takes_return_reference: bool = False
    # The buyer's return names our order id (the payment id we sent) on every return, success or
    # not: the callback finds the payment by it (and checks the token), so no GWTOKEN item is
    # written for such a gateway's payments (issue 18: 2 WRU and ~170 bytes a checkout).
    echoes_order_id: bool = False


class VerifyOutcome(StrEnum):
    VERIFIED = "verified"
    ALREADY_VERIFIED = "already_verified"
    NOT_PAID = "not_paid"
    CANCELLED = "cancelled"
    PENDING = "pending"  # the buyer has not finished at the gateway yet: decide nothing
    AMOUNT_MISMATCH = "amount_mismatch"  # the gateway refused our amount (Zarinpal -50, PayPing 137)
    REVERSED = "reversed"  # the gateway has given the money back (auto-reversal or reverse call)
    EXPIRED = "expired"  # token/session expired at the gateway before payment


@dataclass(frozen=True)
class VerifyResult:
    """The gateway's server-to-server answer. The caller compares `amount_irr` with its own."""

    outcome: VerifyOutcome
    amount_irr: int | None = None
    reference: str | None = None
    card_mask: str | None = None
    paid_at: str | None = None
    order_id: str | None = None  # our payment id as the gateway's answer names it, when it does
    # The gateway's hash of the paying card (a SHA-256 in hex, as given): the refund payer page
    # checks the card typed there against it. Never the PAN; kept out of repr (and so of logs).
    card_hash: str | None = field(default=None, repr=False)

    @property
    def paid(self) -> bool:
        return self.outcome in (VerifyOutcome.VERIFIED, VerifyOutcome.ALREADY_VERIFIED)


class GatewayAdapter(Protocol):
    config: GatewayConfig
    capabilities: Capabilities

    def create(
        self, *, order_id: str, amount_irr: int, callback_url: str, description: str, mobile: str | None
    ) -> CreateResult:
        """Ask for a payment token; the redirect is built from config.base_url and the token only."""
        ...

    def parse_callback(self, query: Mapping[str, str], form: Mapping[str, str]) -> CallbackData:
        """Pure: read the buyer's return. GatewayError(BUSINESS) on malformed input."""
        ...

    def verify(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """Verify server to server; safe to call repeatedly. `refs` come from the buyer's return."""
        ...

    def inquire(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """The payment's state at the gateway without verifying it (for reconciliation).

        Gateways without an inquiry API raise GatewayError(CONFIG, "unsupported").
        """
        ...

    def reverse(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> bool:
        """Give a verified payment's money back to the buyer; True when the gateway confirms.

        Gateways without a reverse API, or past their reverse window, raise GatewayError.
        """
        ...


_MASK_CHARS = frozenset("*xX•#")
_SEPARATORS = str.maketrans("", "", " -\t")
_KEEP_HEAD = 6
_KEEP_TAIL = 4
_MIN_HIDDEN = 6


def mask_card(value: str | None) -> str | None:
    """A card number safe to store and show: at most the first 6 and last 4 digits, the rest '*'.

    Spaces and dashes are dropped. A value that is already masked (it holds mask characters
    and at most 10 digits) stays, with its mask characters written as '*'. Short values keep
    fewer digits so that at least 6 characters are always hidden. Never returns a full PAN.
    """
    if value is None:
        return None
    text = str(value).translate(_SEPARATORS)
    if not text:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if any(ch in _MASK_CHARS for ch in text) and digits <= _KEEP_HEAD + _KEEP_TAIL:
        return "".join(ch if ch.isdigit() and ch.isascii() else "*" for ch in text)
    length = len(text)
    keep = max(0, length - _MIN_HIDDEN)
    tail = min(_KEEP_TAIL, keep)
    head = min(_KEEP_HEAD, keep - tail)
    out = []
    for index, ch in enumerate(text):
        visible = index < head or index >= length - tail
        out.append(ch if visible and ch.isdigit() and ch.isascii() else "*")
    return "".join(out)


_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def card_hash_or_none(value: object) -> str | None:
    """A gateway's card hash as given, when it has the published form (SHA-256 in hex, either case).

    Any other value is dropped: a hash we cannot recompute from a typed card would refuse the
    rightful payer forever, so such a payment keeps the masked-card rule (docs/SECURITY.md).
    """
    text = text_or_none(value)
    return text if text is not None and _SHA256_HEX.match(text) else None


def post_json(
    client: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    *,
    timeout: float,
    label: str,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """POST a JSON body: (HTTP status, the parsed JSON answer or None when it is not JSON).

    Transport failures become GatewayError: a timeout or a broken connection is TRANSIENT, an
    invalid URL or a non-ASCII header (a bad credential, never echoed) is CONFIG. What a status
    means is each protocol's own business.
    """
    return _exchange(client, "POST", url, dict(body), timeout=timeout, label=label, headers=headers)


def get_json(
    client: httpx.Client, url: str, *, timeout: float, label: str, headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    """GET a JSON answer: as `post_json`, without a body."""
    return _exchange(client, "GET", url, None, timeout=timeout, label=label, headers=headers)


def _exchange(
    client: httpx.Client,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    timeout: float,
    label: str,
    headers: Mapping[str, str] | None,
) -> tuple[int, Any]:
    try:
        if body is None:
            response = client.request(method, url, headers=dict(headers or {}), timeout=timeout)
        else:
            response = client.request(method, url, json=body, headers=dict(headers or {}), timeout=timeout)
    except httpx.TimeoutException:
        raise GatewayError(ErrorKind.TRANSIENT, "timeout", f"{label} timed out") from None
    except httpx.InvalidURL:
        raise GatewayError(ErrorKind.CONFIG, "invalid_url", "base_url is not a valid URL") from None
    except UnicodeEncodeError:
        # A header must be ASCII; the exception would carry the credential, so it is dropped here.
        raise GatewayError(ErrorKind.CONFIG, "invalid_token", "a credential is not ASCII") from None
    except httpx.HTTPError as exc:
        raise GatewayError(
            ErrorKind.TRANSIENT, "transport", f"{label} failed: {exc.__class__.__name__}"
        ) from None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


INT_TEXT = re.compile(r"^-?[0-9]{1,18}$")  # an integer as gateways send it, bounded before int()


def int_or_none(value: object) -> int | None:
    """An integer from a gateway's JSON or form value (a number or its text); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INT_TEXT.match(value.strip()):
        return int(value.strip())
    return None


def text_or_none(value: object) -> str | None:
    """A gateway's value as stripped text; None for nothing, an empty text, a boolean or a structure."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def return_fields(query: Mapping[str, str], form: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    """The named fields of a buyer's return, from its form or its query (stripped).

    A value that is not text, or that differs between form and query, is refused as malformed:
    a return is only a hint, and one that contradicts itself is not even that.
    """
    fields: dict[str, str] = {}
    for source in (form, query):
        for key in keys:
            value = source.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", f"{key} is not text")
            value = value.strip()
            if key in fields and fields[key] != value:
                raise GatewayError(
                    ErrorKind.BUSINESS, "malformed_callback", f"{key} differs between query and form"
                )
            fields[key] = value
    return fields


def positive_amount(amount_irr: int) -> int:
    """The amount to ask a gateway for: a positive integer of rials, or a BUSINESS error."""
    if isinstance(amount_irr, bool) or not isinstance(amount_irr, int) or amount_irr <= 0:
        raise GatewayError(ErrorKind.BUSINESS, "invalid_amount", "amount must be a positive integer")
    return amount_irr
