"""Zibal's facility (bank inquiry) API (protocol id `zibal-inquiry`, DESIGN section 7):

    POST /v1/facility/shahkarInquiry             {mobile, nationalCode}          -> data.matched
    POST /v1/facility/checkIbanWithNationalCode  {nationalCode, birthDate, IBAN} -> data.matched
    POST /v1/facility/ibanInquiry                {IBAN}        -> data {IBAN, bankName, owners:
                                                                  [{firstName, lastName}], status}
    POST /v1/facility/cardToIban                 {cardNumber}  -> data {IBAN, name, bankName}
    POST /v1/facility/nationalIdentityInquiry    {nationalCode, birthDate} -> data {matched, ...}

Every call: `Authorization: Bearer <token>`, JSON; answer `{"result": 1, "message": "...",
"data": {...}}` with HTTP 200, `result` 1 = success. Confirmed from public clients of the API
(paths under https://api.zibal.ir/v1/facility, the Bearer token, the result envelope, result 1;
Zibal's own result table: 2/3 invalid/wrong token, 4 permission denied, 6 invalid data, 21 invalid
IBAN). [U] not confirmed: the `data` field names beyond `matched`, `IBAN`, `name`, `bankName`
(here `owners` with `firstName`/`lastName`, `status` ACTIVE), and that refusals keep HTTP 200.

The instance accepts one token, SANDBOX_TOKEN (`merchant` in `GET /`). It answers "match" in
mode ok; `cardToIban` answers a deterministic IBAN (valid mod-97) for a card, from its number, so a
test can set up a matching card. Modes of its own (beside ok, down, slow, flaky):

    shahkar_mismatch  shahkarInquiry answers matched false
    iban_mismatch     checkIbanWithNationalCode answers matched false; ibanInquiry another owner
    card_mismatch     cardToIban answers another person's account (that IBAN never matches a code)
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

SANDBOX_TOKEN = "zibal-inquiry-sandbox-token"  # noqa: S105 - the sandbox's published test token
OWNER_FIRST, OWNER_LAST = "کاربر", "آزمایشی"
OTHER_FIRST, OTHER_LAST = "شخص", "دیگر"
BANKS = {"603799": ("017", "بانک ملی ایران"), "589210": ("015", "بانک سپه"),
         "627353": ("018", "بانک تجارت"), "610433": ("012", "بانک ملت"),
         "603769": ("019", "بانک صادرات ایران"), "621986": ("056", "بانک سامان")}  # fmt: skip
DEFAULT_BANK = ("062", "بانک آینده")
BANK_BY_CODE = {code: name for code, name in [*BANKS.values(), DEFAULT_BANK]}
MOBILE = re.compile(r"^09[0-9]{9}$")
CODE = re.compile(r"^[0-9]{10}$")
IBAN = re.compile(r"^IR[0-9]{24}$")
CARD = re.compile(r"^[0-9]{16}$")


def iban_for(bank_code: str, account: str) -> str:
    """IR + ISO 13616 check digits + bank code (3) + 0 + account (18 digits, zero-padded): 26 long."""
    bban = f"{bank_code}0{account[-18:].zfill(18)}"
    check = 98 - int(bban + "182700") % 97
    return f"IR{check:02d}{bban}"


def card_iban(card: str, *, other: bool = False) -> str:
    """The sandbox's IBAN of a card: its bank's code and its own digits (another person's: 9s)."""
    code, _ = BANKS.get(card[:6], DEFAULT_BANK)
    return iban_for(code, ("9999" if other else "0000") + card[2:])


def iban_valid(iban: str) -> bool:
    return bool(IBAN.match(iban)) and int(iban[4:] + "1827" + iban[2:4]) % 97 == 1


def _answer(result: int, message: str, data: dict[str, Any] | None = None) -> Response:
    payload: dict[str, Any] = {"result": result, "message": message}
    if data is not None:
        payload["data"] = data
    answer = json_response(payload)
    answer.result = result
    return answer


class Sim(GatewaySim):
    name = "zibal-inquiry"
    modes = ("shahkar_mismatch", "iban_mismatch", "card_mismatch")
    merchant = SANDBOX_TOKEN

    def __init__(self) -> None:
        self._foreign: set[str] = set()  # IBANs cardToIban gave as another person's (card_mismatch)

    def routes(self) -> list[Route]:
        return [Route("POST", r"/v1/facility/(?P<method>[A-Za-z]+)", self.facility)]

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        raise NotImplementedError("an inquiry API has no buyer return")

    def facility(self, ctx: Ctx) -> Response:
        header = next((v for k, v in ctx.headers.items() if k.lower() == "authorization"), "")
        if header != f"Bearer {SANDBOX_TOKEN}":
            return _answer(3, "wrong api key")  # [U] Zibal's 3 = WRONG_API_KEY
        body = ctx.json if isinstance(ctx.json, dict) else {}
        handler = {
            "shahkarInquiry": self._shahkar,
            "checkIbanWithNationalCode": self._iban_with_code,
            "ibanInquiry": self._iban,
            "cardToIban": self._card,
            "nationalIdentityInquiry": self._identity,
        }.get(ctx.match.group("method"))
        if handler is None:
            return _answer(4, "permission denied")  # a method this token may not call
        return handler(ctx, {k: str(v) for k, v in body.items() if isinstance(v, str | int)})

    def _shahkar(self, ctx: Ctx, body: dict[str, str]) -> Response:
        if not MOBILE.match(body.get("mobile", "")) or not CODE.match(body.get("nationalCode", "")):
            return _answer(6, "invalid data")
        return _answer(1, "success", {"matched": ctx.mode != "shahkar_mismatch"})

    def _iban_with_code(self, ctx: Ctx, body: dict[str, str]) -> Response:
        iban = body.get("IBAN", "")
        if not CODE.match(body.get("nationalCode", "")) or not body.get("birthDate"):
            return _answer(6, "invalid data")
        if not iban_valid(iban):
            return _answer(21, "invalid IBAN")
        matched = ctx.mode != "iban_mismatch" and iban not in self._foreign
        return _answer(1, "success", {"matched": matched})

    def _iban(self, ctx: Ctx, body: dict[str, str]) -> Response:
        iban = body.get("IBAN", "")
        if not iban_valid(iban):
            return _answer(21, "invalid IBAN")
        other = ctx.mode == "iban_mismatch" or iban in self._foreign
        first, last = (OTHER_FIRST, OTHER_LAST) if other else (OWNER_FIRST, OWNER_LAST)
        data = {"IBAN": iban, "bankName": BANK_BY_CODE.get(iban[4:7], DEFAULT_BANK[1]),
                "owners": [{"firstName": first, "lastName": last}], "status": "ACTIVE"}  # fmt: skip
        return _answer(1, "success", data)

    def _card(self, ctx: Ctx, body: dict[str, str]) -> Response:
        card = body.get("cardNumber", "")
        if not CARD.match(card):
            return _answer(6, "invalid data")
        other = ctx.mode == "card_mismatch"
        iban = card_iban(card, other=other)
        if other:
            self._foreign.add(iban)
        name = f"{OTHER_FIRST} {OTHER_LAST}" if other else f"{OWNER_FIRST} {OWNER_LAST}"
        return _answer(1, "success", {"IBAN": iban, "name": name,
                                      "bankName": BANKS.get(card[:6], DEFAULT_BANK)[1]})  # fmt: skip

    def _identity(self, ctx: Ctx, body: dict[str, str]) -> Response:
        if not CODE.match(body.get("nationalCode", "")) or not body.get("birthDate"):
            return _answer(6, "invalid data")
        return _answer(1, "success", {"matched": True, "firstName": OWNER_FIRST, "lastName": OWNER_LAST,
                                      "alive": True})  # fmt: skip
