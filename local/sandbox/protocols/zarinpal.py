"""Zarinpal v4's protocol (GATEWAYS.md 1.2), amounts in rials unless `currency: "IRT"`:

    POST /pg/v4/payment/request.json  {merchant_id, amount, currency?, description, callback_url,
                                      metadata{mobile?, email?, order_id?}}
        -> {data: {code: 100, message: "Success", authority, fee_type, fee}, errors: []}
        -9 validation (amount < 1,000 rials, no description, bad callback_url, bad currency),
        -10 wrong merchant_id
    GET  /pg/StartPay/{authority}     the buyer's page: one POST form, hidden Authority, action=pay|cancel
    POST /pg/StartPay/{authority}     303 to callback_url?Authority=..&Status=OK|NOK
    POST /pg/v4/payment/verify.json   {merchant_id, authority, amount}
        -> 100 {code, message: "Verified", card_hash, card_pan, ref_id, fee_type, fee}, then 101;
        -50 amount differs from the paid amount; -51 not paid (cancelled, declined, expired,
        reversed, still in bank); -54 unknown authority; -9 no amount; -10 wrong merchant_id
    POST /pg/v4/payment/inquiry.json  {merchant_id, authority}
        -> {data: {code: 100, message: "Success", status: IN_BANK|PAID|VERIFIED|FAILED|REVERSED}}
    POST /pg/v4/payment/unVerified.json  {merchant_id}
        -> {data: {code: 100, message: "Success", authorities: [{authority, amount, callback_url,
        referer, date}]}}: the last 100 paid, unverified payments, newest first (otherMethods/unVerified)
    POST /pg/v4/payment/reverse.json  {merchant_id, authority}
        -> {data: {code: 100, message: "Reversed"}}; -61 not paid or already reversed;
        -63 more than 30 minutes since payment

A refusal is `{data: [], errors: {code, message, validations}}` with HTTP 422 [U: Zarinpal's
documents show the body, not the HTTP status; clients report 4xx]. flaky answers Zarinpal's
transient -12 ("too many attempts"); Zarinpal has no "verify in progress" code, so
verify_in_progress answers an HTML 503 once. An expired token verifies as -51 and inquires as
FAILED [U: not documented]. amount_mismatch: the buyer is charged more, so our verify amount
gets -50. Windows: token 15 min [U], verify window none (unverified money is kept, not
auto-reversed [U]), reverse 30 min after payment (moreFeatures/reverse).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from local.sandbox.protocols.base import (
    CANCELLED,
    CREATED,
    EXPIRED,
    FAILED,
    PAID,
    REVERSED,
    VERIFIED,
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
    sha256_hex,
    tehran_iso,
)

MIN_AMOUNT_IRR = 1_000
UNVERIFIED_LIMIT = 100  # "the last 100" (otherMethods/unVerified)
ERROR_STATUS = 422  # [U] the HTTP status of a JSON refusal

MESSAGES = {
    -9: "The input params invalid, validation error.",
    -10: "Terminal is not valid, please check merchant_id or ip address.",
    -12: "Too many attempts, please try again later.",
    -50: "Session is not valid, amounts values is not the same.",
    -51: "Session is not valid, session is not active paid try.",
    -54: "Invalid authority.",
    -61: "Session is not in success status.",
    -63: "Maximum time for reverse this session is expired.",
}

_INQUIRY_STATUS = {
    CREATED: "IN_BANK",
    PAID: "PAID",
    VERIFIED: "VERIFIED",
    CANCELLED: "FAILED",
    FAILED: "FAILED",
    EXPIRED: "FAILED",
    REVERSED: "REVERSED",
}
_API = r"/pg/v4/payment"
_ENTRY = r"/pg/StartPay/(?P<token>[A-Za-z0-9]{1,64})"
_CALLBACK_RE = re.compile(r"^https?://\S+$")


def refusal(code: int, validations: list[dict[str, str]] | None = None) -> Response:
    """Zarinpal's error shape: empty data, one error object."""
    errors = {"code": code, "message": MESSAGES.get(code, "error"), "validations": validations or []}
    return json_response({"data": [], "errors": errors}, ERROR_STATUS, result=code)


