"""Saman bank's SEP protocol (GATEWAYS.md 1.5, Saman manual v3.3), amounts in rials:

    POST /onlinepg/onlinepg   {action: "token", TerminalId, Amount, ResNum, RedirectUrl, CellNumber?,
                              TokenExpiryInMin?} -> {status: 1, token}; {status: -1, errorCode,
                              errorDesc}: 12 unknown TerminalId, 5 bad parameters (amount < 1,000,
                              RedirectUrl, TokenExpiryInMin outside 20..3600, action)
    POST /OnlinePG/OnlinePG   the buyer's entry: an auto-posted form {Token}; renders the buyer page,
                              whose form posts {Token, action=pay|cancel} back to the same path
    GET  /OnlinePG/SendToken?token=..   the manual's GET entry to the same page
    return                    a POST form to RedirectUrl: MID, State, Status, RRN, RefNum, ResNum,
                              TerminalId, TraceNo, Amount, Wage, SecurePan, HashedCardNumber, Token
    POST /verifyTxnRandomSessionkey/ipg/VerifyTransaction  {RefNum, TerminalNumber}
                              -> {TransactionDetail, ResultCode, ResultDescription, Success}
    POST /verifyTxnRandomSessionkey/ipg/ReverseTransaction {RefNum, TerminalNumber}

Return Status/State: 2 OK (paid, and forged_return), 1 CanceledByUser, 3 Failed (decline),
4 SessionIsNull (token expired). RefNum exists only for a paid return; verify looks a payment up
by it. Verify ResultCode: 0 with the details, and 0 *again* for a re-submitted RefNum (SEP does
nothing against double spending); -2 unknown RefNum; -6 the 30-minute verify window passed (the
bank reversed it); 5 reversed by a reverse call; -105 unknown TerminalNumber [U: the manual lists
-104..-106 for terminal/IP without saying which]. SEP has no "in progress" code: verify_in_progress
answers an HTML 503 once; flaky answers HTML 502. amount_mismatch: AffectiveAmount (charged)
differs from OrginalAmount (requested); SEP's verify takes no amount and still answers 0.
Reverse: 0 done; 5 already reversed; -2 not paid; -6 past the 50-minute window [U: read from an
RTL PDF; the code for a late reverse is not published].

GetMethod: a buyer sent with `GetMethod=true` (in the entry form, or the SendToken query) is sent
back with a GET of the same fields as a query; otherwise the return is a POST form.

Not simulated: Wage splits, per-token TokenExpiryInMin (the core's token_ttl is the default 20 min),
the merchant-IP check (8 / -106).
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from local.sandbox.protocols.base import (
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    ReverseDecision,
    Route,
    VerifyDecision,
    html_error,
    json_response,
    paying_card,
    sha256_hex,
)

MIN_AMOUNT = 1_000
ENTRY_PATH = "/OnlinePG/OnlinePG"
_TEHRAN = timezone(timedelta(hours=3, minutes=30))
_URL_RE = re.compile(r"^https?://\S+$")

STATUS_CANCELED_BY_USER = 1
STATUS_OK = 2
STATUS_FAILED = 3
STATUS_SESSION_IS_NULL = 4
_RETURN_STATUS: dict[str, tuple[int, str]] = {
    "paid": (STATUS_OK, "OK"),
    "forged": (STATUS_OK, "OK"),
    "cancelled": (STATUS_CANCELED_BY_USER, "CanceledByUser"),
    "declined": (STATUS_FAILED, "Failed"),
    "expired": (STATUS_SESSION_IS_NULL, "SessionIsNull"),
}

TOKEN_INVALID_PARAMETERS = 5
TOKEN_TERMINAL_NOT_FOUND = 12

RESULT_OK = 0
RESULT_REVERSED = 5
RESULT_NOT_FOUND = -2
RESULT_TOO_LATE = -6
RESULT_TERMINAL_NOT_FOUND = -105
_DESCRIPTIONS = {
    RESULT_OK: "عملیات با موفقیت انجام شد",
    RESULT_REVERSED: "تراکنش برگشت خورده است",
    RESULT_NOT_FOUND: "تراکنش یافت نشد",
    RESULT_TOO_LATE: "بیش از نیم ساعت از زمان اجرای تراکنش گذشته است",
    RESULT_TERMINAL_NOT_FOUND: "ترمینال ارسالی در سیستم موجود نمی باشد",
}


class Sim(GatewaySim):
    name = "sep"
    unit = "IRR"
    return_method = "POST"
    token_ttl = timedelta(minutes=20)  # TokenExpiryInMin default
    verify_window = timedelta(minutes=30)  # -6 afterwards: the bank reverses
    reverse_window = timedelta(minutes=50)  # [U]

    def make_token(self, seq: int) -> str:
        return f"{seq:010x}{secrets.token_hex(11)}"  # 32 hex characters, like SEP's tokens

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/onlinepg/onlinepg", self.token),
            Route("POST", r"/verifyTxnRandomSessionkey/ipg/VerifyTransaction", self.verify),
            Route("POST", r"/verifyTxnRandomSessionkey/ipg/ReverseTransaction", self.reverse),
            Route("POST", r"/OnlinePG/OnlinePG", self.entry, kind="entry"),
            Route("GET", r"/OnlinePG/SendToken", self.send_token, kind="entry"),
        ]

    def describe(self, payment: Payment) -> str:
        return f"Saman (SEP) protocol · token {payment.token}"

    # -- API ----------------------------------------------------------------------------------
    def token(self, ctx: Ctx) -> Response:
        body = ctx.json
        if not isinstance(body, dict):
            return _token_error(TOKEN_INVALID_PARAMETERS, "پارامترهای ارسالی نامعتبر است")
        action = body.get("action", body.get("Action"))
        if not isinstance(action, str) or action.lower() != "token":
            return _token_error(TOKEN_INVALID_PARAMETERS, "پارامترهای ارسالی نامعتبر است")
        if str(body.get("TerminalId")) != ctx.core.merchant:
            return _token_error(TOKEN_TERMINAL_NOT_FOUND, "شماره ترمینال ارسال شده یافت نشد")
        amount = body.get("Amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < MIN_AMOUNT:
            return _token_error(TOKEN_INVALID_PARAMETERS, "مبلغ تراکنش نامعتبر است")
        redirect = body.get("RedirectUrl", body.get("RedirectURL"))
        if not isinstance(redirect, str) or not _URL_RE.match(redirect):
            return _token_error(TOKEN_INVALID_PARAMETERS, "آدرس بازگشت نامعتبر است")
        expiry = body.get("TokenExpiryInMin", 20)
        if isinstance(expiry, bool) or not isinstance(expiry, int) or not 20 <= expiry <= 3600:
            return _token_error(TOKEN_INVALID_PARAMETERS, "پارامترهای ارسالی نامعتبر است")
        mobile = body.get("CellNumber")
        payment = ctx.core.new_payment(
            ctx,
            amount_irr=amount,
            order_id=str(body.get("ResNum") or ""),
            callback_url=redirect,
            mobile=mobile if isinstance(mobile, str) and mobile else None,
            extra={"TerminalId": ctx.core.merchant},
        )
        return json_response({"status": 1, "token": payment.token}, result=1)

    def verify(self, ctx: Ctx) -> Response:
        found = self._by_ref_num(ctx)
        if isinstance(found, Response):
            return found
        payment = found
        decision = ctx.core.verify(ctx, payment, amount_irr=None)
        if decision is VerifyDecision.IN_PROGRESS:
            return html_error(503)  # SEP has no "in progress" code
        if decision in (VerifyDecision.VERIFIED, VerifyDecision.ALREADY_VERIFIED):
            return _result(RESULT_OK, self._detail(payment))  # a re-submitted RefNum: 0 again
        if decision is VerifyDecision.REVERSED:
            by_call = payment.extra.get("reversed_by_call", False)
            return _result(RESULT_REVERSED if by_call else RESULT_TOO_LATE)
        return _result(RESULT_NOT_FOUND)

    def reverse(self, ctx: Ctx) -> Response:
        found = self._by_ref_num(ctx)
        if isinstance(found, Response):
            return found
        payment = found
        decision = ctx.core.reverse(ctx, payment)
        if decision is ReverseDecision.REVERSED_NOW:
            payment.extra["reversed_by_call"] = True
            return _result(RESULT_OK, self._detail(payment))
        if decision is ReverseDecision.ALREADY_REVERSED:
            return _result(RESULT_REVERSED)
        if decision is ReverseDecision.WINDOW_OVER:
            return _result(RESULT_TOO_LATE)
        return _result(RESULT_NOT_FOUND)

    # -- buyer --------------------------------------------------------------------------------
    def entry(self, ctx: Ctx) -> Response:
        token = ctx.form.get("Token", "")
        payment = ctx.core.lookup(ctx, token) if token else None
        if payment is None:
            return ctx.core.page_not_found()
        if "action" in ctx.form:
            return ctx.core.buyer_submit(ctx, payment, ctx.form.get("action"))
        _remember_get_method(payment, ctx.form.get("GetMethod"))
        return ctx.core.buyer_page(ctx, payment, action_url=ctx.instance_path(), hidden={"Token": token})

    def send_token(self, ctx: Ctx) -> Response:
        token = ctx.query.get("token", "")
        payment = ctx.core.lookup(ctx, token) if token else None
        if payment is None:
            return ctx.core.page_not_found()
        _remember_get_method(payment, ctx.query.get("GetMethod"))
        return ctx.core.buyer_page(
            ctx, payment, action_url=ctx.instance_path(ENTRY_PATH), hidden={"Token": token}
        )

    def return_method_for(self, payment: Payment) -> Literal["GET", "POST"]:
        return "GET" if payment.extra.get("GetMethod") else "POST"

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        status, state = _RETURN_STATUS[outcome]
        rrn = ref_num = trace = pan = hashed = ""
        if outcome == "paid":
            ref_num = payment.extra.setdefault("RefNum", _new_ref_num())
            trace = payment.extra.setdefault("TraceNo", f"{secrets.randbelow(1_000_000):06d}")
            rrn = payment.ref_number or ""
            pan = payment.card_number or ""
            hashed = _hash_pan(payment.card_pan)
        elif outcome == "forged":
            # Claims success with plausible references that no payment owns.
            ref_num, trace = _new_ref_num(), f"{secrets.randbelow(1_000_000):06d}"
            rrn = str(100_000_000 + secrets.randbelow(900_000_000))
            pan = f"603799******{secrets.randbelow(10_000):04d}"
            hashed = _hash_pan(paying_card(pan[-4:]))
        return [
            ("MID", "0"),
            ("State", state),
            ("Status", str(status)),
            ("RRN", rrn),
            ("RefNum", ref_num),
            ("ResNum", payment.order_id),
            ("TerminalId", str(payment.extra.get("TerminalId", ""))),
            ("TraceNo", trace),
            ("Amount", str(payment.amount_irr)),
            ("Wage", "0"),
            ("SecurePan", pan),
            ("HashedCardNumber", hashed),
            ("Token", payment.token),
        ]

    # -- internals ----------------------------------------------------------------------------
    def _by_ref_num(self, ctx: Ctx) -> Payment | Response:
        body = ctx.json
        if not isinstance(body, dict):
            return _result(RESULT_NOT_FOUND)
        if str(body.get("TerminalNumber")) != ctx.core.merchant:
            return _result(RESULT_TERMINAL_NOT_FOUND)
        ref_num = body.get("RefNum")
        if not isinstance(ref_num, str) or not ref_num:
            return _result(RESULT_NOT_FOUND)
        payment = ctx.core.find(ctx, lambda p: p.extra.get("RefNum") == ref_num)
        if payment is None:
            return _result(RESULT_NOT_FOUND)
        return payment

    def _detail(self, payment: Payment) -> dict[str, Any]:
        pan = payment.card_number or ""
        return {
            "RRN": payment.ref_number,
            "RefNum": payment.extra.get("RefNum"),
            "MaskedPan": pan,
            "HashedPan": _hash_pan(payment.card_pan),
            "TerminalNumber": _terminal_number(str(payment.extra.get("TerminalId", ""))),
            "OrginalAmount": payment.amount_irr,
            "AffectiveAmount": payment.paid_amount_irr,
            "StraceDate": _strace_date(payment.paid_at),
            "StraceNo": payment.extra.get("TraceNo"),
        }


def _remember_get_method(payment: Payment, value: str | None) -> None:
    """The merchant's `GetMethod=true` on the buyer's entry asks for a GET return."""
    if value is not None and value.strip().lower() == "true":
        payment.extra["GetMethod"] = True


def _token_error(code: int, description: str) -> Response:
    return json_response({"status": -1, "errorCode": code, "errorDesc": description}, result=code)


def _result(code: int, detail: dict[str, Any] | None = None) -> Response:
    payload = {
        "TransactionDetail": detail,
        "ResultCode": code,
        "ResultDescription": _DESCRIPTIONS.get(code, ""),
        "Success": code == RESULT_OK,
    }
    return json_response(payload, result=code)


def _new_ref_num() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()  # 40 base64 characters


def _hash_pan(pan: str | None) -> str:
    """SEP's hash of the paying card: SHA-256 of its digits in hex ("" without a card)."""
    return sha256_hex(pan)


def _terminal_number(terminal: str) -> int | str:
    return int(terminal) if terminal.isdigit() else terminal


def _strace_date(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(_TEHRAN).strftime("%Y-%m-%d %H:%M:%S")
