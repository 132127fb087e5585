"""paylink.payments.checkout: the buyer's form (read_form) and whether a link is payable (payable_link)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from paylink.core.errors import Gone, NotFound, ValidationFailed
from paylink.core.models import Link, LinkKind
from paylink.payments.checkout import FormInvalid, payable_link, read_form

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def make_link(**overrides: Any) -> Link:
    data: dict[str, Any] = {
        "code": "abcDEF123456",
        "merchant_id": "mer_1",
        "merchant_name": "Shop",
        "kind": LinkKind.ITEM,
        "title": "Notebook",
        "amount": 250_000,
        "collect": ["name", "phone"],
        "created_at": "2026-11-01T00:00:00Z",
    }
    data.update(overrides)
    return Link(**data)


def open_link(**overrides: Any) -> Link:
    return make_link(kind=LinkKind.OPEN, amount=None, min_amount=10_000, max_amount=1_000_000, **overrides)


def form_errors(link: Link, form: dict[str, str]) -> dict[str, str]:
    with pytest.raises(FormInvalid) as exc:
        read_form(link, form)
    return exc.value.fields


GOOD = {"name": "Sara", "phone": "09121234567"}


# --- payer fields -----------------------------------------------------------------------------


def test_valid_form_gives_payer_amount_and_quantity():
    # Given an item link and a complete form
    # When read
    payer, unit_amount, quantity = read_form(make_link(), GOOD)
    # Then the payer, the link's amount and quantity 1 come back
    assert payer == {"name": "Sara", "phone": "09121234567"}
    assert unit_amount == 250_000
    assert quantity == 1


@pytest.mark.parametrize("field", ["name", "phone"])
def test_collected_field_is_required(field):
    # Given a form missing a collected field
    form = {k: v for k, v in GOOD.items() if k != field}
    # When read
    # Then that field is required
    assert form_errors(make_link(), form) == {field: "required"}


def test_blank_value_counts_as_missing():
    # Given a name of only spaces
    # When read
    # Then it is required
    assert form_errors(make_link(), {**GOOD, "name": "   "}) == {"name": "required"}


def test_fields_not_collected_are_ignored():
    # Given a link collecting only the name, and a form with an email too
    link = make_link(collect=["name"])
    # When read
    payer, _, _ = read_form(link, {"name": "Sara", "email": "not-an-email"})
    # Then only the name is kept and the email is not checked
    assert payer == {"name": "Sara"}


def test_name_is_stripped():
    # Given a name with surrounding spaces
    payer, _, _ = read_form(make_link(), {**GOOD, "name": "  Sara  "})
    # Then it is stored stripped
    assert payer["name"] == "Sara"


def test_persian_digits_in_phone_are_normalised():
    # Given a mobile number typed with Persian digits
    payer, _, _ = read_form(make_link(), {**GOOD, "phone": "۰۹۱۲۱۲۳۴۵۶۷"})
    # Then it is stored with ASCII digits
    assert payer["phone"] == "09121234567"


def test_arabic_indic_digits_in_phone_are_normalised():
    # Given a mobile number typed with Arabic-Indic digits
    payer, _, _ = read_form(make_link(), {**GOOD, "phone": "٠٩١٢١٢٣٤٥٦٧"})
    # Then it is stored with ASCII digits
    assert payer["phone"] == "09121234567"


@pytest.mark.parametrize(
    "phone", ["+989121234567", "00989121234567", "9121234567", "0912 123 4567", "0912-123-4567"]
)
def test_other_mobile_forms_are_normalised_to_the_national_form(phone):
    # Given a mobile number in international form, without 0, or with separators
    payer, _, _ = read_form(make_link(), {**GOOD, "phone": phone})
    # Then it is stored as 09xxxxxxxxx
    assert payer["phone"] == "09121234567"


@pytest.mark.parametrize(
    "phone",
    ["02112345678", "0912123456", "091212345678", "phone", "+449121234567"],
    ids=["landline", "short", "long", "letters", "foreign"],
)
def test_invalid_phone_is_refused(phone):
    # Given something that is not an Iranian mobile number
    # When read
    # Then the phone is invalid
    assert form_errors(make_link(), {**GOOD, "phone": phone}) == {"phone": "invalid_phone"}


def test_valid_email_is_kept():
    # Given a link collecting an email
    link = make_link(collect=["email"])
    # When read with a valid address
    payer, _, _ = read_form(link, {"email": "sara@example.com"})
    # Then it is kept
    assert payer == {"email": "sara@example.com"}


@pytest.mark.parametrize("email", ["sara", "sara@example", "sa ra@example.com", "@example.com"])
def test_invalid_email_is_refused(email):
    # Given a malformed email
    # When read
    # Then it is invalid
    assert form_errors(make_link(collect=["email"]), {"email": email}) == {"email": "invalid_email"}


def test_note_is_optional():
    # Given a link collecting a note, and no note
    link = make_link(collect=["name", "note"])
    # When read
    payer, _, _ = read_form(link, {"name": "Sara"})
    # Then no error and no note
    assert payer == {"name": "Sara"}


def test_note_is_kept_when_given():
    # Given a note
    payer, _, _ = read_form(make_link(collect=["note"]), {"note": "gift wrap please"})
    # Then it is kept
    assert payer == {"note": "gift wrap please"}


def test_too_long_name_is_refused():
    # Given a 101-character name
    # When read
    # Then it is too long
    assert form_errors(make_link(), {**GOOD, "name": "x" * 101}) == {"name": "too_long"}


def test_every_error_is_reported_at_once():
    # Given a form missing the name with an invalid phone and quantity
    # When read
    errors = form_errors(make_link(), {"phone": "123", "quantity": "0"})
    # Then all three are reported
    assert errors == {"name": "required", "phone": "invalid_phone", "quantity": "invalid_quantity"}


def test_form_invalid_is_a_validation_failure():
    # Given an invalid form
    with pytest.raises(ValidationFailed) as exc:
        read_form(make_link(), {})
    # Then it is a 400
    assert exc.value.status == 400


# --- quantity ---------------------------------------------------------------------------------


def test_quantity_within_max_is_accepted():
    # Given a link allowing 5 units and a form asking 5
    _, _, quantity = read_form(make_link(max_quantity=5), {**GOOD, "quantity": "5"})
    # Then 5 it is
    assert quantity == 5


def test_quantity_in_persian_digits_is_accepted():
    # Given a quantity typed in Persian digits
    _, _, quantity = read_form(make_link(max_quantity=5), {**GOOD, "quantity": "۳"})
    # Then it is read
    assert quantity == 3


@pytest.mark.parametrize("quantity", ["0", "6", "-1", "two", "1.5", "+2"], ids=repr)
def test_quantity_out_of_bounds_or_not_digits_is_refused(quantity):
    # Given a quantity of 0, over the maximum of 5, negative, or not a whole number
    # When read
    # Then it is invalid
    assert form_errors(make_link(max_quantity=5), {**GOOD, "quantity": quantity}) == {
        "quantity": "invalid_quantity"
    }


def test_missing_quantity_means_one():
    # Given a form without quantity (the page hides it when max_quantity is 1)
    # When read
    _, _, quantity = read_form(make_link(max_quantity=5), {**GOOD, "quantity": ""})
    # Then one unit is bought
    assert quantity == 1


def test_superscript_digit_quantity_is_refused_as_invalid():
    # Given a quantity that is a Unicode digit but not a decimal digit
    # When read
    # Then it is an invalid quantity, not a crash
    assert form_errors(make_link(max_quantity=5), {**GOOD, "quantity": "²"}) == {
        "quantity": "invalid_quantity"
    }


def test_enormous_quantity_is_refused_as_invalid():
    # Given a quantity of 5,000 digits
    # When read
    # Then it is an invalid quantity, not a crash
    assert form_errors(make_link(), {**GOOD, "quantity": "9" * 5_000}) == {"quantity": "invalid_quantity"}


# --- open-amount links ------------------------------------------------------------------------


def test_open_amount_typed_in_toman_is_kept_in_rials():
    # Given an open link and 5,000 toman typed
    # When read
    _, unit_amount, _ = read_form(open_link(), {**GOOD, "amount": "5000"})
    # Then the amount is 50,000 rials
    assert unit_amount == 50_000


@pytest.mark.parametrize("typed", ["۵۰٬۰۰۰", "50,000", "۵۰,۰۰۰", " 50 000 "], ids=repr)
def test_open_amount_with_persian_digits_and_separators_is_read(typed):
    # Given 50,000 toman typed with Persian digits and/or thousands separators
    # When read
    _, unit_amount, _ = read_form(open_link(), {**GOOD, "amount": typed})
    # Then the amount is 500,000 rials
    assert unit_amount == 500_000


def test_open_amount_is_required():
    # Given an open link and no amount
    # When read
    # Then amount is required
    assert form_errors(open_link(), GOOD) == {"amount": "required"}


@pytest.mark.parametrize("typed", ["abc", "12.5", "-100", "1e3"])
def test_open_amount_that_is_not_a_whole_number_is_invalid(typed):
    # Given something that is not a whole number of toman
    # When read
    # Then the amount is invalid
    assert form_errors(open_link(), {**GOOD, "amount": typed}) == {"amount": "invalid_amount"}


def test_open_amount_in_superscript_digits_is_invalid():
    # Given an amount that is a Unicode digit but not a decimal digit
    # When read
    # Then it is an invalid amount, not a crash
    assert form_errors(open_link(), {**GOOD, "amount": "²"}) == {"amount": "invalid_amount"}


def test_open_amount_below_minimum_is_too_small():
    # Given a minimum of 10,000 rials and 999 toman (9,990 rials) typed
    # When read
    # Then it is too small
    assert form_errors(open_link(), {**GOOD, "amount": "999"}) == {"amount": "too_small"}


def test_open_amount_at_the_minimum_is_accepted():
    # Given a minimum of 10,000 rials and 1,000 toman typed
    # Then it is accepted
    assert read_form(open_link(), {**GOOD, "amount": "1000"})[1] == 10_000


def test_open_amount_above_maximum_is_too_large():
    # Given a maximum of 1,000,000 rials and 100,001 toman typed
    # When read
    # Then it is too large
    assert form_errors(open_link(), {**GOOD, "amount": "100001"}) == {"amount": "too_large"}


def test_open_amount_at_the_maximum_is_accepted():
    # Given a maximum of 1,000,000 rials and 100,000 toman typed
    # Then it is accepted
    assert read_form(open_link(), {**GOOD, "amount": "100000"})[1] == 1_000_000


def test_item_link_ignores_a_typed_amount():
    # Given an item link and a buyer trying to set the amount
    # When read
    _, unit_amount, _ = read_form(make_link(), {**GOOD, "amount": "1"})
    # Then the link's own amount is used
    assert unit_amount == 250_000


# --- payable_link -----------------------------------------------------------------------------


class FakeStore:
    """The one method payable_link needs."""

    def __init__(self, *links: Link) -> None:
        self.links = {link.code: link for link in links}

    def get_link(self, code: str) -> Link | None:
        return self.links.get(code)


def test_payable_link_returns_an_active_link():
    # Given an active link
    link = make_link()
    # When asked by its code
    # Then it comes back
    assert payable_link(FakeStore(link), link.code, NOW) == link  # type: ignore[arg-type]


def test_payable_link_of_an_unknown_code_is_not_found():
    # Given an empty store
    # When an unknown code is asked
    # Then NotFound (404)
    with pytest.raises(NotFound) as exc:
        payable_link(FakeStore(), "nope", NOW)  # type: ignore[arg-type]
    assert exc.value.status == 404


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"active": False}, "inactive"),
        ({"expires_at": "2026-11-23T11:00:00Z"}, "expired"),
        ({"max_payments": 2, "paid_count": 2}, "sold_out"),
        ({"kind": LinkKind.INVOICE, "max_payments": 1, "paid_count": 1}, "already_paid"),
    ],
    ids=["inactive", "expired", "sold_out", "paid"],
)
def test_payable_link_that_cannot_be_paid_is_gone_with_the_reason(overrides, reason):
    # Given a link that exists but cannot be paid now
    link = make_link(**overrides)
    # When asked
    with pytest.raises(Gone) as exc:
        payable_link(FakeStore(link), link.code, NOW)  # type: ignore[arg-type]
    # Then Gone (410) names the reason
    assert exc.value.reason == reason
    assert exc.value.status == 410
