"""Zarinpal v4 IPG adapter (REST/JSON, amounts in rials, `currency: "IRR"` sent explicitly).

Protocol as published by Zarinpal (zarinpal.com/docs/paymentGateway: connectToGateway, errorList,
otherMethods/Inquiry, moreFeatures/reverse) and as used by maintained clients
(shetabit/multipay src/Drivers/Zarinpal/Strategies/Normal.php; ali-zahedi/az-iranian-bank-gateways
azbankgateways/v3/providers/zarinpal.py); summarised in GATEWAYS.md section 1.2:

- create: POST {base}/pg/v4/payment/request.json
  {merchant_id, amount, currency, description, callback_url, metadata{mobile?, order_id}}
  -> {data: {code: 100, message, authority, fee_type, fee}, errors: []}
- buyer: GET {base}/pg/StartPay/{authority}
- return: GET {callback_url}?Authority=..&Status=OK|NOK
- verify: POST {base}/pg/v4/payment/verify.json {merchant_id, authority, amount}
  -> {data: {code: 100|101, message, card_hash, card_pan, ref_id, fee_type, fee}, errors: []}
- inquiry: POST {base}/pg/v4/payment/inquiry.json {merchant_id, authority}
  -> {data: {code: 100, message, status: VERIFIED|PAID|IN_BANK|FAILED|REVERSED}, errors: []}
- reverse: POST {base}/pg/v4/payment/reverse.json {merchant_id, authority}
  -> {data: {code: 100, message: "Reversed"}, errors: []}

A refusal is `{data: [] (or {}), errors: {code, message, validations}}`, sometimes with an HTTP 4xx
status. Transport failures (connect error, timeout, 5xx, a non-JSON body) are TRANSIENT.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from paylink.payments.gateways.base import (
    CallbackData,
    Capabilities,
    CreateResult,
    ErrorKind,
    GatewayConfig,
    GatewayError,
    Redirect,
    VerifyOutcome,
    VerifyResult,
    card_hash_or_none,
    int_or_none,
    mask_card,
    positive_amount,
    post_json,
    return_fields,
    text_or_none,
)

PROTOCOL = "zarinpal"

API = "/pg/v4/payment"
START_PAY = "/pg/StartPay"

CODE_OK = 100
CODE_ALREADY_VERIFIED = 101
CODE_AMOUNT_MISMATCH = -50
CODE_NOT_PAID = -51

CAPABILITIES = Capabilities(
    unit="IRR",
    min_amount_irr=1_000,
    token_ttl=timedelta(minutes=15),  # [U] not published
    verify_window=timedelta(minutes=30),  # [U] unverified money may be kept, not reversed
    reverse_window=timedelta(minutes=30),  # moreFeatures/reverse: within 30 minutes of payment
    callback_methods=frozenset({"GET"}),
    redirect_method="GET",
    repeated_verify="already_verified",
    supports_inquiry=True,
)

# Every documented refusal code (errorList): (kind, our code, meaning). -50/-51 are verify outcomes.
CODE_ERRORS: dict[int, tuple[ErrorKind, str, str]] = {
    -9: (ErrorKind.BUSINESS, "validation_error", "validation error"),
    -10: (ErrorKind.CONFIG, "terminal_invalid", "merchant_id or server IP is not valid"),
    -11: (ErrorKind.CONFIG, "terminal_inactive", "merchant is not active"),
    -12: (ErrorKind.TRANSIENT, "too_many_attempts", "too many attempts, try again later"),
    -13: (ErrorKind.CONFIG, "terminal_limit_reached", "merchant transaction limit reached"),
    -14: (ErrorKind.CONFIG, "callback_domain_mismatch", "callback_url domain is not the registered one"),
    -15: (ErrorKind.CONFIG, "terminal_suspended", "merchant is suspended"),
    -16: (ErrorKind.CONFIG, "terminal_level_invalid", "merchant level is below silver"),
    -17: (ErrorKind.CONFIG, "terminal_level_blue", "merchant is limited at the blue level"),
    -40: (ErrorKind.BUSINESS, "invalid_extra_params", "invalid extra params"),
    -41: (ErrorKind.BUSINESS, "amount_too_large", "amount is above the maximum"),
    -50: (ErrorKind.BUSINESS, "amount_mismatch", "amount differs from the paid amount"),
    -51: (ErrorKind.BUSINESS, "not_paid", "payment is not paid"),
    -52: (ErrorKind.TRANSIENT, "gateway_error", "unexpected gateway error"),
    -53: (ErrorKind.BUSINESS, "authority_not_ours", "authority belongs to another merchant"),
    -54: (ErrorKind.BUSINESS, "invalid_authority", "authority is invalid"),
    -55: (ErrorKind.BUSINESS, "payment_not_found", "payment not found"),
    -60: (ErrorKind.BUSINESS, "not_reversible", "payment cannot be reversed with the bank"),
    -61: (ErrorKind.BUSINESS, "not_in_success_status", "payment is not successful or already reversed"),
    -62: (ErrorKind.CONFIG, "ip_not_allowed", "server IP is not set for the terminal"),
    -63: (ErrorKind.BUSINESS, "reverse_window_over", "the 30-minute reverse window is over"),
}

# inquiry.json `status` -> what it means for us (the caller verifies PAID itself).
INQUIRY_OUTCOMES: dict[str, VerifyOutcome] = {
    "VERIFIED": VerifyOutcome.ALREADY_VERIFIED,
    "PAID": VerifyOutcome.PENDING,
    "IN_BANK": VerifyOutcome.PENDING,
    "FAILED": VerifyOutcome.NOT_PAID,
    "REVERSED": VerifyOutcome.REVERSED,
}

_AUTHORITY_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,39}$")


class ZarinpalAdapter:
    """Zarinpal v4 over an injected httpx.Client (timeouts from the config)."""

    capabilities = CAPABILITIES

    def __init__(self, config: GatewayConfig, client: httpx.Client) -> None:
        self.config = config
        self._client = client

    # -- create -----------------------------------------------------------------------------
    def create(
        self, *, order_id: str, amount_irr: int, callback_url: str, description: str, mobile: str | None
    ) -> CreateResult:
        positive_amount(amount_irr)
        metadata: dict[str, str] = {"order_id": order_id}
        if mobile:
            metadata["mobile"] = mobile
        body: dict[str, Any] = {
            "merchant_id": self.config.merchant_id,
            "amount": amount_irr,
            "currency": "IRR",
            "description": description,
            "callback_url": callback_url,
            "metadata": metadata,
        }
        code, data = self._call("request.json", body)
        if code != CODE_OK:
            raise _error_for(code, "request")
        authority = text_or_none(data.get("authority"))
        if authority is None or not _AUTHORITY_RE.match(authority):
            raise GatewayError(
                ErrorKind.TRANSIENT, "bad_response", "request answered 100 without a usable authority"
            )
        return CreateResult(token=authority, redirect=self.redirect_for(authority))

    def redirect_for(self, token: str) -> Redirect:
        """The buyer's payment page: built from config.base_url and the token only."""
        authority = self._checked_token(token)
        return Redirect(method="GET", url=f"{self.config.base_url}{START_PAY}/{authority}", fields={})

    # -- callback ---------------------------------------------------------------------------
    def parse_callback(self, query: Mapping[str, str], form: Mapping[str, str]) -> CallbackData:
        """Read `Authority` and `Status=OK|NOK` (query, or a form); Status NOK is a cancel hint."""
        fields = return_fields(query, form, ("Authority", "Status"))
        authority = fields.get("Authority", "")
        if not _AUTHORITY_RE.match(authority):
            raise GatewayError(
                ErrorKind.BUSINESS, "malformed_callback", "Authority missing or not letters and digits"
            )
        status = fields.get("Status")
        if status is not None:
            status = status.upper()
            if status not in ("OK", "NOK"):
                raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Status must be OK or NOK")
        return CallbackData(token=authority, claimed_success=status == "OK", cancelled=status == "NOK")

    # -- verify -----------------------------------------------------------------------------
    def verify(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """Verify `token` with our stored amount; Zarinpal refuses another amount with -50.

        100 and 101 are paid (101: verified before, no second credit). -51 (cancelled, declined or
        not yet paid) is an outcome, never an error: inquiry tells a payment still at the bank
        (PENDING) from a failed one (NOT_PAID).
        """
        authority = self._checked_token(token)
        body = {"merchant_id": self.config.merchant_id, "authority": authority, "amount": amount_irr}
        code, data = self._call("verify.json", body)
        if code == CODE_OK:
            reference = text_or_none(data.get("ref_id"))
            if reference is None:
                raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "verify answered 100 without ref_id")
            # Zarinpal verified our amount (another amount is -50): the paid amount is ours.
            return VerifyResult(
                outcome=VerifyOutcome.VERIFIED,
                amount_irr=amount_irr,
                reference=reference,
                card_mask=mask_card(text_or_none(data.get("card_pan"))),
                card_hash=card_hash_or_none(data.get("card_hash")),
            )
        if code == CODE_ALREADY_VERIFIED:
            # 101 may come without details; whether it re-checks the amount is not published.
            return VerifyResult(
                outcome=VerifyOutcome.ALREADY_VERIFIED,
                reference=text_or_none(data.get("ref_id")),
                card_mask=mask_card(text_or_none(data.get("card_pan"))),
                card_hash=card_hash_or_none(data.get("card_hash")),
            )
        if code == CODE_AMOUNT_MISMATCH:
            return VerifyResult(outcome=VerifyOutcome.AMOUNT_MISMATCH)
        if code == CODE_NOT_PAID:
            return VerifyResult(outcome=self._not_paid_outcome(authority))
        raise _error_for(code, "verify")

    def inquire(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """The payment's state without verifying it. PAID (paid, not verified) is PENDING: the
        caller verifies it. Zarinpal's docs: never use inquiry as a verify."""
        return VerifyResult(outcome=self._inquiry_outcome(token))

    def reverse(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> bool:
        """Give a verified payment back within 30 minutes of payment; True on code 100.

        -62 (server IP not set) is CONFIG; -63 (window over), -60, -61 are BUSINESS.
        """
        authority = self._checked_token(token)
        code, _ = self._call("reverse.json", {"merchant_id": self.config.merchant_id, "authority": authority})
        if code != CODE_OK:
            raise _error_for(code, "reverse")
        return True

    # -- internals --------------------------------------------------------------------------
    def _inquiry_outcome(self, token: str) -> VerifyOutcome:
        authority = self._checked_token(token)
        code, data = self._call(
            "inquiry.json", {"merchant_id": self.config.merchant_id, "authority": authority}
        )
        if code != CODE_OK:
            raise _error_for(code, "inquiry")
        status = text_or_none(data.get("status"))
        outcome = INQUIRY_OUTCOMES.get((status or "").upper())
        if outcome is None:
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "inquiry answered an unknown status")
        return outcome

    def _not_paid_outcome(self, authority: str) -> VerifyOutcome:
        """After a -51: PENDING while the buyer may still be paying (an early or forged return),
        also when inquiry cannot be reached now; REVERSED when the money went back, else NOT_PAID."""
        try:
            outcome = self._inquiry_outcome(authority)
        except GatewayError as exc:
            # -51 is also Zarinpal's answer while the buyer is still at the bank: without inquiry's
            # word a "NOK" return (a claim) must not close the payment.
            return VerifyOutcome.PENDING if exc.kind is ErrorKind.TRANSIENT else VerifyOutcome.NOT_PAID
        if outcome is VerifyOutcome.REVERSED:
            return VerifyOutcome.REVERSED
        if outcome in (VerifyOutcome.PENDING, VerifyOutcome.ALREADY_VERIFIED):
            # IN_BANK, or the gateway contradicts its own -51: decide nothing now.
            return VerifyOutcome.PENDING
        return VerifyOutcome.NOT_PAID

    def _checked_token(self, token: str) -> str:
        if not isinstance(token, str) or not _AUTHORITY_RE.match(token):
            raise GatewayError(
                ErrorKind.BUSINESS, "invalid_authority", "authority must be 1-64 letters and digits"
            )
        return token

    def _call(self, name: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST one API call; (code, data) from `data.code`, or from `errors.code` on a refusal."""
        path = f"{API}/{name}"
        status, payload = post_json(
            self._client, f"{self.config.base_url}{path}", body, timeout=self.config.timeout_seconds,
            label=name, headers={"Accept": "application/json"},
        )  # fmt: skip
        if status >= 500 or status in (408, 429):
            raise GatewayError(ErrorKind.TRANSIENT, f"http_{status}", f"{name} answered HTTP {status}")
        code: int | None = None
        data: dict[str, Any] = {}
        if isinstance(payload, dict):
            raw_data = payload.get("data")
            if isinstance(raw_data, dict):
                data = raw_data
            code = _error_code(payload.get("errors"))
            if code is None:
                code = int_or_none(data.get("code"))
        if code is None:
            if 400 <= status < 500:
                raise GatewayError(ErrorKind.CONFIG, f"http_{status}", f"{name} answered HTTP {status}")
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", f"{name} answered no JSON code")
        if code in (CODE_OK, CODE_ALREADY_VERIFIED):
            return code, data
        if code == -9 and isinstance(payload, dict):
            fields = _validation_fields(payload.get("errors"))
            if fields:
                raise GatewayError(
                    ErrorKind.BUSINESS, "validation_error", f"{name}: code -9: invalid {', '.join(fields)}"
                )
        return code, data


def _error_code(errors: object) -> int | None:
    """The code of a refusal: `errors` is an object, or (seen in some answers) a list of them."""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        errors = errors[0]
    if isinstance(errors, dict):
        return int_or_none(errors.get("code"))
    return None


def _validation_fields(errors: object) -> list[str]:
    """The names of the fields a -9 refuses (never their values or the gateway's text)."""
    if not isinstance(errors, dict):
        return []
    validations = errors.get("validations")
    names: list[str] = []
    items = validations if isinstance(validations, list) else [validations]
    for item in items:
        if isinstance(item, dict):
            names.extend(key for key in item if isinstance(key, str) and _FIELD_RE.match(key))
    return sorted(set(names))[:5]


def _error_for(code: int, operation: str) -> GatewayError:
    known = CODE_ERRORS.get(code)
    if known is not None:
        kind, our_code, meaning = known
        return GatewayError(kind, our_code, f"{operation}: code {code}: {meaning}")
    # Not documented for this call: the gateway misbehaves; retry or fail over.
    return GatewayError(ErrorKind.TRANSIENT, f"code_{code}", f"{operation}: unexpected code {code}")
