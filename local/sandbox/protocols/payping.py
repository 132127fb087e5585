"""PayPing v3's protocol (GATEWAYS.md 1.1, reference/payping-v3-facts.md), amounts in toman,
`Authorization: Bearer <merchant>`:

    POST /v3/pay           {amount, returnUrl, payerIdentity?, payerName?, description?, clientRefId?,
                           nationalCode?, isReversible?} -> 200 {paymentCode, url, amount, payerWage,
                           businessWage, gatewayAmount, paypingVat}; 101 bad amount (< 100 toman),
                           105 bad returnUrl
    GET  /v3/pay/start/{paymentCode}   the buyer's page: one POST form, hidden paymentCode, action
    POST /v3/pay/start/{paymentCode}   a form auto-posted to returnUrl: status (1 | 0), errorCode,
                           data = JSON {paymentCode, paymentRefId (int64), clientRefId, amount,
                           gatewayAmount, cardNumber, cardHashPan}
    POST /v3/pay/verify    {paymentRefId (int64), paymentCode, amount} -> 200 {amount, cardNumber,
                           cardHashPan, clientRefId, paymentRefId, code, payedDate, payerWage,
                           businessWage, gatewayAmount, paypingVat}; then 409 code 110 (details in
                           metaData.message); 202 "still in progress, call again"
    POST /v3/pay/reverse   {paymentRefId (int64), paymentCode} -> 200 {amount, clientRefId, paymentRefId,
                           code, payerWage, gatewayAmount, reversedDate}
    GET  /v1/report/{paymentCode}  {amount, reqDate, payDate, isPaid, clientRefId, refId, wage,
                           shaparakWage, paypingVat, ipgName, isRefund, refundStatus, PaymentStatus}:
                           PaymentStatus 5 = back from the bank, waiting for the merchant's verify

Errors are RFC 7807 bodies {type, title, status, instance, paypingTraceId, metaData: {code, errors}}
with the x-paypingrequest-id header; a missing or wrong bearer token answers an empty 401.
Verify codes: 121 not paid (buyer still at the gateway, card declined, or voided after the verify
window [U: PayPing documents no code for a voided payment]), 127 cancelled or timed out (token
expired), 137 wrong amount (amount_mismatch mode), HTTP 202 verify in progress (verify_in_progress
mode; an empty body [U]: the facts publish only the status), 155 in progress (flaky on verify), 122 unknown
paymentCode, 133 a paymentRefId that is not the payment's, 101 a paymentRefId no int64 holds (a
string of digits is read as the number [U: the facts publish int64 and say nothing of strings;
ASP.NET's web defaults read one]; our adapter sends an integer).
Report [U beyond the facts]: PaymentStatus values other than 5 are not published; the sandbox
answers 0 before payment, 5 paid and waiting, 6 verified, 7 not paid (cancelled, declined, expired,
voided, reversed). isRefund/refundStatus stay false/0 (a reverse is not a refund).
Reverse: 134 not reversible (created with isReversible false, or reversed already [U]), 135 window
over, 121 not paid. Flaky answers 155 on verify, 156 on reverse and a 500 with code 106 on create.
The return's errorCode uses the payment-time table of PayPing's OpenAPI (1 cancelled by the buyer,
4 insufficient funds); for an expired token 26 "payment code not found" [U].
Windows: token 15 min [U], verify 10 min (the v2 document), reverse 30 min [U].
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from local.sandbox.protocols.base import (
    CREATED,
    PAID,
    VERIFIED,
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    ReverseDecision,
    Route,
    VerifyDecision,
    json_response,
    paying_card,
    sha256_hex,
    tehran_iso,
)

MIN_AMOUNT_TOMAN = 100
MAX_AMOUNT_TOMAN = 50_000_000  # the v2 document's range
RIALS_PER_TOMAN = 10
_CODE = r"(?P<token>[0-9a-f]{32})"
_ENTRY = rf"/v3/pay/start/{_CODE}"
_URL_RE = re.compile(r"^https?://\S+$")

# (HTTP status, metaData.code, message) of each refusal the sandbox answers.
NOT_PAID = (400, 121, "تایید تراکنش نیازمند پرداخت موفق میباشد")
CANCELLED_OR_TIMEOUT = (
    400,
    127,
    "کاربر عملیات پرداخت را لغو کرده یا زمان مجاز انجام تراکنش به اتمام رسیده است",
)
WRONG_AMOUNT = (400, 137, "مبلغ تراکنش اشتباه میباشد")
VERIFY_IN_PROGRESS = (409, 155, "عملیات تایید تراکنش در حال پردازش است. لطفا مجددا تلاش نمایید")
REVERSE_IN_PROGRESS = (409, 156, "عملیات بازگشت وجه تراکنش در حال پردازش است. لطفا مجددا تلاش نمایید")
NOT_FOUND = (400, 122, "داده های ارسالی نامعتبر است. پرداخت یافت نشد")
INVALID_PAYMENT = (409, 133, "اطلاعات پرداخت نامعتبر میباشد")
INVALID_DATA = (400, 101, "داده های ارسالی نامعتبر است")
BAD_RETURN_URL = (400, 105, "آدرس بازگشت پذیرنده معتبر نمیباشد")
NOT_REVERSIBLE = (400, 134, "این تراکنش قابلیت بازگشت وجه ندارد")
REVERSE_WINDOW_OVER = (400, 135, "مهلت انجام عملیات بازگشت وجه به پایان رسیده است")
INTERNAL_ERROR = (500, 106, "خطای داخلی سرویس رخ داده است")
INT64_MAX = 2**63 - 1
PAYPING_VAT = 0  # [U] the sandbox charges no VAT on PayPing's wage; the field is always sent

# The report's PaymentStatus [U except 5, payping-v3-facts.md].
REPORT_STATUS = {CREATED: 0, PAID: 5, VERIFIED: 6}
REPORT_STATUS_CLOSED = 7

_VERIFY_REFUSALS = {
    VerifyDecision.AMOUNT_MISMATCH: WRONG_AMOUNT,
    VerifyDecision.WAITING: NOT_PAID,
    VerifyDecision.FAILED: NOT_PAID,
    VerifyDecision.REVERSED: NOT_PAID,
    VerifyDecision.CANCELLED: CANCELLED_OR_TIMEOUT,
    VerifyDecision.EXPIRED: CANCELLED_OR_TIMEOUT,
}
_RETURN_ERROR_CODE = {"cancelled": "1", "declined": "4", "expired": "26"}


class Sim(GatewaySim):
    name = "payping"
    unit = "IRT"
    return_method = "POST"
    token_ttl = timedelta(minutes=15)
    verify_window = timedelta(minutes=10)
    reverse_window = timedelta(minutes=30)

    def make_token(self, seq: int) -> str:
        # PayPing's paymentCode: 32 lowercase hex characters.
        return hashlib.sha256(f"payping-{seq}".encode()).hexdigest()[:32]

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v3/pay", self.pay),
            Route("POST", r"/v3/pay/verify", self.verify),
            Route("POST", r"/v3/pay/reverse", self.reverse),
            Route("GET", rf"/v1/report/{_CODE}", self.report),
            Route("GET", _ENTRY, self.start_page, kind="entry"),
            Route("POST", _ENTRY, self.start_submit, kind="entry"),
        ]

    def describe(self, payment: Payment) -> str:
        return f"PayPing protocol · paymentCode {payment.token}"

    def transient_failure(self, ctx: Ctx) -> Response:
        if ctx.path == "/v3/pay/verify":
            return _problem(ctx, VERIFY_IN_PROGRESS)
        if ctx.path == "/v3/pay/reverse":
            return _problem(ctx, REVERSE_IN_PROGRESS)
        return _problem(ctx, INTERNAL_ERROR)

    # -- API ----------------------------------------------------------------------------------
    def pay(self, ctx: Ctx) -> Response:
        refused = _unauthorized(ctx)
        if refused is not None:
            return refused
        body = _body(ctx)
        if body is None:
            return _problem(ctx, INVALID_DATA)
        amount = body.get("amount")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or not MIN_AMOUNT_TOMAN <= amount <= MAX_AMOUNT_TOMAN
        ):
            return _problem(ctx, INVALID_DATA, "مبلغ باید بین ۱۰۰ تا ۵۰٬۰۰۰٬۰۰۰ تومان باشد")
        return_url = body.get("returnurl")
        if not isinstance(return_url, str) or not _URL_RE.match(return_url):
            return _problem(ctx, BAD_RETURN_URL)
        payer = body.get("payeridentity")
        payment = ctx.core.new_payment(
            ctx,
            amount_irr=amount * RIALS_PER_TOMAN,
            order_id=str(body.get("clientrefid") or ""),
            callback_url=return_url,
            description=str(body.get("description") or ""),
            mobile=payer if isinstance(payer, str) else None,
            extra={"isReversible": body.get("isreversible") is True},
        )
        host = _header(ctx.headers, "host") or "127.0.0.1"
        return json_response(
            {
                "paymentCode": payment.token,
                "url": f"http://{host}{ctx.instance_path(f'/v3/pay/start/{payment.token}')}",
                "amount": amount,
                "payerWage": 0,
                "businessWage": 0,
                "gatewayAmount": amount,
                "paypingVat": PAYPING_VAT,
            },
            result=200,
        )

    def verify(self, ctx: Ctx) -> Response:
        found = self._payment_for(ctx)
        if isinstance(found, Response):
            return found
        payment, body = found
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int):
            return _problem(ctx, INVALID_DATA)
        decision = ctx.core.verify(ctx, payment, amount_irr=amount * RIALS_PER_TOMAN)
        if decision is VerifyDecision.IN_PROGRESS:
            # "202 or 502: verification still in progress, call again" (payping-v3-facts.md).
            return Response(202, b"", result=202)
        if decision is VerifyDecision.VERIFIED:
            return json_response(self._details(payment), result=200)
        if decision is VerifyDecision.ALREADY_VERIFIED:
            # PayPing puts the payment's details, PascalCase, in metaData.message (amyavari's fixture).
            details = {key[0].upper() + key[1:]: value for key, value in self._details(payment).items()}
            return _problem(ctx, (409, 110, "پرداخت قبلاً انجام شده است"), message=details)
        return _problem(ctx, _VERIFY_REFUSALS[decision])

    def reverse(self, ctx: Ctx) -> Response:
        found = self._payment_for(ctx)
        if isinstance(found, Response):
            return found
        payment, _ = found
        if not payment.extra.get("isReversible"):
            return _problem(ctx, NOT_REVERSIBLE)
        decision = ctx.core.reverse(ctx, payment)
        if decision is ReverseDecision.REVERSED_NOW:
            paid = _toman(payment.paid_amount_irr or payment.amount_irr)
            return json_response(
                {
                    "amount": paid,
                    "clientRefId": payment.order_id or None,
                    "paymentRefId": int(payment.ref_number or 0),
                    "code": payment.token,
                    "payerWage": 0,
                    "gatewayAmount": paid,
                    "reversedDate": tehran_iso(payment.reversed_at),
                },
                result=200,
            )
        refusal = {
            ReverseDecision.ALREADY_REVERSED: NOT_REVERSIBLE,
            ReverseDecision.NOT_PAID: NOT_PAID,
            ReverseDecision.WINDOW_OVER: REVERSE_WINDOW_OVER,
        }[decision]
        return _problem(ctx, refusal)

    def report(self, ctx: Ctx) -> Response:
        """GET /v1/report/{code}: the payment as PayPing shows it, without changing it."""
        refused = _unauthorized(ctx)
        if refused is not None:
            return refused
        payment = ctx.core.lookup(ctx, ctx.match.group("token"))
        if payment is None:
            return _problem(ctx, NOT_FOUND)
        paid = payment.paid_at is not None
        return json_response(
            {
                "amount": _toman(payment.paid_amount_irr or payment.amount_irr),
                "reqDate": payment.created_at.isoformat(),
                "payDate": payment.paid_at.isoformat() if payment.paid_at else None,
                "isPaid": payment.state == VERIFIED,
                "clientRefId": payment.order_id or None,
                "refId": int(payment.ref_number) if paid and payment.ref_number else None,
                "wage": 0,
                "shaparakWage": 0,
                "paypingVat": PAYPING_VAT,
                "ipgName": "sandbox",
                "isRefund": False,
                "refundStatus": 0,
                "PaymentStatus": REPORT_STATUS.get(payment.state, REPORT_STATUS_CLOSED),
            },
            result=200,
        )

    # -- buyer --------------------------------------------------------------------------------
    def start_page(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        return ctx.core.buyer_page(
            ctx, payment, action_url=ctx.instance_path(), hidden={"paymentCode": token}
        )

    def start_submit(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        if ctx.form.get("paymentCode") != token:
            return ctx.core.page(400, "Bad request", "<p>Choose pay or cancel.</p>")
        return ctx.core.buyer_submit(ctx, payment, ctx.form.get("action"))

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        data: dict[str, Any] = {
            "paymentCode": payment.token,
            "clientRefId": payment.order_id,
            "amount": _toman(payment.paid_amount_irr or payment.amount_irr),
        }
        data["gatewayAmount"] = data["amount"]
        if outcome == "paid":
            data["paymentRefId"] = int(payment.ref_number or 0)
            data["cardNumber"] = payment.card_number
            data["cardHashPan"] = _hash_pan(payment.card_pan)
        elif outcome == "forged":
            # Claims success for an unpaid token: a plausible reference PayPing never issued.
            data["paymentRefId"] = int(payment.token[:7], 16) + 100_000_000
            data["cardNumber"] = "603799******0000"
            data["cardHashPan"] = _hash_pan(paying_card("0000"))
        if outcome in ("paid", "forged"):
            return [("status", "1"), ("errorCode", ""), ("data", json.dumps(data))]
        return [("status", "0"), ("errorCode", _RETURN_ERROR_CODE[outcome]), ("data", json.dumps(data))]

    # -- internals ----------------------------------------------------------------------------
    def _payment_for(self, ctx: Ctx) -> Response | tuple[Payment, dict[str, Any]]:
        refused = _unauthorized(ctx)
        if refused is not None:
            return refused
        body = _body(ctx)
        if body is None:
            return _problem(ctx, INVALID_DATA)
        code = body.get("paymentcode")
        payment = ctx.core.lookup(ctx, code) if isinstance(code, str) and code else None
        if payment is None:
            return _problem(ctx, NOT_FOUND)
        ref_id = _int64(body.get("paymentrefid"))
        if ref_id is None:
            return _problem(ctx, INVALID_DATA, "شناسه پرداخت باید عدد صحیح باشد")
        if payment.ref_number is not None and str(ref_id) != payment.ref_number:
            return _problem(ctx, INVALID_PAYMENT)
        return payment, body

    def _details(self, payment: Payment) -> dict[str, Any]:
        paid = _toman(payment.paid_amount_irr or payment.amount_irr)
        return {
            "amount": paid,
            "cardNumber": payment.card_number,
            "cardHashPan": _hash_pan(payment.card_pan),
            "clientRefId": payment.order_id or None,
            "paymentRefId": int(payment.ref_number) if payment.ref_number else None,
            "code": payment.token,
            "payedDate": tehran_iso(payment.paid_at),
            "payerWage": 0,
            "businessWage": 0,
            "gatewayAmount": paid,
            "paypingVat": PAYPING_VAT,
        }


def _int64(value: object) -> int | None:
    """A positive int64 paymentRefId: a JSON integer, or a string of digits [U]; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and 0 < value <= INT64_MAX:
        return value
    return None


