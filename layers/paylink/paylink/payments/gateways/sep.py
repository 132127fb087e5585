"""Saman bank (SEP) IPG adapter: token model, REST/JSON, amounts in rials.

Protocol as published in Saman's merchant manual (v3.3, in ali-zahedi/az-iranian-bank-gateways
docs/providers-documents/saman-3.3.pdf) and as used by shetabit/multipay
src/Drivers/SEP/SEP.php and ali-zahedi/az-iranian-bank-gateways azbankgateways/banks/sep.py;
summarised in GATEWAYS.md sections 1.5 and 1.7:

- create: POST {base}/onlinepg/onlinepg
  {action: "token", TerminalId, Amount, ResNum, RedirectUrl, CellNumber?, TokenExpiryInMin}
  -> {status: 1, token} or {status: -1, errorCode, errorDesc}
- buyer: an auto-submitted POST form {Token} to {base}/OnlinePG/OnlinePG
- return: POST form (GET query when the buyer was sent with GetMethod) with
  MID, State, Status, RRN, RefNum, ResNum, TerminalId, TraceNo, Amount, Wage, SecurePan,
  HashedCardNumber, Token. Status 2 / State "OK" claims success; 1 is a cancel by the buyer.
- verify: POST {base}/verifyTxnRandomSessionkey/ipg/VerifyTransaction {RefNum, TerminalNumber}
  -> {TransactionDetail: {RRN, RefNum, MaskedPan, HashedPan, TerminalNumber, OrginalAmount,
  AffectiveAmount, StraceDate, StraceNo}, ResultCode, ResultDescription, Success}
- reverse: POST {base}/verifyTxnRandomSessionkey/ipg/ReverseTransaction {RefNum, TerminalNumber}

Behaviour the orchestrator must plan for (see `Capabilities`):

- SEP verifies by the bank's RefNum (from the buyer's return, kept in `CallbackData.refs`), not by
  our token. A RefNum re-submitted to verify is confirmed *again* with ResultCode 0: SEP does
  nothing against double spending, so paylink must keep RefNum unique (the reported `reference`).
- SEP's verify never refuses by amount: it reports AffectiveAmount (what the buyer paid) and the
  caller compares it with the invoice.
- SEP's verify names no ResNum or token, and a return's RefNum is only a claim: an answer is this
  payment's only when it names our terminal and an OrginalAmount equal to the payment's amount
  (else `foreign_reference`); ResultCode 2 ("duplicate request") only with such details (else
  `unconfirmed_duplicate`). An unpaid answer (-2, -6, 5) is about the RefNum, not the payment
  (`Capabilities.verify_by = "reference"`).
- A payment not verified within 30 minutes is reversed by the bank (-6).
- The manual says to retry a verify only when no answer came back; transport failures are
  TRANSIENT. An undocumented code is also TRANSIENT (verify is safe to repeat).
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
    card_hash_or_none,
    int_or_none,
    mask_card,
    positive_amount,
    post_json,
    return_fields,
    text_or_none,
)

PROTOCOL = "sep"

TOKEN_PATH = "/onlinepg/onlinepg"  # noqa: S105 - a URL path, not a secret
PAYMENT_PATH = "/OnlinePG/OnlinePG"
VERIFY_PATH = "/verifyTxnRandomSessionkey/ipg/VerifyTransaction"
REVERSE_PATH = "/verifyTxnRandomSessionkey/ipg/ReverseTransaction"

TOKEN_EXPIRY_MINUTES = 20  # SEP's default TokenExpiryInMin (20..3600)

CAPABILITIES = Capabilities(
    unit="IRR",
    min_amount_irr=1_000,  # [U] not stated in the sources; the Shaparak-wide minimum
    token_ttl=timedelta(minutes=TOKEN_EXPIRY_MINUTES),
    verify_window=timedelta(minutes=30),  # verify code -6: "more than 30 minutes passed"
    reverse_window=timedelta(minutes=50),  # [U] read from an RTL PDF extraction of the manual
    callback_methods=frozenset({"POST", "GET"}),
    redirect_method="POST",
    repeated_verify="success_again",
    supports_inquiry=False,
    verify_by="reference",  # verify takes only a RefNum, which the buyer's return claims
    verify_takes_return_reference=True,
    echoes_order_id=True,  # the return posts ResNum, the reservation number we sent
)

# Token request: status 1 is a token; -1 carries an errorCode. The manual and shetabit's driver
# share one table between token errorCode and the return's Status: (kind, our code, meaning).
TOKEN_STATUS_OK = 1
TOKEN_ERRORS: dict[int, tuple[ErrorKind, str, str]] = {
    5: (ErrorKind.BUSINESS, "invalid_parameters", "the request's parameters (amount...) are invalid"),
    8: (ErrorKind.CONFIG, "merchant_ip_invalid", "the merchant server's IP address is not registered"),
    11: (ErrorKind.CONFIG, "token_only_terminal", "the terminal accepts token payments only"),
    12: (ErrorKind.CONFIG, "terminal_not_found", "the terminal id is unknown"),
}
# [U] Undocumented codes: their errorDesc names what was refused.
_AMOUNT_WORDS = ("مبلغ", "amount")
_CONFIG_WORDS = ("ترمینال", "پذیرنده", "terminal", "آی پی", "ip address", "merchant")

# `Status` on the buyer's return (State is its name).
STATUS_CANCELED_BY_USER = 1
STATUS_OK = 2
STATUS_FAILED = 3
STATUS_SESSION_IS_NULL = 4
STATE_NAMES: dict[str, int] = {
    "CanceledByUser": 1,
    "OK": 2,
    "Failed": 3,
    "SessionIsNull": 4,
    "InvalidParameters": 5,
    "MerchantIpAddressIsInvalid": 8,
    "TokenNotFound": 10,
    "TokenRequired": 11,
    "TerminalNotFound": 12,
}

# Verify / reverse `ResultCode`.
RESULT_OK = 0
RESULT_DUPLICATE = 2
RESULT_REVERSED = 5
RESULT_NOT_FOUND = -2
RESULT_TOO_LATE = -6
RESULT_ERRORS: dict[int, tuple[ErrorKind, str, str]] = {
    -104: (ErrorKind.CONFIG, "terminal_disabled", "the terminal is disabled"),
    -105: (ErrorKind.CONFIG, "terminal_not_found", "the terminal is unknown"),
    -106: (ErrorKind.CONFIG, "ip_not_allowed", "the merchant server's IP address is not allowed"),
}

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_REF_RE = re.compile(r"^[A-Za-z0-9+/=_-]{1,128}$")
_CALLBACK_FIELDS = (
    "MID",
    "State",
    "Status",
    "RRN",
    "RefNum",
    "ResNum",
    "TerminalId",
    "TraceNo",
    "Amount",
    "Wage",
    "SecurePan",
    "HashedCardNumber",
    "Token",
)


class SepAdapter:
    """Saman's SEP protocol over an injected httpx.Client. `config.merchant_id` is the TerminalId."""

    capabilities = CAPABILITIES

    def __init__(self, config: GatewayConfig, client: httpx.Client) -> None:
        self.config = config
        self._client = client

    # -- create -----------------------------------------------------------------------------
    def create(
        self, *, order_id: str, amount_irr: int, callback_url: str, description: str, mobile: str | None
    ) -> CreateResult:
        """Ask for a token. SEP has no description field: `description` is not sent."""
        positive_amount(amount_irr)
        body: dict[str, Any] = {
            "action": "token",
            "TerminalId": self.config.merchant_id,
            "Amount": amount_irr,
            "ResNum": order_id,
            "RedirectUrl": callback_url,
            "TokenExpiryInMin": TOKEN_EXPIRY_MINUTES,
        }
        if mobile:
            body["CellNumber"] = mobile
        data = self._call(TOKEN_PATH, body, "status")
        status = int_or_none(data.get("status"))
        if status != TOKEN_STATUS_OK:
            raise _token_error(data)
        token = text_or_none(data.get("token"))
        if token is None or not _TOKEN_RE.match(token):
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "token answered status 1 without a token")
        return CreateResult(token=token, redirect=self.redirect_for(token))

    def redirect_for(self, token: str) -> Redirect:
        """The buyer's payment page, a POST form built from config.base_url and the token only."""
        self._checked_token(token)
        return Redirect(method="POST", url=f"{self.config.base_url}{PAYMENT_PATH}", fields={"Token": token})

    # -- callback ---------------------------------------------------------------------------
    def parse_callback(self, query: Mapping[str, str], form: Mapping[str, str]) -> CallbackData:
        """Read the buyer's return (POST form, or GET query). GatewayError(BUSINESS) when malformed
        or when it names another terminal."""
        fields = return_fields(query, form, _CALLBACK_FIELDS)
        token = fields.get("Token", "")
        if not _TOKEN_RE.match(token):
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Token missing or malformed")
        terminal = fields.get("TerminalId")
        if not terminal:
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "TerminalId missing")
        if terminal != self.config.merchant_id:
            raise GatewayError(ErrorKind.BUSINESS, "wrong_terminal", "the return names another terminal")
        status = _callback_status(fields.get("Status"), fields.get("State"))
        state = fields.get("State")
        amount: int | None = None
        amount_text = fields.get("Amount")
        if amount_text:
            if not INT_TEXT.match(amount_text):
                raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Amount must be an integer")
            amount = int(amount_text)
        refs: dict[str, str] = {}
        ref_num = fields.get("RefNum")
        if ref_num:
            if not _REF_RE.match(ref_num):
                raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "RefNum is malformed")
            refs["RefNum"] = ref_num
        return CallbackData(
            token=token,
            claimed_success=status == STATUS_OK and state in (None, "", "OK"),
            cancelled=status == STATUS_CANCELED_BY_USER,
            refs=refs,
            order_id=fields.get("ResNum") or None,
            claimed_amount_irr=amount,
        )

    # -- verify -----------------------------------------------------------------------------
    def verify(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        """Verify by the return's RefNum (`refs["RefNum"]`).

        SEP takes no amount: AffectiveAmount is reported for the caller to compare with
        `amount_irr`. `reference` is the RefNum (SEP's digital receipt, the key that must be kept
        unique because SEP confirms it again on every verify); RRN is the Shaparak reference.
        """
        self._checked_token(token)
        ref_num = _ref_num(refs)
        data = self._call(VERIFY_PATH, self._ref_body(ref_num), "ResultCode")
        result = _result(data)
        if result == RESULT_OK:
            if data.get("Success") is not True:
                raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "verify answered 0 without Success")
            return self._paid(VerifyOutcome.VERIFIED, data, ref_num, amount_irr)
        if result == RESULT_DUPLICATE:
            # "Duplicate request" says that *some* transaction was verified before: it is this
            # payment's only when the details name this RefNum, our terminal and our amount.
            if not isinstance(data.get("TransactionDetail"), Mapping):
                raise GatewayError(
                    ErrorKind.BUSINESS, "unconfirmed_duplicate", "verify answered 2 without details"
                )
            return self._paid(VerifyOutcome.ALREADY_VERIFIED, data, ref_num, amount_irr)
        if result == RESULT_NOT_FOUND:
            return VerifyResult(outcome=VerifyOutcome.NOT_PAID)
        if result in (RESULT_TOO_LATE, RESULT_REVERSED):
            # -6: not verified within 30 minutes, so the bank gave the money back; 5: reversed.
            return VerifyResult(outcome=VerifyOutcome.REVERSED, reference=ref_num)
        raise _result_error(result, "verify")

    def inquire(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> VerifyResult:
        raise GatewayError(ErrorKind.CONFIG, "unsupported", "SEP has no inquiry API")

    # -- reverse ----------------------------------------------------------------------------
    def reverse(self, *, token: str, amount_irr: int, refs: Mapping[str, str] | None = None) -> bool:
        """Give a verified payment's money back (up to 50 minutes after it [U]); True on ResultCode 0.

        A payment SEP already reversed (5) is reported True: the money is back either way.
        """
        self._checked_token(token)
        ref_num = _ref_num(refs)
        data = self._call(REVERSE_PATH, self._ref_body(ref_num), "ResultCode")
        result = _result(data)
        if result in (RESULT_OK, RESULT_REVERSED):
            return True
        if result == RESULT_TOO_LATE:
            raise GatewayError(
                ErrorKind.BUSINESS, "reverse_window_over", "reverse: result -6: the reverse window is over"
            )
        if result == RESULT_NOT_FOUND:
            raise GatewayError(ErrorKind.BUSINESS, "not_found", "reverse: result -2: transaction not found")
        raise _result_error(result, "reverse")

    # -- internals --------------------------------------------------------------------------
    def _ref_body(self, ref_num: str) -> dict[str, Any]:
        terminal: Any = self.config.merchant_id
        if INT_TEXT.match(terminal):
            terminal = int(terminal)  # TerminalNumber is a number in the manual's samples
        return {"RefNum": ref_num, "TerminalNumber": terminal}

    def _paid(
        self, outcome: VerifyOutcome, data: Mapping[str, Any], ref_num: str, amount_irr: int
    ) -> VerifyResult:
        """A paid answer, once its details prove it is about this RefNum at our terminal for a token
        asked for `amount_irr` (OrginalAmount). SEP's verify names no ResNum or token, so these
        are all that tie a RefNum to a payment; another RefNum's money is never reported as ours."""
        detail = data.get("TransactionDetail")
        if not isinstance(detail, Mapping):
            detail = {}
        answered_ref = text_or_none(detail.get("RefNum"))
        if answered_ref is not None and answered_ref != ref_num:
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "verify answered another RefNum")
        if outcome is VerifyOutcome.ALREADY_VERIFIED and answered_ref is None:
            raise GatewayError(
                ErrorKind.BUSINESS, "unconfirmed_duplicate", "verify answered 2 without RefNum"
            )
        terminal = text_or_none(detail.get("TerminalNumber"))
        if terminal is not None and not _same_terminal(terminal, self.config.merchant_id):
            raise GatewayError(ErrorKind.BUSINESS, "foreign_reference", "the RefNum is another terminal's")
        asked = int_or_none(detail.get("OrginalAmount"))  # sic: SEP's spelling
        amount = int_or_none(detail.get("AffectiveAmount"))
        if asked is None or amount is None:
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "verify answered without the amounts")
        if asked != amount_irr:
            raise GatewayError(
                ErrorKind.BUSINESS, "foreign_reference", "the RefNum is of a token for another amount"
            )
        return VerifyResult(
            outcome=outcome,
            amount_irr=amount,
            reference=ref_num,
            card_mask=mask_card(text_or_none(detail.get("MaskedPan"))),
            card_hash=card_hash_or_none(detail.get("HashedPan")),
            paid_at=text_or_none(detail.get("StraceDate")),
        )

    def _checked_token(self, token: str) -> str:
        if not isinstance(token, str) or not _TOKEN_RE.match(token):
            raise GatewayError(ErrorKind.BUSINESS, "invalid_token", "token is malformed")
        return token

    def _call(self, path: str, body: Mapping[str, Any], required_key: str) -> dict[str, Any]:
        status, data = post_json(self._client, f"{self.config.base_url}{path}", body,
                                 timeout=self.config.timeout_seconds, label=path)  # fmt: skip
        if status >= 500 or status in (408, 429):
            raise GatewayError(ErrorKind.TRANSIENT, f"http_{status}", f"{path} answered HTTP {status}")
        if not isinstance(data, dict) or required_key not in data:
            if 400 <= status < 500:
                raise GatewayError(ErrorKind.CONFIG, f"http_{status}", f"{path} answered HTTP {status}")
            raise GatewayError(ErrorKind.TRANSIENT, "bad_response", f"{path} answered an unexpected body")
        return data


