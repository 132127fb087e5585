"""Identity checks of a merchant (issue 14 sign-up, IBAN changes; issue 15 refund destinations).

Local checks (no call):
    national_code_valid(code) -> bool        Iranian national code checksum (Persian digits taken)
    normal_national_code(code) -> str | None the 10 ASCII digits, or None when not valid
    normal_mobile(phone) -> str | None       +989xxxxxxxxx (paylink.notify.messages.iran_mobile)
    mask_card(card_number) -> str            603799******1234: the only form a card number is kept in

Bank inquiries through Zibal's facility API (one call each):
    shahkar_matches(mobile, national_code) -> bool       the mobile line is that person's (Shahkar)
    iban_matches_national_code(national_code, birth_date, iban) -> bool
                                                         the IBAN's account is that person's;
                                                         birth_date a `date` (sent as Jalali
                                                         yyyy/mm/dd, as the API takes it)
    iban_owner(iban) -> IbanOwner                        owners' names, bank, account status
    card_to_iban(card_number) -> CardOwner               the card's IBAN, owner name, bank

A definite "no match" is False. `InquiryUnavailable` (retryable: try later, tell the merchant the
check could not run) for a provider down, slow, refusing our token, or answering a result we do
not know; `InquiryRejected` (not retryable) when the provider refuses the input itself (an IBAN or
card it calls invalid). Inputs are checked here first (ValueError), so no malformed value is sent.

Protocol (modelled on other developers' code, confirmed in part: see the README "Sandbox" note and
local/sandbox/protocols/zibal_inquiry.py): `POST {base}/v1/facility/{method}` with
`Authorization: Bearer <token>`, JSON; answer `{"result": 1, "message", "data": {...}}`, result 1
= success. Token: the SSM SecureString named by PAYLINK_INQUIRY_TOKEN_PARAMETER (template
InquiryTokenParameter); base URL PAYLINK_INQUIRY_API_URL. Nothing here logs a phone, national
code, IBAN, card number or name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from paylink.core.secrets import secret
from paylink.core.settings import get_settings
from paylink.notify.messages import EASTERN_DIGITS, iran_mobile

TIMEOUT_SECONDS = 8.0
SUCCESS = 1
# Results that refuse the input itself (Zibal: 6 invalid data, 21 invalid IBAN); any other
# non-1 result (2-4 token, 7 IP, 8 inactive, unknown codes) means we could not ask.
INPUT_REFUSED = frozenset({6, 21})
IBAN = re.compile(r"IR[0-9]{24}")
CARD = re.compile(r"[0-9]{16}")


class InquiryUnavailable(RuntimeError):
    """The inquiry could not be made (provider down, token refused, unknown answer): retry later."""

    retryable = True


class InquiryRejected(ValueError):
    """The provider refused the input (an IBAN or card it calls invalid): not worth retrying."""

    retryable = False


@dataclass(frozen=True)
class IbanOwner:
    iban: str
    names: tuple[str, ...]  # each owner's full name, as the bank holds it
    bank: str
    status: str  # the account's status as the provider says it (e.g. "ACTIVE")

    @property
    def active(self) -> bool:
        return self.status.upper() in ("ACTIVE", "ACTIVATED", "فعال")


@dataclass(frozen=True)
class CardOwner:
    iban: str
    name: str
    bank: str
    card_masked: str  # never the full number


# -- local checks ------------------------------------------------------------------------------
def _digits(value: object) -> str:
    return re.sub(r"[\s\-]", "", str(value or "").translate(EASTERN_DIGITS))


def normal_national_code(code: object) -> str | None:
    """The 10-digit national code (Persian or Arabic-Indic digits taken), or None if not valid."""
    digits = _digits(code)
    if not re.fullmatch(r"[0-9]{8,10}", digits):
        return None
    digits = digits.zfill(10)
    if len(set(digits)) == 1:  # 0000000000, 1111111111...: checksum-valid, never issued
        return None
    total = sum(int(digits[i]) * (10 - i) for i in range(9)) % 11
    check = int(digits[9])
    ok = check == total if total < 2 else check == 11 - total
    return digits if ok else None


def national_code_valid(code: object) -> bool:
    """True for a well-formed Iranian national code (checksum of the 10th digit)."""
    return normal_national_code(code) is not None


def normal_mobile(phone: object) -> str | None:
    """An Iranian mobile in E.164 (+989...), or None."""
    return iran_mobile(str(phone) if phone is not None else None)


def normal_iban(iban: object) -> str | None:
    """IR + 24 digits with a valid ISO 13616 mod-97 check, or None."""
    text = _digits(iban).upper()
    if not IBAN.fullmatch(text):
        return None
    rearranged = text[4:] + "1827" + text[2:4]  # I=18, R=27
    return text if int(rearranged) % 97 == 1 else None


def mask_card(card_number: object) -> str:
    """603799******1234 (first six, last four): the only form a card number may be kept in."""
    digits = _digits(card_number)
    if len(digits) < 10:
        return "*" * len(digits)
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def _card(card_number: object) -> str:
    digits = _digits(card_number)
    if not CARD.fullmatch(digits):
        raise ValueError("a card number is 16 digits")
    total = 0
    for i, ch in enumerate(digits):  # Luhn, as every Shetab card carries
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    if total % 10:
        raise ValueError("the card number is not valid")
    return digits


def jalali(day: date) -> str:
    """A Gregorian date as Jalali yyyy/mm/dd (the facility API takes birth dates so)."""
    import jdatetime

    return str(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))


# -- the provider ------------------------------------------------------------------------------
def _call(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One facility call; the `data` of a result-1 answer. Raises InquiryUnavailable/Rejected."""
    import httpx

    settings = get_settings()
    token = secret(settings.inquiry_token_parameter)
    if not token:
        raise InquiryUnavailable(f"{method}: no inquiry token configured")
    url = f"{settings.inquiry_api_url.rstrip('/')}/v1/facility/{method}"
    try:
        answer = httpx.post(
            url, json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
        )
        body = answer.json()
    except (httpx.HTTPError, ValueError):
        raise InquiryUnavailable(f"{method}: no answer") from None
    result = body.get("result") if isinstance(body, dict) else None
    if result == SUCCESS and isinstance(body.get("data"), dict):
        return dict(body["data"])
    if result in INPUT_REFUSED:
        raise InquiryRejected(f"{method}: the provider refused the input (result {result})")
    raise InquiryUnavailable(f"{method}: result {result!r}")


