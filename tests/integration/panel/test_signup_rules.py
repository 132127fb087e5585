"""Sign-up rules of the second pass (issue 14): one personal account per person (the keyed digest of
the national code claimed with the merchant), phones under a keyed digest, reserved and look-alike
usernames refused."""

from __future__ import annotations

import hashlib

import pytest

from tests.integration.panel.support import NATIONAL_CODE, PHONE, Browser, sign_up, to_e164

SECOND_SIM = "09351234567"


@pytest.fixture
def signed_in(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    browser = Browser()
    assert browser.sign_in(texts).location == "/signup"
    return browser


def test_a_second_sim_of_the_same_person_cannot_open_a_second_personal_account(signed_in, texts, store):
    from paylink.panel.codes import subject_key

    assert sign_up(signed_in).status == 303
    other_sim = Browser("203.0.113.10")
    other_sim.sign_in(texts, phone=SECOND_SIM)

    answer = sign_up(other_sim, username="scarves2", national_code=NATIONAL_CODE)

    assert answer.status == 400
    assert 'id="e-national_code"' in answer.text
    assert store.merchant_id_for_phone(subject_key(to_e164(SECOND_SIM))) is None
    assert store.merchant_id_for_username("scarves2") is None  # nothing half-written


def test_the_refusal_names_the_rule_in_english_too(signed_in, texts):
    assert sign_up(signed_in).status == 303
    other_sim = Browser("203.0.113.10")
    other_sim.sign_in(texts, phone=SECOND_SIM)

    answer = sign_up(other_sim, username="scarves2", national_code=NATIONAL_CODE, lang="en")

    assert "already has a personal account" in answer.text


def test_neither_the_national_code_nor_the_phone_is_in_the_table_even_as_a_plain_digest(signed_in, aws):
    from tests.helpers import table_items

    assert sign_up(signed_in).status == 303

    dump = str(table_items(aws))
    assert NATIONAL_CODE not in dump
    assert PHONE[1:] not in dump.replace(f"'phone': '{to_e164(PHONE)}'", "")  # sessions aside
    for plain in (f"paylink-phone:{to_e164(PHONE)}", to_e164(PHONE), NATIONAL_CODE):
        assert hashlib.sha256(plain.encode()).hexdigest()[:40] not in dump
    assert "PERSON#" in dump


RESERVED = ["admin", "login", "dashboard", "paylink", "pay_link", "adm1n", "support"]


@pytest.mark.parametrize("username", RESERVED)
def test_a_reserved_username_is_refused_with_a_field_error(signed_in, username):
    answer = sign_up(signed_in, username=username, lang="en")

    assert answer.status == 400
    assert 'id="e-username"' in answer.text
    assert "reserved" in answer.text


@pytest.mark.parametrize("look_alike", ["ali_shop", "a1ishop", "al1_shop", "ali__shop", "aiishop"])
def test_a_username_that_looks_like_an_existing_one_is_refused(signed_in, texts, look_alike):
    assert sign_up(signed_in, username="alishop").status == 303
    other = Browser("203.0.113.10")
    other.sign_in(texts, phone=SECOND_SIM)

    answer = sign_up(other, username=look_alike, lang="en")

    assert answer.status == 400
    assert 'id="e-username"' in answer.text
    assert "too close to an existing one" in answer.text


def test_an_operator_cannot_create_a_look_alike_either(store):
    from paylink.core.errors import Conflict, ValidationFailed
    from paylink.merchants.accounts import create_merchant
    from tests.conftest import VALID_IBAN

    create_merchant(store, username="rose_shop", name="Rose", iban=VALID_IBAN)
    with pytest.raises(Conflict):
        create_merchant(store, username="roseshop", name="Rose 2", iban=VALID_IBAN)
    with pytest.raises(ValidationFailed):
        create_merchant(store, username="webhooks", name="Hooks", iban=VALID_IBAN)
