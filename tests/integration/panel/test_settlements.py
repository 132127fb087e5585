"""Panel settlements (issue 14): the list links each settlement to its page, which shows what it
paid, its payout reference and its payments; another merchant's answers exactly like a missing one."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.integration.panel.support import Browser, signed_up

PAID_AT, DAY = "2026-11-22T08:00:00.000000Z", date(2026, 11, 23)
MISSING = "stl_20261123_" + "Z" * 16


def _settle(store, username: str) -> str:  # type: ignore[no-untyped-def]
    from paylink.settlement.daily import settle_day
    from paylink.settlement.payouts import SandboxPayout
    from tests.settlement_data import add_paid_payment

    merchant = store.get_merchant(store.merchant_id_for_username(username))
    add_paid_payment(store, merchant, f"pay_{username}_0001", 1_000_000, paid_at=PAID_AT)
    settle_day(store, DAY, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))
    items, _ = store.settlements_of(merchant.id, None)
    return items[0].id


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


def test_the_list_links_to_each_settlement(shop, store):
    settlement_id = _settle(store, "scarves")

    page = shop.get("/dashboard/settlements")

    assert page.status == 200
    assert f'href="/dashboard/settlements/{settlement_id}"' in page.text


def test_a_settlement_shows_its_payments_and_payout_reference(shop, store):
    settlement_id = _settle(store, "scarves")
    reference = store.get_settlement(settlement_id).payout_reference

    page = shop.get(f"/dashboard/settlements/{settlement_id}?lang=en")

    assert page.status == 200
    assert 'href="/dashboard/payments/pay_scarves_0001?lang=en"' in page.text
    assert re.search(r'id="payout-reference">([^<]+)<', page.text).group(1) == (reference or "-")
    assert "100,000" in page.text  # 1,000,000 rials shown in toman


def test_another_merchants_settlement_answers_like_a_missing_one(shop, store, texts):
    theirs = _settle(store, "scarves")
    rival = signed_up(texts, "09351234567", "hats", "203.0.113.10")

    foreign = rival.get(f"/dashboard/settlements/{theirs}")
    missing = rival.get(f"/dashboard/settlements/{MISSING}")

    assert foreign.status == missing.status == 404
    assert foreign.text == missing.text


def test_a_settlement_page_without_a_session_goes_to_login(aws):
    answer = Browser().get(f"/dashboard/settlements/{MISSING}")

    assert answer.status == 303
    assert answer.location.startswith("/login")
