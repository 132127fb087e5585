"""The merchant's personal page `/u/{username}`: an open-amount page over a hidden open link."""

from __future__ import annotations

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target


def test_personal_page_shows_the_merchant_and_an_amount_field_within_its_limits(api, merchant):
    # When a payer opens the merchant's personal page
    page = api.get("/u/shop")
    # Then it is the open-amount form: from 100 toman up to the personal cap of 1,000,000 toman
    assert page.status == 200
    assert page.function_id == "CheckoutFunction"
    assert "Scarf Shop" in page.text
    assert 'name="amount"' in page.text
    assert 'name="note"' in page.text
    assert "از ۱۰۰ تومان تا ۱٬۰۰۰٬۰۰۰ تومان" in page.text
    assert 'action="/u/shop"' in page.text


def test_personal_page_in_english_posts_back_to_itself(api, merchant):
    page = api.get("/u/shop?lang=en")
    assert page.status == 200
    assert "Pay Scarf Shop" in page.text
    assert 'action="/u/shop?lang=en"' in page.text


def test_unknown_username_shows_the_404_page(api, merchant):
    page = api.get("/u/nobody")
    assert page.status == 404
    assert "text/html" in page.headers["Content-Type"]
    assert api.get("/u/NOT%20valid").status == 404


def test_personal_link_is_not_in_the_merchants_list_of_links(api, merchant):
    api.get("/u/shop")
    assert api.get("/v1/links", key=TEST_API_KEY).json()["items"] == []


def test_payment_through_the_personal_page(api, merchant, gateways):
    # Given a payer who chose 25,000 toman and left a note
    form = {"amount": "25000", "name": "Ali Rezaei", "note": "for the lesson"}
    # When he pays through the personal page
    started = api.post_form("/u/shop", form)
    assert started.status == 303, started.text
    done = api.get(local_target(act_at_gateway(started.location)))
    assert done.status == 303
    # Then the merchant sees a paid payment of 250,000 rials with the note
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert (payment["status"], payment["amount"]) == ("paid", 250_000)
    assert payment["payer"] == {"name": "Ali Rezaei", "note": "for the lesson"}
    link = api.get(f"/v1/links/{payment['link_code']}", key=TEST_API_KEY).json()
    assert (link["kind"], link["paid_count"], link["paid_total"]) == ("open", 1, 250_000)


def test_personal_page_refuses_an_amount_over_the_cap_with_a_field_error(api, merchant, gateways):
    answer = api.post_form("/u/shop", {"amount": "2000000", "name": "Ali"})
    assert answer.status == 400
    assert 'id="err-amount"' in answer.text
    answer = api.post_form("/u/shop", {"amount": "50", "name": "Ali"})
    assert answer.status == 400
    assert api.get("/v1/payments", key=TEST_API_KEY).json()["items"] == []


def test_post_to_an_unknown_username_is_404(api, merchant):
    assert api.post_form("/u/nobody", {"amount": "25000", "name": "Ali"}).status == 404


def test_personal_page_qr_codes(api, merchant):
    svg = api.get("/u/shop/qr.svg")
    assert svg.status == 200
    assert svg.function_id == "CreateLinkFunction"
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<")
    png = api.get("/u/shop/qr.png")
    assert png.status == 200
    assert png.body.startswith(b"\x89PNG")
    assert api.get("/u/nobody/qr.svg").status == 404


def test_a_lower_merchant_limit_follows_onto_the_personal_page(api, store, merchant):
    from paylink.merchants.accounts import update_merchant

    api.get("/u/shop")
    update_merchant(store, "shop", per_payment_cap=5_000_000)
    page = api.get("/u/shop")
    assert "۵۰۰٬۰۰۰ تومان" in page.text
