"""A merchant changes its IBAN from the panel, re-checked as at sign-up: the signed-in mobile must
belong to the national code typed (Shahkar) and the new IBAN to the same person (IBAN-owner
inquiry). Only then is the IBAN changed, through the operator's own `update_merchant` (which checks
it again and refreshes the links' snapshots). Errors are translation keys ("signup.err.*")."""

from __future__ import annotations

from dataclasses import dataclass, field

from paylink.core.models import Merchant
from paylink.merchants import identity
from paylink.merchants.accounts import update_merchant
from paylink.panel.signup import parse_birth_date
from paylink.store import Store

FIELDS = ("iban", "national_code", "birth_date")


@dataclass
class IbanChange:
    merchant: Merchant | None = None
    errors: dict[str, str] = field(default_factory=dict)  # field -> translation key
    unavailable: bool = False  # an inquiry could not run: nothing changed, try later


def change_iban(store: Store, merchant: Merchant, phone: str, form: dict[str, str]) -> IbanChange:
    """Change `merchant`'s IBAN for the signed-in `phone`, or say why not (nothing written then)."""
    errors: dict[str, str] = {}
    iban = identity.normal_iban(form.get("iban", "").replace(" ", ""))
    if iban is None:
        errors["iban"] = "signup.err.iban"
    national_code = identity.normal_national_code(form.get("national_code", ""))
    if national_code is None:
        errors["national_code"] = "signup.err.national_code"
    birth = parse_birth_date(form.get("birth_date", ""))
    if birth is None:
        errors["birth_date"] = "signup.err.birth_date"
    if errors or iban is None or national_code is None or birth is None:
        return IbanChange(errors=errors)
    try:
        if not identity.shahkar_matches(phone, national_code):
            return IbanChange(errors={"national_code": "signup.err.shahkar"})
        if not identity.iban_matches_national_code(national_code, birth, iban):
            return IbanChange(errors={"iban": "signup.err.iban_owner"})
    except identity.InquiryRejected:
        return IbanChange(errors={"iban": "signup.err.iban"})
    except identity.InquiryUnavailable:
        return IbanChange(unavailable=True)
    return IbanChange(merchant=update_merchant(store, merchant.username, iban=iban))
