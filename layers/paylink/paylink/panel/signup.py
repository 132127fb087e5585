"""Sign-up of a signed-in phone: a personal-account merchant after the identity inquiries.

Fields: name, username, national_code (checksum), iban (IR + 24 digits, mod 97), birth_date (Jalali
yyyy/mm/dd, Persian or Latin digits: the IBAN-owner inquiry needs it). The mobile must belong to the
national code (Shahkar) and the IBAN to the same person; a definite "no" is a field error, an
inquiry that could not run is a page-level error to try later (nothing is created either way).
One personal account per person: the keyed digest of the national code is claimed in the same
transaction that creates the merchant (a second SIM of the same person gets a field error). Usernames
that are reserved or look like an existing one are refused (paylink.merchants.usernames).
The inquiries are paid calls: a phone gets INQUIRIES_PER_DAY tries that reach them per UTC day, sign-up
and the panel's IBAN changes together (a conditional counter taken before the first call), so
resubmitting either form bills us no more.
Errors are translation keys of paylink.web.pages.i18n ("signup.err.*").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from paylink.core.errors import Conflict
from paylink.core.models import Merchant
from paylink.merchants import identity
from paylink.merchants.accounts import USERNAME, create_merchant
from paylink.merchants.usernames import is_reserved
from paylink.panel.codes import person_key, subject_key
from paylink.panel.render import jalali_day
from paylink.store import Store

FIELDS = ("name", "username", "national_code", "iban", "birth_date")
INQUIRIES_PER_DAY = 5
DAY_SECONDS = 86_400


@dataclass
class SignupResult:
    merchant: Merchant | None = None
    errors: dict[str, str] = field(default_factory=dict)  # field -> translation key
    unavailable: bool = False  # an inquiry could not run: try again later
    retry_after: int = 0  # > 0: the phone used its inquiries for today (seconds until tomorrow)


def parse_birth_date(text: str) -> date | None:
    """A Jalali yyyy/mm/dd (or yyyy-mm-dd) birth date as a Gregorian date, or None when it is not one."""
    day = jalali_day(text)
    return day if day is not None and day < date.today() else None


def take_inquiry_try(store: Store, phone: str) -> int:
    """Count one try of the paid inquiries for this signed-in phone (sign-up and IBAN changes
    together): 0 when it may go on, else the seconds until the next UTC day."""
    stamp = int(time.time())
    day = stamp // DAY_SECONDS
    if store.count_within(
        f"SIGNUPINQ#{subject_key(phone)}#{day}", INQUIRIES_PER_DAY, (day + 2) * DAY_SECONDS
    ):
        return 0
    return (day + 1) * DAY_SECONDS - stamp


def sign_up(store: Store, phone: str, form: dict[str, str]) -> SignupResult:
    """Create the merchant of `phone` from the form, or say what is wrong with it."""
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        errors["name"] = "signup.err.name"
    username = form.get("username", "").strip().lower()
    if not USERNAME.fullmatch(username):
        errors["username"] = "signup.err.username"
    national_code = identity.normal_national_code(form.get("national_code", ""))
    if national_code is None:
        errors["national_code"] = "signup.err.national_code"
    iban = identity.normal_iban(form.get("iban", "").replace(" ", ""))
    if iban is None:
        errors["iban"] = "signup.err.iban"
    birth = parse_birth_date(form.get("birth_date", ""))
    if birth is None:
        errors["birth_date"] = "signup.err.birth_date"
    if "username" not in errors and is_reserved(username):
        errors["username"] = "signup.err.username_reserved"
    if not errors and store.merchant_id_for_username(username):
        errors["username"] = "signup.err.username_taken"
    elif not errors and store.username_fold_taken(username):
        errors["username"] = "signup.err.username_reserved"
    if errors or national_code is None or iban is None or birth is None:
        return SignupResult(errors=errors)
    wait = take_inquiry_try(store, phone)
    if wait:
        return SignupResult(retry_after=wait)
    try:
        if not identity.shahkar_matches(phone, national_code):
            return SignupResult(errors={"national_code": "signup.err.shahkar"})
        if not identity.iban_matches_national_code(national_code, birth, iban):
            return SignupResult(errors={"iban": "signup.err.iban_owner"})
    except identity.InquiryRejected:
        return SignupResult(errors={"iban": "signup.err.iban"})
    except identity.InquiryUnavailable:
        return SignupResult(unavailable=True)
    try:
        merchant, _ = create_merchant(
            store, username=username, name=name, iban=iban, owner_subject=subject_key(phone),
            owner_person=person_key(national_code),
        )  # fmt: skip
    except Conflict as exc:
        # A national code already claimed is said only now, after Shahkar tied this mobile to it:
        # nobody can ask whether a stranger's national code has an account.
        field = next(iter(exc.fields))
        key = {"username": "signup.err.username_reserved", "national_code": "signup.err.person_taken"}
        return SignupResult(errors={field: key.get(field, "signup.err.has_merchant")})
    return SignupResult(merchant=merchant)
