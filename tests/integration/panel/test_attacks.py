"""Attacks on the panel that once worked (docs/SECURITY.md, "The merchant panel and the bot")."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import Browser, sign_up


@pytest.fixture
def shop(aws, texts, inquiry):
    browser = Browser("203.0.113.9")
    browser.sign_in(texts, phone="09121234567")
    assert sign_up(browser, username="scarves").status == 303
    return browser


@pytest.mark.parametrize("bad", ["status=bogus", "from=not-a-date", "to=2026-13-45"])
def test_a_csv_download_with_a_bad_filter_is_a_400_page_not_a_500(shop, bad):
    # Given a signed-in merchant
    # When the CSV download is asked with a filter that is not one
    answer = shop.get(f"/dashboard/payments?format=csv&{bad}")
    # Then it is the list's own 400 page (no CSV, no crash)
    assert answer.status == 400, answer.text[:200]
    assert answer.headers["Content-Type"].startswith("text/html")


def test_a_session_cookie_tossed_from_a_sibling_subdomain_never_replaces_the_merchants_own(
    aws, texts, inquiry
):
    # Given a merchant signed in, and an attacker signed in to a shop of their own
    victim = Browser("203.0.113.9")
    victim.sign_in(texts, phone="09121234567")
    assert sign_up(victim, username="victimshop").status == 303
    attacker = Browser("203.0.113.66")
    attacker.sign_in(texts, phone="09351112233")
    assert sign_up(attacker, username="attackershop").status == 303
    attacker_id = attacker.cookie.split("=", 1)[1]
    # When a page on a sibling subdomain sets the attacker's session under the cookie's plain name
    # (`Domain=.example; Path=/dashboard`: the victim's browser then sends it first)
    victim.cookie = f"paylink_session={attacker_id}; {victim.cookie}"
    page = victim.get("/dashboard/settings")
    # Then the victim still works in their own shop (links they make pay their own IBAN)
    assert page.status == 200
    assert "victimshop" in page.text
    assert "attackershop" not in page.text


def test_a_signed_in_phone_cannot_pump_paid_identity_inquiries_by_resubmitting_sign_up(aws, texts, inquiry):
    from paylink.panel.signup import INQUIRIES_PER_DAY

    # Given a signed-in phone whose national code never matches it
    browser = Browser("203.0.113.9")
    browser.sign_in(texts, phone="09121234567")
    inquiry.set_mode("inq", "shahkar_mismatch")
    # When it submits the sign-up form again and again (each try a paid Shahkar inquiry)
    answers = [sign_up(browser, username=f"shop{n}") for n in range(INQUIRIES_PER_DAY + 5)]
    # Then only the day's allowance reaches the provider; the rest are a 429 page
    assert len(inquiry.calls("inq")) == INQUIRIES_PER_DAY
    assert [a.status for a in answers[INQUIRIES_PER_DAY:]] == [429] * 5
    assert "Retry-After" in answers[-1].headers
