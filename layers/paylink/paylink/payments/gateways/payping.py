"""PayPing v3 IPG adapter (REST/JSON, bearer token, amounts in toman).

Protocol as published by PayPing (OpenAPI `payping/API-Documents spec/openapi.json` for v1-v2,
the official v3 WooCommerce plugin `payping/plugins-woocommerce class-wc-gateway-payping.php`,
the official sample `payping/Simple-PHP-Payment-V3`) and as used by maintained clients
(amyavari/iran-payment-laravel src/Drivers/PaypingDriver.php); summarised in GATEWAYS.md 1.1:

- create: POST {base}/v3/pay {amount, returnUrl, payerIdentity?, description, clientRefId,
  isReversible} -> 200 {paymentCode, url, amount, payerWage, businessWage, gatewayAmount}
- buyer: GET {base}/v3/pay/start/{paymentCode}
- return (POST form, or GET query): `status` (1 paid / 0 not), `errorCode`, `data` = a JSON string
  {paymentCode, paymentRefId, clientRefId, amount, gatewayAmount, cardNumber, cardHashPan};
  the older official sample posts `Status` (-1 = not paid), `PaymentRefId`, `PaymentCode` instead.
- verify: POST {base}/v3/pay/verify {paymentRefId (int64), paymentCode, amount}
  -> 200 {amount, cardNumber, cardHashPan, clientRefId, paymentRefId, code, payedDate, ...};
  a repeated verify answers HTTP 409 with metaData.code 110 (or 123); HTTP 202 or 502 means
  "verification still in progress, call again" (reference/payping-v3-facts.md).
- reverse: POST {base}/v3/pay/reverse {paymentRefId (int64), paymentCode} -> 200 {amount, ...}
- report: GET {base}/v1/report/{paymentCode} -> {isPaid, refId, PaymentStatus, amount, ...}: the
  refId of a payment whose return never reached us (PaymentStatus 5: back from the bank, waiting
  for our verify), so that it is verified inside PayPing's 10-minute window (payping-v3-facts.md).

Failures are RFC 7807 bodies {title, status, instance, paypingTraceId, metaData: {code, errors}};
metaData.code decides. Amounts are toman: rials are divided by 10 on the way out and multiplied
by 10 on the way in. Transport failures and undocumented codes are TRANSIENT.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from paylink.core import json_input
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
    card_hash_or_none,
    get_json,
    int_or_none,
    mask_card,
    positive_amount,
    post_json,
    return_fields,
    text_or_none,
)

PROTOCOL = "payping"
_T = TypeVar("_T")

RIALS_PER_TOMAN = 10
MIN_AMOUNT_TOMAN = 100

CAPABILITIES = Capabilities(
    unit="IRT",
    min_amount_irr=MIN_AMOUNT_TOMAN * RIALS_PER_TOMAN,
    # [U] v3 publishes no payment-code lifetime; 15 minutes is the usual bank-page session.
    token_ttl=timedelta(minutes=15),
    # v2 spec: "if verify is not called within 10 minutes of payment it is voided"; assumed for v3.
    verify_window=timedelta(minutes=10),
    # [U] PayPing publishes codes 135/136 ("reverse window over") but not the window itself.
    reverse_window=timedelta(minutes=30),
    callback_methods=frozenset({"POST", "GET"}),
    redirect_method="GET",
    repeated_verify="already_verified",
    # GET /v1/report/{code} (payping-v3-facts.md "Reconciliation"); the token needs pay:read.
    supports_inquiry=True,
    # verify sends the return's paymentRefId with our code (or the report's, without a return)
    verify_takes_return_reference=True,
)

CODE_ALREADY_PAID = 110
CODE_ALREADY_VERIFIED = 123
CODE_NOT_PAID = 121
CODE_CANCELLED = 127
CODE_WRONG_AMOUNT = 137
# Verify answering these HTTP statuses is "still in progress, call again", whatever the body says.
VERIFY_IN_PROGRESS_STATUSES = frozenset({202, 502})
# The report's PaymentStatus for "back from the bank successfully, waiting for the merchant's verify".
REPORT_AWAITING_VERIFY = 5
INT64_MAX = 2**63 - 1

# metaData.code values (GATEWAYS.md 1.1; the messages of amyavari's PaypingDriver) that are
# errors in every call: (kind, our code, meaning). Verify reads 110/121/123/127/137 as outcomes.
META_CODES: dict[int, tuple[ErrorKind, str, str]] = {
    101: (ErrorKind.BUSINESS, "invalid_request", "the data sent is invalid"),
    102: (ErrorKind.CONFIG, "no_active_gateway", "no active gateway for this merchant"),
    103: (ErrorKind.CONFIG, "token_not_approved", "the merchant's token is not approved"),
    104: (ErrorKind.CONFIG, "test_token_amount", "amount not allowed for a test token"),
    105: (ErrorKind.CONFIG, "invalid_return_url", "the return URL is not valid for this merchant"),
    106: (ErrorKind.TRANSIENT, "gateway_internal_error", "internal service error"),
    108: (ErrorKind.TRANSIENT, "gateway_internal_error", "internal server error"),
    109: (ErrorKind.TRANSIENT, "payment_under_review", "the payment is being reviewed"),
    110: (ErrorKind.BUSINESS, "already_paid", "the payment has already been made"),
    111: (ErrorKind.CONFIG, "merchant_blocked", "the merchant's account is blocked"),
    112: (ErrorKind.CONFIG, "test_token_limit", "the test token's transaction limit is used up"),
    113: (ErrorKind.BUSINESS, "invalid_mobile", "the mobile number is not valid"),
    114: (ErrorKind.TRANSIENT, "bank_gateway_error", "bank gateway error"),
    121: (ErrorKind.BUSINESS, "not_paid", "verify needs a successful payment"),
    122: (ErrorKind.BUSINESS, "payment_not_found", "payment not found"),
    123: (ErrorKind.BUSINESS, "already_verified", "the payment has already been verified"),
    124: (ErrorKind.CONFIG, "incompatible_version", "the payment does not belong to this API version"),
    127: (ErrorKind.BUSINESS, "cancelled", "cancelled by the buyer or timed out at the gateway"),
    133: (ErrorKind.BUSINESS, "invalid_payment", "the payment details are invalid"),
    134: (ErrorKind.BUSINESS, "not_reversible", "the payment cannot be reversed"),
    135: (ErrorKind.BUSINESS, "reverse_window_over", "the reverse window is over"),
    136: (ErrorKind.BUSINESS, "reverse_window_over", "the reverse window is over"),
    137: (ErrorKind.BUSINESS, "amount_mismatch", "the amount does not match the payment's"),
    155: (ErrorKind.TRANSIENT, "verify_in_progress", "verify is in progress; try again"),
    156: (ErrorKind.TRANSIENT, "reverse_in_progress", "reverse is in progress; try again"),
}

VERIFY_OUTCOMES: dict[int, VerifyOutcome] = {
    # 121 is also the answer while the buyer is still on PayPing's page (a forged or early return
    # asks then): not paid *yet*. The payment waits for its real return or for reconciliation.
    CODE_NOT_PAID: VerifyOutcome.PENDING,
    CODE_CANCELLED: VerifyOutcome.CANCELLED,
    CODE_WRONG_AMOUNT: VerifyOutcome.AMOUNT_MISMATCH,
}

# Status values on the buyer's return.
STATUS_PAID = "1"
STATUS_NOT_PAID = "0"
LEGACY_STATUS_NOT_PAID = "-1"

_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REF_RE = re.compile(r"^[0-9]{1,19}$")  # paymentRefId: a positive int64
_RETURN_KEYS = ("status", "errorCode", "data", "Status", "PaymentRefId", "PaymentCode", "ClientRefId")


class PayPingAdapter:
    """PayPing v3 over an injected httpx.Client; `config.merchant_id` is the bearer token."""

    capabilities = CAPABILITIES

    def __init__(self, config: GatewayConfig, client: httpx.Client) -> None:
        self.config = config
        self._client = client

    # -- create -----------------------------------------------------------------------------
    def create(
        self, *, order_id: str, amount_irr: int, callback_url: str, description: str, mobile: str | None
    ) -> CreateResult:
        amount = _to_toman(amount_irr)
        if amount < MIN_AMOUNT_TOMAN:
            raise GatewayError(
                ErrorKind.BUSINESS, "amount_too_small", f"amount must be at least {MIN_AMOUNT_TOMAN} toman"
            )
        body: dict[str, Any] = {
            "amount": amount,
            "returnUrl": callback_url,
            "description": description,
            "clientRefId": order_id,
            # [U] amyavari sets it; without it PayPing may refuse a later reverse (134).
            "isReversible": True,
        }
        if mobile:
            body["payerIdentity"] = mobile
        status, data = self._call("/v3/pay", body)
        if status != 200:
            raise _error_for(status, data, "pay")
        code = _code_or_none(data.get("paymentCode"))
        if code is None:
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "pay answered 200 without a paymentCode")
        return CreateResult(token=code, redirect=self.redirect_for(code))

    def redirect_for(self, token: str) -> Redirect:
        """The buyer's payment page: built from config.base_url and the token only."""
        code = _checked_code(token)
        return Redirect(method="GET", url=f"{self.config.base_url}/v3/pay/start/{code}", fields={})

    # -- callback ---------------------------------------------------------------------------
    def parse_callback(self, query: Mapping[str, str], form: Mapping[str, str]) -> CallbackData:
        fields = return_fields(query, form, _RETURN_KEYS)
        if "data" in fields:
            return _parse_v3_return(fields)
        if "PaymentCode" in fields or "Status" in fields or "PaymentRefId" in fields:
            return _parse_legacy_return(fields)
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "neither data nor PaymentCode given")

    # -- verify -----------------------------------------------------------------------------
    def verify(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """Verify with our stored amount; PayPing itself refuses a different amount (137).

        Without a paymentRefId from the buyer's return, the report's is used. A return's reference
        that PayPing says is not the payment's (133: a forged or mistyped return) is a claim that
        failed, not the payment's fate: the report's reference, when it differs, is tried once.
        """
        code = _checked_code(token)
        amount = _to_toman(amount_irr)
        return self._with_reference(code, refs, lambda ref_id: self._verify_with(code, amount, ref_id))

    def _verify_with(self, code: str, amount: int, ref_id: int) -> VerifyResult:
        status, data = self._call(
            "/v3/pay/verify",
            {"paymentRefId": ref_id, "paymentCode": code, "amount": amount},
            in_progress=VERIFY_IN_PROGRESS_STATUSES,
        )
        if status == 200:
            answered_code = text_or_none(data.get("code"))
            if answered_code is not None and answered_code != code:
                raise GatewayError(
                    ErrorKind.BUSINESS, "payment_code_mismatch", "verify answered for another payment"
                )
            paid = int_or_none(data.get("amount"))
            return VerifyResult(
                outcome=VerifyOutcome.VERIFIED,
                amount_irr=(paid if paid is not None else amount) * RIALS_PER_TOMAN,
                reference=text_or_none(data.get("paymentRefId")) or str(ref_id),
                card_mask=mask_card(text_or_none(data.get("cardNumber"))),
                card_hash=card_hash_or_none(data.get("cardHashPan")),
                paid_at=text_or_none(data.get("payedDate")),
            )
        meta_code = _meta_code(data)
        if meta_code in (CODE_ALREADY_PAID, CODE_ALREADY_VERIFIED) and 400 <= status < 500:
            return _already_verified(data, amount, ref_id)
        if meta_code in VERIFY_OUTCOMES and 400 <= status < 500:
            return VerifyResult(outcome=VERIFY_OUTCOMES[meta_code])
        raise _error_for(status, data, "verify")

    def inquire(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """The report, without verifying: isPaid -> ALREADY_VERIFIED; back from the bank and waiting
        for verify -> PENDING with the paid amount ("verify it"); anything else -> PENDING, bare
        (PayPing publishes no other PaymentStatus values, so nothing is decided on them)."""
        code = _checked_code(token)
        found = self._report(code)
        if found.get("ispaid") is True:
            outcome = VerifyOutcome.ALREADY_VERIFIED
        elif int_or_none(found.get("paymentstatus")) == REPORT_AWAITING_VERIFY:
            outcome = VerifyOutcome.PENDING
        else:
            return VerifyResult(outcome=VerifyOutcome.PENDING)
        ref = _report_ref(found)
        paid = int_or_none(found.get("amount"))
        return VerifyResult(
            outcome=outcome,
            amount_irr=paid * RIALS_PER_TOMAN if paid is not None else None,
            reference=str(ref) if ref is not None else None,
        )

    # -- reverse ----------------------------------------------------------------------------
    def reverse(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> bool:
        """Give a verified payment back to the buyer (only inside PayPing's reverse window).

        As in verify, a stored reference PayPing says is not the payment's (133) gives way to the
        report's: both name this paymentCode, so the money goes back only for this payment.
        """
        code = _checked_code(token)
        return self._with_reference(code, refs, lambda ref_id: self._reverse_with(code, ref_id))

    def _reverse_with(self, code: str, ref_id: int) -> bool:
        status, data = self._call("/v3/pay/reverse", {"paymentRefId": ref_id, "paymentCode": code})
        if status != 200:
            raise _error_for(status, data, "reverse")
        return True

    # -- internals --------------------------------------------------------------------------
    def _with_reference(self, code: str, refs: Mapping[str, str] | None, call: Callable[[int], _T]) -> _T:
        """`call` with the payment's paymentRefId; once more with the report's when PayPing says
        the stored one is not this payment's (133), as a planted or mistyped return leaves it."""
        ref_id = self._reference(code, refs)
        try:
            return call(ref_id)
        except GatewayError as exc:
            if exc.code != "invalid_payment" or _ref_from(refs) is None:
                raise
            try:
                other = self._reference(code, None)
            except GatewayError:
                raise exc from None
            if other == ref_id:
                raise
            return call(other)

    def _reference(self, code: str, refs: Mapping[str, str] | None) -> int:
        """The paymentRefId to verify or reverse with: the buyer's return's, else the report's."""
        given = _ref_from(refs)
        if given is not None:
            return given
        try:
            found = self._report(code)
        except GatewayError as exc:
            if exc.kind is ErrorKind.TRANSIENT:
                raise
            # No report we may read (unknown code, a token without pay:read): as before the
            # report existed, nothing to verify with.
            raise GatewayError(
                ErrorKind.BUSINESS, "missing_reference", f"no paymentRefId, and the report said {exc.code}"
            ) from None
        ref = _report_ref(found)
        waiting = int_or_none(found.get("paymentstatus")) == REPORT_AWAITING_VERIFY
        if ref is None or not (waiting or found.get("ispaid") is True):
            raise GatewayError(
                ErrorKind.BUSINESS, "missing_reference", "no paymentRefId: the report shows no payment"
            )
        return ref

    def _report(self, code: str) -> dict[str, Any]:
        """GET /v1/report/{code}: the payment as PayPing sees it, keys lower-cased (the published
        documents spell `PaymentStatus`, ASP.NET answers camelCase)."""
        path = f"/v1/report/{code}"
        status, data = get_json(
            self._client, f"{self.config.base_url}{path}",
            timeout=self.config.timeout_seconds, label="/v1/report", headers=self._headers(),
        )  # fmt: skip
        data = self._checked_answer("/v1/report", status, data)
        if status != 200:
            raise _error_for(status, data, "report")
        return {str(key).lower(): value for key, value in data.items()}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.merchant_id}", "Accept": "application/json"}

    def _call(
        self, path: str, body: Mapping[str, Any], *, in_progress: frozenset[int] = frozenset()
    ) -> tuple[int, dict[str, Any]]:
        """POST JSON; (HTTP status, JSON object). Only bodies worth reading come back."""
        status, data = post_json(
            self._client, f"{self.config.base_url}{path}", body,
            timeout=self.config.timeout_seconds, label=path, headers=self._headers(),
        )  # fmt: skip
        if status in in_progress:
            # "Still in progress, call again": never a refusal, whatever the body holds.
            raise GatewayError(
                ErrorKind.TRANSIENT, "verify_in_progress", f"{path} answered HTTP {status}: in progress"
            )
        return status, self._checked_answer(path, status, data)

    @staticmethod
    def _checked_answer(path: str, status: int, data: Any) -> dict[str, Any]:
        if status in (401, 403):
            # The token is wrong, revoked or lacks the pay:write scope; the body adds nothing.
            raise GatewayError(ErrorKind.CONFIG, f"http_{status}", f"{path} answered HTTP {status}")
        if not isinstance(data, dict):
            if status >= 500 or status in (408, 429) or status == 200:
                raise GatewayError(
                    ErrorKind.TRANSIENT,
                    "bad_response" if status == 200 else f"http_{status}",
                    f"{path} answered HTTP {status} without a JSON object",
                )
            raise GatewayError(ErrorKind.CONFIG, f"http_{status}", f"{path} answered HTTP {status}")
        return data


def _to_toman(amount_irr: int) -> int:
    if positive_amount(amount_irr) % RIALS_PER_TOMAN:
        raise GatewayError(
            ErrorKind.BUSINESS, "amount_not_whole_toman", "PayPing counts in toman: rials must end in 0"
        )
    return amount_irr // RIALS_PER_TOMAN


def _ref_from(refs: Mapping[str, str] | None) -> int | None:
    """The stored paymentRefId as the int64 VerifyModel takes; None when no return gave one."""
    ref_id = text_or_none((refs or {}).get("paymentRefId"))
    if ref_id is None:
        return None
    value = _int64_ref(ref_id)
    if value is None:
        raise GatewayError(ErrorKind.BUSINESS, "invalid_reference", "paymentRefId is not a PayPing reference")
    return value


def _int64_ref(value: object) -> int | None:
    """A paymentRefId (int64, as a JSON number or its digits); None for anything else or 0."""
    if isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, int | str) else ""
    if not _REF_RE.match(text):
        return None
    number = int(text)
    return number if 0 < number <= INT64_MAX else None


def _report_ref(found: Mapping[str, Any]) -> int | None:
    return _int64_ref(found.get("refid"))


def _already_verified(data: Mapping[str, Any], amount: int, ref_id: int) -> VerifyResult:
    """409/110: PayPing verified this payment before. Its details, when given, sit in metaData.message."""
    meta = data.get("metaData")
    details = meta.get("message") if isinstance(meta, dict) else None
    if not isinstance(details, dict):
        details = {}
    # We sent our stored amount; an amount in the details is still reported so that a payment
    # verified earlier for another amount shows up as a mismatch.
    paid = int_or_none(details.get("Amount"))
    return VerifyResult(
        outcome=VerifyOutcome.ALREADY_VERIFIED,
        amount_irr=(paid if paid is not None else amount) * RIALS_PER_TOMAN,
        reference=text_or_none(details.get("PaymentRefId")) or str(ref_id),
        card_mask=mask_card(text_or_none(details.get("CardNumber"))),
        paid_at=text_or_none(details.get("PayedDate")),
    )


def _meta_code(data: Mapping[str, Any]) -> int | None:
    meta = data.get("metaData")
    return int_or_none(meta.get("code")) if isinstance(meta, dict) else None


def _error_for(status: int, data: Mapping[str, Any], operation: str) -> GatewayError:
    meta_code = _meta_code(data)
    if meta_code is not None:
        known = META_CODES.get(meta_code)
        if known is not None:
            kind, code, meaning = known
            return GatewayError(kind, code, f"{operation}: HTTP {status}, code {meta_code}: {meaning}")
        # Not documented: the gateway misbehaves; retry or fail over.
        meaning = f"unexpected code {meta_code}"
        return GatewayError(
            ErrorKind.TRANSIENT, f"code_{meta_code}", f"{operation}: HTTP {status}, {meaning}"
        )
    kind = ErrorKind.TRANSIENT if status >= 500 or status in (408, 429) else ErrorKind.CONFIG
    return GatewayError(kind, f"http_{status}", f"{operation}: HTTP {status} without a code")


# -- the buyer's return -------------------------------------------------------------------------


def _parse_v3_return(fields: Mapping[str, str]) -> CallbackData:
    try:
        data = json_input.loads(fields["data"])  # bounded: a buyer posts this field
    except ValueError:
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "data is not JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "data is not a JSON object")
    code = _code_or_none(data.get("paymentCode"))
    if code is None:
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "data.paymentCode missing or invalid")
    status = fields.get("status")
    if status not in (STATUS_PAID, STATUS_NOT_PAID):
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "status must be 1 or 0")
    error_code = fields.get("errorCode", "")
    if error_code and not INT_TEXT.match(error_code):
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "errorCode must be an integer")
    return CallbackData(
        token=code,
        claimed_success=status == STATUS_PAID,
        cancelled=status == STATUS_NOT_PAID,
        refs=_refs(data.get("paymentRefId")),
        order_id=text_or_none(data.get("clientRefId")),
        claimed_amount_irr=_claimed_amount(data.get("amount")),
    )


