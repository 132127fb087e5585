"""The IBAN change is a conditional write (issue 14): a change made while its inquiries ran is never
overwritten, and writing one field never writes back the others as they were read."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import signed_up

NEW_IBAN = "IR820540102680020817909002"
THIRD_IBAN = "IR910601700000001003242000"
OWNER = {"national_code": "0499370899", "birth_date": "۱۳۷۰/۰۱/۳۱"}


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


def _merchant(store):  # type: ignore[no-untyped-def]
    from paylink.panel.guard import subject_of

    return store.get_merchant(store.merchant_id_for_phone(subject_of("+989121234567")))


def test_an_iban_changed_while_the_inquiries_ran_is_kept_and_the_form_says_try_again(
    shop, store, monkeypatch
):
    from paylink.merchants import identity
    from paylink.merchants.accounts import update_merchant

    real = identity.iban_matches_national_code
    assert THIRD_IBAN != NEW_IBAN

    def meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        # Another tab (or the operator) changes the IBAN while this request waits for the bank.
        update_merchant(store, "scarves", iban=NEW_IBAN)
        return real(*args, **kwargs)

    monkeypatch.setattr(identity, "iban_matches_national_code", meanwhile)
    answer = shop.post("/dashboard/settings/iban?lang=en", {"iban": THIRD_IBAN, **OWNER, "lang": "en"})

    assert answer.status == 409
    assert "same time" in answer.text
    assert _merchant(store).iban == NEW_IBAN  # the other change stands


def test_two_iban_changes_from_one_read_write_once(shop, store):
    from paylink.core.errors import Conflict
    from paylink.merchants.accounts import update_merchant

    read = _merchant(store)
    update_merchant(store, "scarves", iban=NEW_IBAN, read=read)

    with pytest.raises(Conflict):
        update_merchant(store, "scarves", iban=THIRD_IBAN, read=read)
    assert _merchant(store).iban == NEW_IBAN


def test_an_iban_change_does_not_write_back_a_webhook_set_meanwhile(shop, store):
    from paylink.merchants.accounts import update_merchant

    read = _merchant(store)
    hook = {"webhook_url": "https://hooks.example/x", "webhook_secret": "whs"}
    store.set_notification_settings(read.id, hook)

    update_merchant(store, "scarves", iban=NEW_IBAN, read=read)

    after = _merchant(store)
    assert after.iban == NEW_IBAN
    assert after.webhook_url == "https://hooks.example/x"
    assert after.webhook_secret == "whs"
