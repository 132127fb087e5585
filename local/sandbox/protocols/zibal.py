"""Zibal's protocol (GATEWAYS.md 1.4), amounts in rials:

    POST /v1/request   {merchant, amount, callbackUrl, description, orderId, mobile?}
                       -> {result: 100, trackId, message}; 102 wrong merchant; 105 amount < 1,000;
                       106 bad callbackUrl
    GET  /start/{trackId}[/direct]   the buyer's page: one POST form, hidden trackId, action=pay|cancel
    POST /start/{trackId}[/direct]   303 to callbackUrl?success=1|0&trackId=..&orderId=..&status=..
    POST /v1/verify    {merchant, trackId}  100 (details), then 201; 202 + status when not paid;
                       203 unknown trackId; 102 wrong merchant
    POST /v1/inquiry   {merchant, trackId}  100 + details, status, createdAt, verifiedAt, wage

Statuses: -1 waiting, 1 verified, 2 paid (unverified), 3 cancelled by the buyer, 5 card declined
(insufficient funds, the decline mode), 18 reversed (the verify window passed: automatic
reversal). Zibal documents no status for an expired token: the sandbox uses -2 ("internal
error") on the return and in verify/inquiry [U]. Zibal has no transient result code and no
"verify in progress" code: flaky answers an HTML 502, verify_in_progress an HTML 503 once.
amount_mismatch: verify and inquiry report the charged amount (Zibal's verify takes none).
Windows: token 15 min, verify 30 min [U: Zibal publishes neither], no reverse API.
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
    Route,
    VerifyDecision,
    html_error,
    json_response,
    tehran_iso,
)

MIN_AMOUNT = 1_000
STATUS_EXPIRED = -2  # [U] no documented status; Zibal's "internal error"
STATUS_WAITING = -1
STATUS_VERIFIED = 1
STATUS_PAID = 2
STATUS_CANCELLED = 3
STATUS_DECLINED = 5  # insufficient funds: a card decline
STATUS_REVERSED = 18

_STATE_STATUS = {
    CREATED: STATUS_WAITING,
    PAID: STATUS_PAID,
    VERIFIED: STATUS_VERIFIED,
    CANCELLED: STATUS_CANCELLED,
    EXPIRED: STATUS_EXPIRED,
    REVERSED: STATUS_REVERSED,
}
_ENTRY = r"/start/(?P<token>[0-9]{1,20})(?:/direct)?"


class Sim(GatewaySim):
    name = "zibal"
    unit = "IRR"
    return_method = "GET"
    token_ttl = timedelta(minutes=15)
    verify_window = timedelta(minutes=30)
    reverse_window = None

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v1/request", self.request),
            Route("POST", r"/v1/verify", self.verify),
            Route("POST", r"/v1/inquiry", self.inquiry),
            Route("GET", _ENTRY, self.start_page, kind="entry"),
            Route("POST", _ENTRY, self.start_submit, kind="entry"),
        ]

    def describe(self, payment: Payment) -> str:
        return f"Zibal protocol · track {payment.token}"

    # -- API ----------------------------------------------------------------------------------
    def request(self, ctx: Ctx) -> Response:
        body = ctx.json
        if not isinstance(body, dict):
            return json_response({"result": -1, "message": "body must be a JSON object"}, 400)
        if body.get("merchant") != ctx.core.merchant:
            return json_response({"result": 102, "message": "merchant not found"})
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < MIN_AMOUNT:
            return json_response({"result": 105, "message": "amount must be at least 1,000 rials"})
        callback_url = body.get("callbackUrl")
        if not isinstance(callback_url, str) or not re.match(r"^https?://\S+$", callback_url):
            return json_response({"result": 106, "message": "callbackUrl is invalid"})
        mobile = body.get("mobile")
        payment = ctx.core.new_payment(
            ctx,
            amount_irr=amount,
            order_id=str(body.get("orderId") or ""),
            callback_url=callback_url,
            description=str(body.get("description") or ""),
            mobile=mobile if isinstance(mobile, str) else None,
        )
        return json_response({"result": 100, "trackId": int(payment.token), "message": "success"})

    def verify(self, ctx: Ctx) -> Response:
        found = self._lookup(ctx)
        if isinstance(found, Response):
            return found
        payment = found
        decision = ctx.core.verify(ctx, payment, amount_irr=None)
        if decision is VerifyDecision.IN_PROGRESS:
            return html_error(503)  # Zibal has no "in progress" code
        if decision is VerifyDecision.VERIFIED:
            return json_response({"result": 100, "message": "success", **self._details(payment)})
        if decision is VerifyDecision.ALREADY_VERIFIED:
            return json_response({"result": 201, "message": "previously verified", **self._details(payment)})
        return json_response(
            {"result": 202, "message": "order not paid or failed", "status": self._status(payment)}
        )

    def inquiry(self, ctx: Ctx) -> Response:
        found = self._lookup(ctx)
        if isinstance(found, Response):
            return found
        return json_response(
            {
                "result": 100,
                "message": "success",
                **self._details(found),
                "createdAt": tehran_iso(found.created_at),
                "verifiedAt": tehran_iso(found.verified_at),
                "wage": 0,
                # Shaparak's fee, which Zibal's inquiry publishes; the sandbox charges none [U value].
                "shaparakFee": 0,
            }
        )

    # -- buyer --------------------------------------------------------------------------------
    def start_page(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        return ctx.core.buyer_page(ctx, payment, action_url=ctx.instance_path(), hidden={"trackId": token})

    def start_submit(self, ctx: Ctx) -> Response:
        token = ctx.match.group("token")
        payment = ctx.core.lookup(ctx, token)
        if payment is None:
            return ctx.core.page_not_found()
        if ctx.form.get("trackId") != token:
            return ctx.core.page(400, "Bad request", "<p>Choose pay or cancel.</p>")
        return ctx.core.buyer_submit(ctx, payment, ctx.form.get("action"))

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        success, status = {
            "paid": ("1", STATUS_PAID),
            "forged": ("1", STATUS_PAID),
            "cancelled": ("0", STATUS_CANCELLED),
            "declined": ("0", STATUS_DECLINED),
            "expired": ("0", STATUS_EXPIRED),
        }[outcome]
        return [
            ("success", success),
            ("trackId", payment.token),
            ("orderId", payment.order_id),
            ("status", str(status)),
        ]

    # -- internals ----------------------------------------------------------------------------
    def _lookup(self, ctx: Ctx) -> Payment | Response:
        body = ctx.json
        if not isinstance(body, dict):
            return json_response({"result": -1, "message": "body must be a JSON object"}, 400)
        if body.get("merchant") != ctx.core.merchant:
            return json_response({"result": 102, "message": "merchant not found"})
        raw = body.get("trackId")
        token = ""
        if isinstance(raw, int) and not isinstance(raw, bool):
            token = str(raw)
        elif isinstance(raw, str) and raw.strip().isdigit():
            token = str(int(raw.strip()))
        payment = ctx.core.lookup(ctx, token) if token else None
        if payment is None:
            return json_response({"result": 203, "message": "trackId is invalid"})
        return payment

    def _status(self, payment: Payment) -> int:
        if payment.state == FAILED:
            return payment.fail_status if payment.fail_status is not None else STATUS_DECLINED
        return _STATE_STATUS[payment.state]

    def _details(self, payment: Payment) -> dict[str, Any]:
        paid = payment.paid_at is not None
        return {
            "paidAt": tehran_iso(payment.paid_at),
            "cardNumber": payment.card_number,
            "status": self._status(payment),
            "amount": payment.paid_amount_irr if paid else payment.amount_irr,
            "refNumber": int(payment.ref_number) if payment.ref_number else None,
            "description": payment.description,
            "orderId": payment.order_id,
        }