def _callback_status(status_text: str | None, state: str | None) -> int:
    if status_text:
        if not INT_TEXT.match(status_text):
            raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Status must be an integer")
        return int(status_text)
    if state and state in STATE_NAMES:
        return STATE_NAMES[state]  # older returns carry only State
    raise GatewayError(ErrorKind.BUSINESS, "malformed_callback", "Status missing")


def _same_terminal(answered: str, ours: str) -> bool:
    """TerminalNumber is a number in SEP's answers; our TerminalId is text (it may keep leading zeros)."""
    if INT_TEXT.match(answered) and INT_TEXT.match(ours):
        return int(answered) == int(ours)
    return answered == ours


def _ref_num(refs: Mapping[str, str] | None) -> str:
    ref_num = (refs or {}).get("RefNum")
    if not ref_num:
        raise GatewayError(ErrorKind.BUSINESS, "missing_reference", "SEP verifies by RefNum; none is known")
    if not isinstance(ref_num, str) or not _REF_RE.match(ref_num):
        raise GatewayError(ErrorKind.BUSINESS, "invalid_reference", "RefNum is malformed")
    return ref_num


def _result(data: Mapping[str, Any]) -> int:
    result = int_or_none(data.get("ResultCode"))
    if result is None:
        raise GatewayError(ErrorKind.TRANSIENT, "bad_response", "answer has no integer ResultCode")
    return result


