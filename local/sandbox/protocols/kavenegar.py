"""Kavenegar's SMS REST API, as its official clients speak it (protocol id `kavenegar`):

    POST /v1/{API_KEY}/sms/send.json        form: receptor (comma-separated), message, sender?
    POST /v1/{API_KEY}/verify/lookup.json   form: receptor, template, token, token2?, token3?, type?
    POST /v1/{API_KEY}/sms/status.json      form: messageid (comma-separated)
    -> {"return": {"status": 200, "message": "..."}, "entries": [{messageid, message, status,
        statustext, sender, receptor, date, cost}]}

Success is `return.status == 200`; a failure carries its code in `return.status` and the same code
as the HTTP status, with `entries: null`. GET works as POST (the API takes query parameters too).
Confirmed (kavenegar/kavenegar-python): the paths, the form encoding, the envelope, the methods'
parameters; the codes (400 missing parameters, 401 account disabled, 403 wrong API key, 411 bad
receptor, 413 empty message, 418 no credit, 424 unknown template) from Kavenegar's published table
as several independent clients copy it alike. [U] not confirmed: that the HTTP status repeats
`return.status` (clients read the body either way, and so does ours).

Every call is recorded by the core with its form body, so a test reads a one-time code from
`GET /{instance}/calls` (the verify/lookup call's `body.token`) and a text from `body.message`.
The instance accepts one API key, SANDBOX_API_KEY (`merchant` in `GET /`). Messages are delivered
(status 10) when asked about. Modes of its own (beside ok, down, slow, flaky):

    no_credit   every send answers 418 (the account's credit is spent)
    blocked     sends are taken, but their delivery status is 14 (blocked by the recipient)
"""

from __future__ import annotations

import re
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

SANDBOX_API_KEY = "kavenegar-sandbox-api-key"
SENDER = "10004346"  # the sandbox's line number (a sender when none is given)
COST_RIALS = 1_200
RECEPTOR = re.compile(r"^(?:\+98|0098|98|0)?9[0-9]{9}$")
STATUS_TEXT = {
    1: "در صف ارسال",
    10: "رسیده به گیرنده",
    14: "بلاک شده توسط گیرنده",
    100: "شناسه پیامک نامعتبر است",
}
ERRORS = {
    400: "پارامترها ناقص هستند",
    403: "کد شناسائی API-Key معتبر نمی‌باشد",
    411: "دریافت کننده نامعتبر است",
    413: "پیام خالی است",
    418: "اعتبار حساب شما کافی نیست",
    424: "الگوی مورد نظر پیدا نشد",
}


def _fail(status: int) -> Response:
    answer = json_response({"return": {"status": status, "message": ERRORS[status]}, "entries": None}, status)
    answer.result = status
    return answer


def _ok(entries: list[dict[str, Any]]) -> Response:
    answer = json_response({"return": {"status": 200, "message": "تایید شد"}, "entries": entries})
    answer.result = 200
    return answer


class Sim(GatewaySim):
    name = "kavenegar"
    modes = ("no_credit", "blocked")
    merchant = SANDBOX_API_KEY

    def __init__(self) -> None:
        self._messages: dict[tuple[str, int], dict[str, Any]] = {}  # (instance, messageid)
        self._next_id = 8_000_000

    def routes(self) -> list[Route]:
        routes = []
        for method in ("POST", "GET"):
            routes += [
                Route(method, r"/v1/(?P<key>[^/]+)/sms/send\.json", self.send),
                Route(method, r"/v1/(?P<key>[^/]+)/verify/lookup\.json", self.lookup),
                Route(method, r"/v1/(?P<key>[^/]+)/sms/status\.json", self.status),
            ]
        return routes

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        raise NotImplementedError("an SMS API has no buyer return")

    # -- handlers (under the sandbox lock) -----------------------------------------------------
    @staticmethod
    def _params(ctx: Ctx) -> dict[str, str]:
        return {**ctx.query, **ctx.form}

    def send(self, ctx: Ctx) -> Response:
        params = self._params(ctx)
        refused = self._refused(ctx, params)
        if refused is not None:
            return refused
        if not params.get("message", "").strip():
            return _fail(413)
        return self._take(ctx, params, params["message"])

    def lookup(self, ctx: Ctx) -> Response:
        params = self._params(ctx)
        refused = self._refused(ctx, params)
        if refused is not None:
            return refused
        if not params.get("template") or not params.get("token"):
            return _fail(400)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", params["template"]):
            return _fail(424)
        tokens = [params[k] for k in ("token", "token2", "token3") if params.get(k)]
        return self._take(ctx, params, f"{params['template']}: " + " ".join(tokens))

    def status(self, ctx: Ctx) -> Response:
        params = self._params(ctx)
        if ctx.match.group("key") != SANDBOX_API_KEY:
            return _fail(403)
        ids = [i.strip() for i in params.get("messageid", "").split(",") if i.strip()]
        if not ids:
            return _fail(400)
        entries = []
        for text in ids:
            found = self._messages.get((ctx.instance, int(text))) if text.isdigit() else None
            if found is None:
                entries.append({"messageid": int(text) if text.isdigit() else text, "status": 100,
                                "statustext": STATUS_TEXT[100]})  # fmt: skip
                continue
            found["status"] = 14 if found["blocked"] else 10
            entries.append({"messageid": found["messageid"], "status": found["status"],
                            "statustext": STATUS_TEXT[found["status"]]})  # fmt: skip
        return _ok(entries)

    # -- internals -----------------------------------------------------------------------------
    def _refused(self, ctx: Ctx, params: dict[str, str]) -> Response | None:
        if ctx.match.group("key") != SANDBOX_API_KEY:
            return _fail(403)
        receptors = [r.strip() for r in params.get("receptor", "").split(",") if r.strip()]
        if not receptors:
            return _fail(400)
        if not all(RECEPTOR.match(r) for r in receptors):
            return _fail(411)
        if ctx.mode == "no_credit":
            return _fail(418)
        return None

    def _take(self, ctx: Ctx, params: dict[str, str], text: str) -> Response:
        entries = []
        for receptor in (r.strip() for r in params["receptor"].split(",") if r.strip()):
            self._next_id += 1
            entry = {
                "messageid": self._next_id,
                "message": text,
                "status": 1,
                "statustext": STATUS_TEXT[1],
                "sender": params.get("sender") or SENDER,
                "receptor": receptor,
                "date": int(ctx.core.now().timestamp()),
                "cost": COST_RIALS,
            }
            self._messages[(ctx.instance, self._next_id)] = {**entry, "blocked": ctx.mode == "blocked"}
            entries.append(entry)
        return _ok(entries)
