"""Panel coupons (issue 14): made in a form with the API's rules (percent or toman off, most uses,
a Jalali expiry), listed; one merchant's coupons are not another's; cross-site posts refused."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import Browser, signed_up

CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


def _coupons(store, username: str):  # type: ignore[no-untyped-def]
    return store.coupons_of(store.merchant_id_for_username(username), None)[0]


def test_a_percent_coupon_made_in_the_form_is_listed(shop, store):
    made = shop.post("/dashboard/coupons", {"code": "norooz20", "kind": "percent", "value": "۲۰"})

    assert made.status == 303
    [coupon] = _coupons(store, "scarves")
    assert (coupon.code, coupon.kind.value, coupon.value) == ("NOROOZ20", "percent", 20)
    assert "NOROOZ20" in shop.get("/dashboard/coupons").text


def test_a_fixed_coupon_is_typed_in_toman_and_stored_in_rials(shop, store):
    made = shop.post(
        "/dashboard/coupons",
        {"code": "OFF50", "kind": "fixed", "value": "50,000", "max_uses": "3", "expires_on": "1499/12/29"},
    )

    assert made.status == 303
    [coupon] = _coupons(store, "scarves")
    assert (coupon.value, coupon.max_uses) == (500_000, 3)
    assert coupon.expires_at is not None


def test_a_percentage_over_100_is_a_field_error_and_nothing_is_made(shop, store):
    answer = shop.post("/dashboard/coupons", {"code": "TOOMUCH", "kind": "percent", "value": "150"})

    assert answer.status == 400
    assert 'id="e-value"' in answer.text
    assert _coupons(store, "scarves") == []


def test_a_past_expiry_is_a_field_error(shop, store):
    answer = shop.post(
        "/dashboard/coupons", {"code": "OLD10", "kind": "percent", "value": "10", "expires_on": "1390/01/01"}
    )

    assert answer.status == 400
    assert 'id="e-expires_on"' in answer.text
    assert _coupons(store, "scarves") == []


def test_a_code_used_twice_is_a_field_error(shop):
    shop.post("/dashboard/coupons", {"code": "TWICE", "kind": "percent", "value": "10"})

    again = shop.post("/dashboard/coupons", {"code": "TWICE", "kind": "percent", "value": "15"})

    assert again.status == 400
    assert 'id="e-code"' in again.text


def test_another_merchants_coupons_are_not_listed(shop, texts):
    shop.post("/dashboard/coupons", {"code": "MINE10", "kind": "percent", "value": "10"})
    rival = signed_up(texts, "09351234567", "hats", "203.0.113.10")

    assert "MINE10" not in rival.get("/dashboard/coupons").text


def test_a_cross_site_coupon_post_is_refused(shop, store):
    answer = shop.post(
        "/dashboard/coupons", {"code": "EVIL99", "kind": "percent", "value": "99"}, headers=CROSS_SITE
    )

    assert answer.status == 403
    assert _coupons(store, "scarves") == []


def test_the_coupons_page_without_a_session_goes_to_login(aws):
    answer = Browser().get("/dashboard/coupons")

    assert answer.status == 303
    assert answer.location.startswith("/login")