def success(data: dict[str, Any]) -> Response:
    return json_response({"data": data, "errors": []}, result=data.get("code"))


class Sim(GatewaySim):
    name = "zarinpal"
    unit = "IRR"
    return_method = "GET"
    token_ttl = timedelta(minutes=15)
    verify_window = None
    reverse_window = timedelta(minutes=30)

    def make_token(self, seq: int) -> str:
        return f"A{seq:035d}"  # 36 characters, like A00000000000000000000000000217885159

    def routes(self) -> list[Route]:
        return [
            Route("POST", rf"{_API}/request\.json", self.request),
            Route("POST", rf"{_API}/verify\.json", self.verify),
            Route("POST", rf"{_API}/inquiry\.json", self.inquiry),
            Route("POST", rf"{_API}/reverse\.json", self.reverse),
            Route("POST", rf"{_API}/unVerified\.json", self.unverified),
            Route("GET", _ENTRY, self.start_page, kind="entry"),
            Route("POST", _ENTRY, self.start_submit, kind="entry"),
        ]

    def transient_failure(self, ctx: Ctx) -> Response:
        return refusal(-12)

    def describe(self, payment: Payment) -> str:
        return f"Zarinpal protocol · authority {payment.token}"

    # -- API ----------------------------------------------------------------------------------
    def request(self, ctx: Ctx) -> Response:
        body = ctx.json
        if not isinstance(body, dict):
            return refusal(-9, [{"body": "must be a JSON object"}])
        if body.get("merchant_id") != ctx.core.merchant:
            return refusal(-10)
        currency = body.get("currency", "IRR")
        amount = body.get("amount")
        if currency not in ("IRR", "IRT"):
            return refusal(-9, [{"currency": "The selected currency is invalid."}])
        if isinstance(amount, bool) or not isinstance(amount, int):
            return refusal(-9, [{"amount": "The amount must be an integer."}])
        amount_irr = amount * 10 if currency == "IRT" else amount
        if amount_irr < MIN_AMOUNT_IRR:
            return refusal(-9, [{"amount": "The amount must be at least 1000."}])
        description = body.get("description")
        if not isinstance(description, str) or not description.strip() or len(description) > 500:
            return refusal(-9, [{"description": "The description field is required."}])
        callback_url = body.get("callback_url")
        if not isinstance(callback_url, str) or not _CALLBACK_RE.match(callback_url):
            return refusal(-9, [{"callback_url": "The callback url format is invalid."}])
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            return refusal(-9, [{"metadata": "The metadata must be an object."}])
        mobile = metadata.get("mobile")
        payment = ctx.core.new_payment(
            ctx,
            amount_irr=amount_irr,
            order_id=str(metadata.get("order_id") or ""),
            callback_url=callback_url,
            description=description,
            mobile=mobile if isinstance(mobile, str) else None,
            extra={"currency": currency},
        )
        return success(
            {
                "code": 100,
                "message": "Success",
                "authority": payment.token,
                "fee_type": "Merchant",
                "fee": 0,
            }
        )

    def verify(self, ctx: Ctx) -> Response:
        found = self._lookup(ctx)
        if isinstance(found, Response):
            return found
        payment = found
        amount = ctx.json.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int):
            return refusal(-9, [{"amount": "The amount field is required."}])
        amount_irr = amount * 10 if payment.extra.get("currency") == "IRT" else amount
        decision = ctx.core.verify(ctx, payment, amount_irr=amount_irr)
        if decision is VerifyDecision.IN_PROGRESS:
            return html_error(503)  # Zarinpal has no "in progress" code
        if decision is VerifyDecision.VERIFIED:
            return success({"code": 100, "message": "Verified", **self._details(payment)})
        if decision is VerifyDecision.ALREADY_VERIFIED:
            return success({"code": 101, "message": "Verified", **self._details(payment)})
        if decision is VerifyDecision.AMOUNT_MISMATCH:
            return refusal(-50)
        return refusal(-51)  # WAITING, CANCELLED, FAILED, EXPIRED, REVERSED

    def inquiry(self, ctx: Ctx) -> Response:
        found = self._lookup(ctx)
        if isinstance(found, Response):
            return found
        return success({"code": 100, "message": "Success", "status": _INQUIRY_STATUS[found.state]})

    def unverified(self, ctx: Ctx) -> Response:
        """Paid, not verified: what a merchant whose buyer never came back may still verify."""
        body = ctx.json
        if not isinstance(body, dict):
            return refusal(-9, [{"body": "must be a JSON object"}])
        if body.get("merchant_id") != ctx.core.merchant:
            return refusal(-10)
        seen: set[str] = set()
        waiting: list[Payment] = []
        while True:  # `find` answers one payment at a time (after the clock rules); collect them all
            found = ctx.core.find(ctx, lambda p: p.state == PAID and p.token not in seen)
            if found is None:
                break
            seen.add(found.token)
            if found.state == PAID:
                waiting.append(found)
        waiting.sort(key=lambda p: p.paid_at or p.created_at, reverse=True)
        authorities = [
            {
                "authority": p.token,
                "amount": p.amount_irr // 10 if p.extra.get("currency") == "IRT" else p.amount_irr,
                "callback_url": p.callback_url,
                "referer": "",
                # Tehran time as the document shows it: 2020-06-27 10:22:02 [U: the zone is not stated]
                "date": (tehran_iso(p.paid_at or p.created_at) or "")[:19].replace("T", " "),
            }
            for p in waiting[:UNVERIFIED_LIMIT]
        ]
        return success({"code": 100, "message": "Success", "authorities": authorities})

    def reverse(self, ctx: Ctx) -> Response:
        found = self._lookup(ctx)
        if isinstance(found, Response):
            return found
        decision = ctx.core.reverse(ctx, found)
        if decision is ReverseDecision.REVERSED_NOW:
            return success({"code": 100, "message": "Reversed"})
        if decision is ReverseDecision.WINDOW_OVER:
            return refusal(-63)
        return refusal(-61)  # not paid, or already reversed

    # -- buyer --------------------------------------------------------------------------------
    def start_page(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        return ctx.core.buyer_page(ctx, payment, action_url=ctx.instance_path(), hidden={"Authority": token})

    def start_submit(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        if ctx.form.get("Authority") != token:
            return ctx.core.page(400, "Bad request", "<p>Choose pay or cancel.</p>")
        return ctx.core.buyer_submit(ctx, payment, ctx.form.get("action"))

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        status = "OK" if outcome in ("paid", "forged") else "NOK"
        return [("Authority", payment.token), ("Status", status)]

    # -- internals ----------------------------------------------------------------------------
    def _lookup(self, ctx: Ctx) -> Payment | Response:
        body = ctx.json
        if not isinstance(body, dict):
            return refusal(-9, [{"body": "must be a JSON object"}])
        if body.get("merchant_id") != ctx.core.merchant:
            return refusal(-10)
        authority = body.get("authority")
        payment = ctx.core.lookup(ctx, authority) if isinstance(authority, str) and authority else None
        if payment is None:
            return refusal(-54)
        return payment

    def _details(self, payment: Payment) -> dict[str, Any]:
        return {
            # SHA-256 of the paying card, upper-case hex (as Zarinpal's answers show it)
            "card_hash": sha256_hex(payment.card_pan).upper(),
            "card_pan": payment.card_number,
            "ref_id": int(payment.ref_number) if payment.ref_number else None,
            "fee_type": "Merchant",
            "fee": 0,
        }
