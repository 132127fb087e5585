"""Jibit's Transferor API (payouts from a Jibit wallet to IBANs), version 2, amounts in rials:

    POST /v2/tokens/generate  {apiKey, secretKey} -> {accessToken, refreshToken}; wrong keys 401
    POST /v2/transfers        Bearer token; {batchID, submissionMode, transfers: [{transferID,
                              transferMode ACH|NORMAL|RTGS, destination (IBAN), destinationFirstName,
                              destinationLastName, amount, currency, description, cancellable, ...}]}
                              -> {submittedCount, totalAmountTransferred, rejections: [...]}
    GET  /v2/transfers?transferID=..|batchID=..  -> {batchID, transfers: [{transferID, state,
                              failReason, bankTransferID, amount, destination, ...}]}

Errors (4xx, 5xx) answer `{"fingerprint", "errors": [{"code", "message"}]}`. States: IN_PROGRESS
while the bank works, then TRANSFERRED or FAILED (also CANCELLED, MANUALLY_FAILED, ON_HOLD_...).
Confirmed from Jibit's "Transferor REST API Documentation" v2.1 (base URL napi.jibit.ir/trf,
token endpoints, 24 h access tokens, the error envelope, the endpoint list) and from independent
clients (field names, states). [U] not confirmed: the answer to an unknown transferID (here 404
`transfer.not_found`; clients also read an empty `transfers` list), the answer to a repeated
transferID (here 400 `transfer.duplicate`), the rejection entry's fields, and the error codes.

The sandbox accepts one key pair (SANDBOX_API_KEY, SANDBOX_SECRET_KEY). In mode `ok` a transfer is
IN_PROGRESS when taken and TRANSFERRED at its first inquiry (the bank cycle passed). Modes of its
own (beside the core's down, slow, flaky, which apply to every API call):

    transfer_fails        transfers taken in this mode fail at the bank (FAILED, with a failReason)
    bank_error            transfers taken in this mode fail at the bank for a passing reason (FAILED,
                          failReason BANK_ERROR_REASON: a Paya cycle the bank did not run; a new
                          transfer may pass)
    transfer_in_progress  inquiries answer IN_PROGRESS (a Paya cycle not yet run); back to ok ends it
    rejected              submissions are refused whole: submittedCount 0, the transfer in rejections
    answer_lost           the transfer is taken, but the answer comes slow_seconds late (the caller's
                          timeout fires: only an inquiry tells it the transfer exists)
    insufficient_balance  transfers taken in this mode wait ON_HOLD_BALANCES_NOT_ENOUGH (not final)
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from local.sandbox.protocols.base import (
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    Route,
    json_response,
)

SANDBOX_API_KEY = "jibit-sandbox-api-key"
SANDBOX_SECRET_KEY = "jibit-sandbox-secret-key"  # noqa: S105 - the sandbox's published test key
IBAN = re.compile(r"^IR\d{24}$")
FAILED_REASON = "the destination account is closed"  # what transfer_fails reports
BANK_ERROR_REASON = "the bank's transfer cycle failed"  # what bank_error reports
FINAL = ("TRANSFERRED", "FAILED", "CANCELLED", "MANUALLY_FAILED")


def _error(status: int, code: str, message: str) -> Response:
    answer = json_response(
        {"fingerprint": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}, status
    )
    answer.result = code
    return answer


class Sim(GatewaySim):
    name = "jibit"
    merchant = SANDBOX_API_KEY  # `GET /` names the key (with SANDBOX_SECRET_KEY) this instance accepts
    modes = (
        "transfer_fails",
        "bank_error",
        "transfer_in_progress",
        "rejected",
        "answer_lost",
        "insufficient_balance",
    )

    def __init__(self) -> None:
        self._tokens: set[str] = set()
        self._transfers: dict[tuple[str, str], dict[str, Any]] = {}  # (instance, transferID)

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v2/tokens/generate", self.token),
            Route("POST", r"/v2/transfers", self.submit),
            Route("GET", r"/v2/transfers", self.inquire),
        ]

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        raise NotImplementedError("payouts have no buyer return")

    # -- handlers (under the sandbox lock) -----------------------------------------------------
    def token(self, ctx: Ctx) -> Response:
        body = ctx.json if isinstance(ctx.json, dict) else {}
        if body.get("apiKey") != SANDBOX_API_KEY or body.get("secretKey") != SANDBOX_SECRET_KEY:
            return _error(401, "security.auth_failed", "invalid apiKey or secretKey")
        access = f"sbx-{secrets.token_hex(12)}"
        self._tokens.add(access)
        return json_response({"accessToken": access, "refreshToken": f"sbx-r-{secrets.token_hex(12)}"})

    def _authorized(self, ctx: Ctx) -> bool:
        header = next((v for k, v in ctx.headers.items() if k.lower() == "authorization"), "")
        return header.startswith("Bearer ") and header.removeprefix("Bearer ") in self._tokens

    def submit(self, ctx: Ctx) -> Response:
        if not self._authorized(ctx):
            return _error(401, "security.auth_required", "a valid access token is required")
        body = ctx.json if isinstance(ctx.json, dict) else {}
        transfers = body.get("transfers")
        if not body.get("batchID") or not isinstance(transfers, list) or not transfers:
            return _error(400, "batch.invalid", "batchID and at least one transfer are required")
        for item in transfers:
            problem = self._invalid(item)
            if problem:
                return _error(400, problem, "the transfer is not valid")
            if (ctx.instance, item["transferID"]) in self._transfers:
                return _error(400, "transfer.duplicate", "a transfer with this transferID exists")  # [U]
        if ctx.mode == "rejected":
            rejections = [
                {"transferID": t["transferID"], "failReason": "destination rejected"} for t in transfers
            ]
            return json_response(
                {"submittedCount": 0, "totalAmountTransferred": 0, "rejections": rejections},
                result="rejected",
            )
        state = "ON_HOLD_BALANCES_NOT_ENOUGH" if ctx.mode == "insufficient_balance" else "IN_PROGRESS"
        for item in transfers:
            self._transfers[(ctx.instance, item["transferID"])] = {
                **{
                    k: item.get(k)
                    for k in ("transferID", "transferMode", "destination", "amount", "currency")
                },
                "destinationFirstName": item.get("destinationFirstName"),
                "destinationLastName": item.get("destinationLastName"),
                "description": item.get("description"),
                "batchID": body["batchID"],
                "state": state,
                "failReason": None,
                "bankTransferID": None,
                "fails": ctx.mode in ("transfer_fails", "bank_error"),
                "fail_as": BANK_ERROR_REASON if ctx.mode == "bank_error" else FAILED_REASON,
                "createdAt": ctx.core.now().isoformat(),
            }
        answer = json_response(
            {
                "submittedCount": len(transfers),
                "totalAmountTransferred": sum(int(t["amount"]) for t in transfers),
                "rejections": [],
            },
            result="submitted",
        )
        if ctx.mode == "answer_lost":
            answer.delay_seconds = ctx.core.slow_seconds
        return answer

    def inquire(self, ctx: Ctx) -> Response:
        if not self._authorized(ctx):
            return _error(401, "security.auth_required", "a valid access token is required")
        transfer_id, batch_id = ctx.query.get("transferID"), ctx.query.get("batchID")
        if not transfer_id and not batch_id:
            return _error(400, "transfer.selector_required", "transferID or batchID is required")
        found = [
            t
            for (instance, tid), t in self._transfers.items()
            if instance == ctx.instance and (tid == transfer_id or (batch_id and t["batchID"] == batch_id))
        ]
        if not found:
            return _error(404, "transfer.not_found", "no such transfer")  # [U]
        for transfer in found:
            self._advance(ctx, transfer)
        public = [{k: v for k, v in t.items() if k not in ("fails", "fail_as")} for t in found]
        return json_response({"batchID": found[0]["batchID"], "transfers": public}, result=found[0]["state"])

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _invalid(item: Any) -> str | None:
        if not isinstance(item, dict) or not item.get("transferID"):
            return "transfer.transfer_id_required"
        if item.get("transferMode") not in ("ACH", "NORMAL", "RTGS"):
            return "transfer.transfer_mode_invalid"
        if not IBAN.match(str(item.get("destination", ""))):
            return "transfer.destination_invalid"
        amount = item.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return "transfer.amount_invalid"
        return None

    def _advance(self, ctx: Ctx, transfer: dict[str, Any]) -> None:
        """The bank's cycle, at an inquiry: an in-progress transfer ends unless the mode holds it."""
        if transfer["state"] in FINAL or ctx.mode in ("transfer_in_progress", "insufficient_balance"):
            return
        if transfer["fails"]:
            transfer["state"], transfer["failReason"] = "FAILED", transfer["fail_as"]
        else:
            transfer["state"] = "TRANSFERRED"
            transfer["bankTransferID"] = str(100_000_000_000 + secrets.randbelow(900_000_000_000))
