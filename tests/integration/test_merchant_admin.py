"""An operator changes a merchant: the IBAN is checked, and its links follow its new limits."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_API_KEY

BUYER = {"name": "Ali", "phone": "09121234567"}


def test_an_invalid_iban_is_refused_and_nothing_changes(store, merchant):
    # Given a merchant with a valid IBAN
    from paylink.core.errors import ValidationFailed
    from paylink.merchants.accounts import update_merchant

    # When an operator sets an IBAN whose check digits are wrong
    with pytest.raises(ValidationFailed) as caught:
        update_merchant(store, "shop", iban="IR062960000000100324200002")
    # Then it is refused, naming the field, and the merchant keeps its IBAN
    assert "iban" in caught.value.fields
    assert store.get_merchant(merchant.id).iban == merchant.iban


def test_existing_links_follow_a_lowered_limit(api, store, merchant, gateways):
    # Given a link made while the merchant could take 10,000,000 rials per payment
    from paylink.merchants.accounts import update_merchant

    code = api.post_json("/v1/links", {"title": "Rug", "amount": 5_000_000}, key=TEST_API_KEY).json()["code"]
    # When the operator lowers the limit to 1,000,000
    update_merchant(store, "shop", per_payment_cap=1_000_000)
    # Then a checkout of that link is refused before any gateway is asked
    asked = len(gateways.calls("a"))
    answer = api.post_form(f"/{code}", BUYER)
    assert answer.status == 400
    assert len(gateways.calls("a")) == asked


def test_a_personal_account_cannot_be_given_business_limits(store, merchant):
    from paylink.core.errors import ValidationFailed
    from paylink.merchants.accounts import update_merchant

    with pytest.raises(ValidationFailed):
        update_merchant(store, "shop", daily_cap=500_000_000)


def test_a_held_settlement_is_paid_once_the_iban_is_fixed(api, store, gateways):
    # Given a merchant whose IBAN went bad, with a held settlement
    from paylink.core.models import utcnow
    from paylink.merchants.accounts import create_merchant, update_merchant
    from paylink.settlement.business_calendar import local_date, next_business_day
    from paylink.settlement.daily import settle_day
    from paylink.settlement.payouts import payout_provider
    from tests.conftest import VALID_IBAN
    from tests.helpers import act_at_gateway, local_target

    merchant, key = create_merchant(store, username="fixme", name="Fix Me", iban=VALID_IBAN)
    store.client.update_item(
        TableName=store.table, Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="SET iban = :bad", ExpressionAttributeValues={":bad": "IR000000000000000000000000"},
    )  # fmt: skip
    code = api.post_json("/v1/links", {"title": "x", "amount": 100_000}, key=key).json()["code"]
    started = api.post_form(f"/{code}", BUYER)
    api.get(local_target(act_at_gateway(started.location)))
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR")

    def settle(day):  # type: ignore[no-untyped-def]
        return settle_day(
            store, day, tz="Asia/Tehran", country="IR", payout=payout_provider("sandbox", store, stage="test")
        )

    settle(day)
    [held] = api.get("/v1/settlements", key=key).json()["items"]
    assert held["status"] == "held"
    # When the operator fixes the IBAN and the next business day runs
    update_merchant(store, "fixme", iban=VALID_IBAN)
    settle(next_business_day(day, "IR"))
    # Then that settlement is paid out, once, to the new IBAN
    [paid] = api.get("/v1/settlements", key=key).json()["items"]
    assert (paid["id"], paid["status"], paid["iban"]) == (held["id"], "paid", VALID_IBAN)
    assert store.get_payout(paid["id"])["amount"] == paid["net"]
