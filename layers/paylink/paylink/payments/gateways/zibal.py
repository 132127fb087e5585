"""Zibal IPG adapter (REST/JSON, amounts in rials).

Protocol as published by Zibal (help.zibal.ir/IPG/API) and as used by maintained clients
(shetabit/multipay src/Drivers/Zibal/Zibal.php; ali-zahedi/az-iranian-bank-gateways
azbankgateways/banks/zibal.py); summarised in GATEWAYS.md section 1.4:

- create: POST {base}/v1/request {merchant, amount, callbackUrl, description, orderId, mobile?}
  -> {result: 100, trackId, message}
- buyer: GET {base}/start/{trackId}
- return: GET {callbackUrl}?success=1|0&trackId=..&orderId=..&status=..
- verify: POST {base}/v1/verify {merchant, trackId}
  -> {result, refNumber, paidAt, amount, status, cardNumber, orderId, message}
- inquiry: POST {base}/v1/inquiry {merchant, trackId} -> {result, status, amount, refNumber, ...}

Every answer is HTTP 200 with a `result` code; transport failures are TRANSIENT.
Zibal publishes no reverse API: `reverse` raises GatewayError(CONFIG, "unsupported").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from paylink.payments.gateways.base import (
    INT_TEXT,
    CallbackData,
    Capabilities,
    CreateResult,
    ErrorKind,
    GatewayConfig,
    GatewayError,
    Redirect,
    VerifyOutcome,
    VerifyResult,
    int_or_none,
    mask_card,
    positive_amount,
    post_json,
    return_fields,
    text_or_none,
)

PROTOCOL = "zibal"

RESULT_OK = 100
RESULT_ALREADY_VERIFIED = 201
RESULT_NOT_PAID = 202
RESULT_INVALID_TRACK_ID = 203

# Every documented `result` code other than the outcomes above: (kind, our code, meaning).
RESULT_ERRORS: dict[int, tuple[ErrorKind, str, str]] = {
    102: (ErrorKind.CONFIG, "merchant_not_found", "merchant not found"),
    103: (ErrorKind.CONFIG, "merchant_inactive", "merchant is inactive"),
    104: (ErrorKind.CONFIG, "merchant_invalid", "merchant is invalid"),
    105: (ErrorKind.BUSINESS, "amount_too_small", "amount must be at least 1,000 rials"),
    106: (ErrorKind.CONFIG, "invalid_callback_url", "callbackUrl is invalid (must start with http or https)"),
    113: (ErrorKind.BUSINESS, "amount_too_large", "amount is above the transaction limit"),
    114: (ErrorKind.BUSINESS, "invalid_national_code", "national code is invalid"),
    203: (ErrorKind.BUSINESS, "invalid_track_id", "trackId is invalid"),
}

# `status` of a payment, in verify/inquiry answers and on the buyer's return.
STATUS_INTERNAL_ERROR = -2
STATUS_WAITING = -1
STATUS_VERIFIED = 1
STATUS_PAID_UNVERIFIED = 2
STATUS_CANCELLED_BY_USER = 3
STATUS_REVERSED = frozenset({15, 16, 18})  # refunded, refunding, reversed
STATUS_TEXT: dict[int, str] = {
    -2: "internal error",
    -1: "waiting for payment",
    1: "paid, verified",
    2: "paid, not verified",
    3: "cancelled by the buyer",
    4: "invalid card number",
    5: "insufficient funds",
    6: "wrong PIN",
    7: "too many requests",
    8: "daily internet payment count exceeded",
    9: "daily internet payment amount exceeded",
    10: "invalid card issuer",
    11: "switch error",
    12: "card not reachable",
    15: "refunded",
    16: "refunding",
    18: "reversed",
}

_TRACK_ID_RE = re.compile(r"^[0-9]{1,20}$")


CAPABILITIES = Capabilities(
    unit="IRR",
    min_amount_irr=1000,  # result 105 below it
    # [U] GATEWAYS.md 1.4/7: Zibal publishes neither a token lifetime nor a verify window (nor
    # whether unverified payments are reversed); 15 and 30 minutes are the Shaparak-like values
    # the orchestrator plans with, and the sandbox simulates.
    token_ttl=timedelta(minutes=15),
    verify_window=timedelta(minutes=30),
    reverse_window=None,  # no published reverse API
    callback_methods=frozenset({"GET", "POST"}),  # documented GET; POST form accepted too
    redirect_method="GET",
    repeated_verify="already_verified",  # result 201
    supports_inquiry=True,
    echoes_order_id=True,  # GATEWAYS.md: the return carries success, trackId, orderId and status
)


class ZibalAdapter:
    """Zibal's protocol over an injected httpx.Client (timeouts from the config)."""

    capabilities = CAPABILITIES

    def __init__(self, config: GatewayConfig, client: httpx.Client) -> None:
        self.config = config
        self._client = client

    # -- create -----------------------------------------------------------------------------
    def create(
        self, *, order_id: str, amount_irr: int, callback_url: str, description: str, mobile: str | None
    ) -> CreateResult:
        positive_amount(amount_irr)
        body: dict[str, Any] = {
            "merchant": self.config.merchant_id,
            "amount": amount_irr,
            "callbackUrl": callback_url,
            "description": description,
            "orderId": order_id,
        }
        if mobile:
            body["mobile"] = mobile
        data = self._call("/v1/request", body)
        result = _result(data)
        if result != RESULT_OK:
            raise _error_for(result, "request")
        track_id = _track_id_from(data.get("trackId"))
        if track_id is None:
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "request answered 100 without a trackId")
        return CreateResult(token=track_id, redirect=self.redirect_for(track_id))

    def redirect_for(self, token: str) -> Redirect:
        """The buyer's payment page: built from config.base_url and the token only."""
        if not _TRACK_ID_RE.match(token):
            raise GatewayError(ErrorKind.BUSINESS, "invalid_track_id", "trackId must be digits")
        return Redirect(method="GET", url=f"{self.config.base_url}/start/{token}", fields={})

    # -- callback ---------------------------------------------------------------------------
    def parse_callback(self, query: Mapping[str, str], form: Mapping[str, str]) -> CallbackData:
        fields = return_fields(query, form, ("success", "trackId", "orderId", "status"))
        track_id = fields.get("trackId", "")
        if not _TRACK_ID_RE.match(track_id):
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "trackId missing or not digits")
        success = fields.get("success")
        if success not in (None, "0", "1"):
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "success must be 0 or 1")
        if not fields.get("orderId"):
            # Zibal echoes the orderId we sent (our payment id). Without it, a return names only a
            # trackId, a sequential number: answering it would lead anyone to a neighbour's receipt.
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "orderId missing")
        status_text = fields.get("status")
        status: int | None = None
        if status_text:
            if not INT_TEXT.match(status_text):
                raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "status must be an integer")
            status = int(status_text)
        return CallbackData(
            token=track_id,
            claimed_success=success == "1",
            cancelled=status == STATUS_CANCELLED_BY_USER,
            order_id=fields.get("orderId") or None,
        )

    # -- verify -----------------------------------------------------------------------------
    def verify(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """Verify `token`. Zibal's verify takes no amount: the answer's amount is reported for
        the caller to compare with `amount_irr` (its stored amount). `refs` is unused."""
        track_id = self._checked_token(token)
        data = self._call("/v1/verify", {"merchant": self.config.merchant_id, "trackId": int(track_id)})
        result = _result(data)
        if result == RESULT_OK:
            return self._paid(VerifyOutcome.VERIFIED, data, track_id)
        if result == RESULT_ALREADY_VERIFIED:
            return self._paid(VerifyOutcome.ALREADY_VERIFIED, data, track_id)
        if result == RESULT_NOT_PAID:
            status = int_or_none(data.get("status"))
            if status is None:
                status = self._status_from_inquiry(track_id)
            if status == STATUS_CANCELLED_BY_USER:
                return VerifyResult(outcome=VerifyOutcome.CANCELLED)
            if status in STATUS_REVERSED:
                return VerifyResult(outcome=VerifyOutcome.REVERSED)
            if status is None or status == STATUS_WAITING:
                # Still at the gateway (or unknown): a return now may be forged or early; decide nothing.
                return VerifyResult(outcome=VerifyOutcome.PENDING)
            return VerifyResult(outcome=VerifyOutcome.NOT_PAID)
        raise _error_for(result, "verify")

    # -- inquire / reverse -------------------------------------------------------------------
    def inquire(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """The payment's state at Zibal without verifying it (reconciliation). By `status`:

        1 verified -> ALREADY_VERIFIED with amount, reference, card and paidAt;
        2 paid, not verified -> PENDING with the paid amount: "paid, verify it" (the caller
          verifies; inquiry never finalises a payment);
        -1 waiting -> PENDING; 3 cancelled by the buyer -> CANCELLED;
        15/16/18 refunded, refunding, reversed -> REVERSED; anything else -> NOT_PAID.
        The answer's amount is reported for the caller to compare with `amount_irr`.
        """
        track_id = self._checked_token(token)
        data = self._inquiry(track_id)
        status = int_or_none(data.get("status"))
        if status == STATUS_VERIFIED:
            return self._details(VerifyOutcome.ALREADY_VERIFIED, data)
        if status == STATUS_PAID_UNVERIFIED:
            return self._details(VerifyOutcome.PENDING, data)
        if status == STATUS_WAITING:
            return VerifyResult(outcome=VerifyOutcome.PENDING)
        if status == STATUS_CANCELLED_BY_USER:
            return VerifyResult(outcome=VerifyOutcome.CANCELLED)
        if status in STATUS_REVERSED:
            return self._details(VerifyOutcome.REVERSED, data)
        return VerifyResult(outcome=VerifyOutcome.NOT_PAID)

    def reverse(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> bool:
        """Zibal publishes no reverse API."""
        raise GatewayError(ErrorKind.CONFIG, "unsupported", "Zibal has no reverse API")

    def _inquiry(self, token: str) -> dict[str, Any]:
        """POST /v1/inquiry: the payment as Zibal sees it (result 100), without verifying it."""
        track_id = self._checked_token(token)
        data = self._call("/v1/inquiry", {"merchant": self.config.merchant_id, "trackId": int(track_id)})
        result = _result(data)
        if result != RESULT_OK:
            raise _error_for(result, "inquiry")
        return data

    # -- internals --------------------------------------------------------------------------
    def _paid(self, outcome: VerifyOutcome, data: Mapping[str, Any], track_id: str) -> VerifyResult:
        amount = int_or_none(data.get("amount"))
        if amount is None:
            # A 201 (or a terse 100) may omit the payment's details: ask inquiry for them.
            data = {**self._inquiry(track_id), **{k: v for k, v in data.items() if v is not None}}
        return self._details(outcome, data)

    def _details(self, outcome: VerifyOutcome, data: Mapping[str, Any]) -> VerifyResult:
        amount = int_or_none(data.get("amount"))
        return VerifyResult(
            outcome=outcome,
            amount_irr=amount,
            reference=text_or_none(data.get("refNumber")),
            card_mask=mask_card(text_or_none(data.get("cardNumber"))),
            paid_at=text_or_none(data.get("paidAt")),
            order_id=text_or_none(data.get("orderId")),  # the caller checks it names this payment
        )

    def _status_from_inquiry(self, track_id: str) -> int | None:
        try:
            return int_or_none(self._inquiry(track_id).get("status"))
        except GatewayError:
            return None  # the verify answer (202) already decides: not paid

    def _checked_token(self, token: str) -> str:
        if not isinstance(token, str) or not _TRACK_ID_RE.match(token):
            raise GatewayError(ErrorKind.BUSINESS, "invalid_track_id", "trackId must be digits")
        return token

    def _call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, data = post_json(self._client, f"{self.config.base_url}{path}", body,
                                 timeout=self.config.timeout_seconds, label=path)  # fmt: skip
        if status >= 500 or status in (408, 429):
            raise GatewayError(ErrorKind.TRANSIENT, f"http_{status}", f"{path} answered HTTP {status}")
        if not isinstance(data, dict) or "result" not in data:
            if 400 <= status < 500:
                raise GatewayError(ErrorKind.CONFIG, f"http_{status}", f"{path} answered HTTP {status}")
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", f"{path} answered a non-JSON body")
        return data


def _result(data: Mapping[str, Any]) -> int:
    result = int_or_none(data.get("result"))
    if result is None:
        raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "answer has no integer result")
    return result


def _error_for(result: int, operation: str) -> GatewayError:
    known = RESULT_ERRORS.get(result)
    if known is not None:
        kind, code, meaning = known
        return GatewayError(kind, code, f"{operation}: result {result}: {meaning}")
    # Not documented for this call: the gateway misbehaves; retry or fail over.
    return GatewayError(ErrorKind.TRANSIENT, f"result_{result}", f"{operation}: unexpected result {result}")


def _track_id_from(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text if _TRACK_ID_RE.match(text) else None