def _parse_legacy_return(fields: Mapping[str, str]) -> CallbackData:
    code = _code_or_none(fields.get("PaymentCode"))
    if code is None:
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "PaymentCode missing or invalid")
    status = fields.get("Status", "")
    if status and not INT_TEXT.match(status):
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Status must be an integer")
    refs = _refs(fields.get("PaymentRefId"))
    # The official sample: Status=-1 means not paid, and PaymentRefId comes only with a payment.
    not_paid = status == LEGACY_STATUS_NOT_PAID
    return CallbackData(
        token=code,
        claimed_success=not not_paid and bool(refs),
        cancelled=not_paid,
        refs=refs,
        order_id=text_or_none(fields.get("ClientRefId")),
    )


def _refs(value: object) -> dict[str, str]:
    text = text_or_none(value)
    if text is None or text == "0":
        return {}
    ref = _int64_ref(value)
    if ref is None:
        # paymentRefId is an int64 (payping-v3-facts.md); anything else is not PayPing's.
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "paymentRefId is not a reference")
    return {"paymentRefId": str(ref)}


def _claimed_amount(value: object) -> int | None:
    if value is None or value == "":
        return None
    amount = int_or_none(value)
    if amount is None or amount < 0:
        raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "amount is not a whole number")
    return amount * RIALS_PER_TOMAN


# -- values ---------------------------------------------------------------------------------------


def _checked_code(token: str) -> str:
    if not isinstance(token, str) or not _CODE_RE.match(token):
        raise GatewayError(ErrorKind.BUSINESS, "invalid_payment_code", "paymentCode is not a PayPing code")
    return token


def _code_or_none(value: object) -> str | None:
    text = text_or_none(value)
    return text if text is not None and _CODE_RE.match(text) else None