def _matched(method: str, data: dict[str, Any]) -> bool:
    matched = data.get("matched")
    if not isinstance(matched, bool):
        raise InquiryUnavailable(f"{method}: answer without matched")
    return matched


def shahkar_matches(mobile: str, national_code: str) -> bool:
    """True when the mobile line is registered to that national code (`shahkarInquiry`)."""
    phone, code = normal_mobile(mobile), normal_national_code(national_code)
    if phone is None or code is None:
        raise ValueError("an Iranian mobile and a valid national code are needed")
    data = _call("shahkarInquiry", {"mobile": "0" + phone.removeprefix("+98"), "nationalCode": code})
    return _matched("shahkarInquiry", data)


def iban_matches_national_code(national_code: str, birth_date: date, iban: str) -> bool:
    """True when the IBAN's account belongs to that person (`checkIbanWithNationalCode`)."""
    code, account = normal_national_code(national_code), normal_iban(iban)
    if code is None or account is None:
        raise ValueError("a valid national code and IBAN are needed")
    payload = {"nationalCode": code, "birthDate": jalali(birth_date), "IBAN": account}
    return _matched("checkIbanWithNationalCode", _call("checkIbanWithNationalCode", payload))


def iban_owner(iban: str) -> IbanOwner:
    """The IBAN's owners, bank and account status (`ibanInquiry`)."""
    account = normal_iban(iban)
    if account is None:
        raise ValueError("a valid IBAN is needed")
    data = _call("ibanInquiry", {"IBAN": account})
    owners = data.get("owners") or []
    names: list[str] = []
    for owner in owners if isinstance(owners, list) else []:
        if isinstance(owner, dict):
            full = " ".join(str(owner.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
            names.append(full or str(owner.get("name") or ""))
        elif isinstance(owner, str):
            names.append(owner)
    if not names and data.get("name"):
        names.append(str(data["name"]))
    status = data.get("status") or data.get("accountStatus") or ""
    return IbanOwner(account, tuple(n for n in names if n), str(data.get("bankName") or ""), str(status))


def card_to_iban(card_number: str) -> CardOwner:
    """The card's account: IBAN, owner name and bank (`cardToIban`). The number is sent, never kept."""
    card = _card(card_number)
    data = _call("cardToIban", {"cardNumber": card})
    iban = normal_iban(data.get("IBAN") or data.get("iban"))
    if iban is None:
        raise InquiryUnavailable("cardToIban: answer without a valid IBAN")
    name = str(data.get("name") or "").strip()
    return CardOwner(iban, name, str(data.get("bankName") or ""), mask_card(card))