def _toman(amount_irr: int) -> int:
    return amount_irr // RIALS_PER_TOMAN


def _hash_pan(card: str | None) -> str:
    """PayPing's cardHashPan: SHA-256 of the paying card's digits, upper-case hex."""
    return sha256_hex(card).upper()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _unauthorized(ctx: Ctx) -> Response | None:
    if _header(ctx.headers, "authorization") == f"Bearer {ctx.core.merchant}":
        return None
    return Response(401, b"", headers={"WWW-Authenticate": "Bearer"}, result=401)


def _body(ctx: Ctx) -> dict[str, Any] | None:
    """The JSON body with lower-cased keys: PayPing (ASP.NET) reads `Amount` and `amount` alike."""
    if not isinstance(ctx.json, dict):
        return None
    return {str(key).lower(): value for key, value in ctx.json.items()}


def _problem(
    ctx: Ctx, refusal: tuple[int, int, str], detail: str | None = None, *, message: Any = None
) -> Response:
    status, code, text = refusal
    meta: dict[str, Any] = {"code": code, "errors": [{"message": detail or text}]}
    if message is not None:
        meta["message"] = message
    answer = json_response(
        {
            "type": "https://datatracker.ietf.org/doc/html/rfc7231",
            "title": "ConflictException" if status == 409 else "ValidationException",
            "status": status,
            "instance": ctx.path,
            "paypingTraceId": f"SANDBOX:{ctx.core.now().strftime('%H%M%S%f')}",
            "metaData": meta,
        },
        status,
        result=code,
    )
    answer.headers["x-paypingrequest-id"] = f"sandbox-{ctx.core.now().strftime('%H%M%S%f')}"
    return answer