def _result_error(result: int, operation: str) -> GatewayError:
    known = RESULT_ERRORS.get(result)
    if known is not None:
        kind, code, meaning = known
        return GatewayError(kind, code, f"{operation}: result {result}: {meaning}")
    return GatewayError(ErrorKind.TRANSIENT, f"result_{result}", f"{operation}: unexpected result {result}")


def _token_error(data: Mapping[str, Any]) -> GatewayError:
    code = int_or_none(data.get("errorCode"))
    known = TOKEN_ERRORS.get(code) if code is not None else None
    if known is not None:
        kind, our_code, meaning = known
        return GatewayError(kind, our_code, f"token: errorCode {code}: {meaning}")
    # errorDesc is read to classify, never echoed: it may name the terminal.
    desc = (text_or_none(data.get("errorDesc")) or "").lower()
    if any(word in desc for word in _AMOUNT_WORDS):
        return GatewayError(ErrorKind.BUSINESS, "amount_refused", f"token: errorCode {code}: amount refused")
    if any(word in desc for word in _CONFIG_WORDS):
        return GatewayError(
            ErrorKind.CONFIG, "terminal_refused", f"token: errorCode {code}: terminal refused"
        )
    return GatewayError(ErrorKind.TRANSIENT, f"token_error_{code}", f"token: unexpected errorCode {code}")
