"""Panel sign-up (issue 14): field checks, Shahkar and IBAN-owner inquiries, one merchant per phone."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import IBAN, NATIONAL_CODE, PHONE, Browser, sign_up, to_e164


@pytest.fixture
def signed_in(aws, texts, inquiry):
    browser = Browser()
    assert browser.sign_in(texts).location == "/signup"
    return browser


def test_a_signed_in_phone_signs_up_as_a_personal_account(signed_in, store):
    from paylink.core.models import PERSONAL_DAILY_CAP, AccountType
    from paylink.panel.codes import subject_key

    answer = sign_up(signed_in)

    assert answer.status == 303
    assert answer.location == "/dashboard"
    merchant = store.get_merchant(store.merchant_id_for_phone(subject_key(to_e164(PHONE))))
    assert merchant.account_type is AccountType.PERSONAL
    assert merchant.daily_cap == PERSONAL_DAILY_CAP
    assert merchant.iban == IBAN
    assert signed_in.get("/dashboard").status == 200


def test_persian_digits_are_taken_in_every_number_field(signed_in):
    persian = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    answer = sign_up(
        signed_in,
        national_code=NATIONAL_CODE.translate(persian),
        iban="IR" + IBAN[2:].translate(persian),
        birth_date="۱۳۷۰/۰۱/۳۱",
    )

    assert answer.status == 303


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("username", "A!"),
        ("national_code", "1234567890"),
        ("iban", "IR062960000000100324200002"),
        ("birth_date", "1370/13/40"),
        ("birth_date", "yesterday"),
    ],
)
def test_a_bad_field_is_shown_next_to_it_and_creates_nothing(signed_in, inquiry, field, value):
    answer = sign_up(signed_in, **{field: value})

    assert answer.status == 400
    assert f'id="e-{field}"' in answer.text
    assert signed_in.get("/dashboard").location == "/signup"
    assert inquiry.calls("inq") == []


def test_a_mobile_not_of_that_national_code_is_refused(signed_in, inquiry):
    inquiry.set_mode("inq", "shahkar_mismatch")

    answer = sign_up(signed_in)

    assert answer.status == 400
    assert 'id="e-national_code"' in answer.text
    assert signed_in.get("/dashboard").location == "/signup"


def test_an_iban_of_someone_else_is_refused(signed_in, inquiry):
    inquiry.set_mode("inq", "iban_mismatch")

    answer = sign_up(signed_in)

    assert answer.status == 400
    assert 'id="e-iban"' in answer.text


def test_an_inquiry_that_cannot_run_creates_nothing_and_says_try_later(signed_in, inquiry):
    inquiry.set_mode("inq", "down")

    answer = sign_up(signed_in)

    assert answer.status == 503
    assert signed_in.get("/dashboard").location == "/signup"


def test_a_taken_username_is_a_field_error(signed_in, merchant):
    answer = sign_up(signed_in, username=merchant.username)

    assert answer.status == 400
    assert 'id="e-username"' in answer.text


def test_a_phone_gets_one_merchant_only(signed_in, store):
    from paylink.core.errors import Conflict
    from paylink.merchants.accounts import create_merchant
    from paylink.panel.codes import subject_key

    assert sign_up(signed_in).status == 303

    # the sign-up page now sends to the dashboard, and a second sign-up is refused by the store
    assert signed_in.get("/signup").location == "/dashboard"
    assert sign_up(signed_in, username="second").location == "/dashboard"
    with pytest.raises(Conflict):
        create_merchant(
            store, username="third", name="x", iban=IBAN, owner_subject=subject_key(to_e164(PHONE))
        )
    assert store.merchant_id_for_username("third") is None


def test_sign_up_without_a_session_sends_to_login(aws):
    answer = sign_up(Browser())

    assert answer.status == 303
    assert answer.location == "/login"


def test_a_cross_site_sign_up_is_refused(signed_in):
    answer = signed_in.post(
        "/signup",
        {
            "name": "x",
            "username": "xyz",
            "national_code": NATIONAL_CODE,
            "iban": IBAN,
            "birth_date": "1370/01/31",
        },
        headers={"origin": "null"},
    )

    assert answer.status == 403
