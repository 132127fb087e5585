"""Cross-site form posts to the buyer pages, through the handler: refused with a 403 page in the
buyer's language before anything is written or any gateway is asked; our own posts go through."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import table_items

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
CROSS_SITE = {
    "fetch-metadata-cross-site": {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    "fetch-metadata-same-site": {"sec-fetch-site": "same-site", "origin": "https://shop.pay.example"},
    "foreign-origin-only": {"origin": "https://evil.example"},
    # A sandboxed iframe or a data: page elsewhere posts with `Origin: null`; without Fetch Metadata
    # nothing says the post is ours.
    "null-origin-without-fetch-metadata": {"origin": "null"},
}


@pytest.fixture
def code(api, merchant, gateways):  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    return answer.json()["code"]


def _post(api, target, fields, headers):  # type: ignore[no-untyped-def]
    return api.request("POST", target, body=urlencode(fields).encode(), headers={**FORM, **headers})


def _gateway_calls(gateways) -> int:  # type: ignore[no-untyped-def]
    return sum(len(gateways.calls(name)) for name in ("a", "b", "s"))


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_checkout_is_refused_and_writes_nothing(api, code, aws, gateways, headers):
    # Given the table and the gateways as they are
    before, calls = table_items(aws), _gateway_calls(gateways)
    # When another site's page makes the buyer's browser post the form
    answer = _post(api, f"/{code}", BUYER, headers)
    # Then it is the 403 page in Persian, nothing was stored and no gateway was asked
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("text/html")
    assert 'lang="fa"' in answer.text
    assert "این فرم از سایت دیگری فرستاده شد" in answer.text
    assert table_items(aws) == before
    assert _gateway_calls(gateways) == calls


def test_the_refusal_speaks_the_buyers_language_and_links_back_to_the_page(api, code):
    # When a cross-site post asks for English
    answer = _post(api, f"/{code}?lang=en", BUYER, CROSS_SITE["fetch-metadata-cross-site"])
    # Then the 403 page is in English and offers the link's own page
    assert answer.status == 403
    assert "This form was sent from another site" in answer.text
    assert f'href="/{code}?lang=en"' in answer.text


def test_a_cross_site_coupon_apply_is_refused(api, code, aws):
    # Given the table as it is
    before = table_items(aws)
    # When another site posts the coupon "apply" button
    answer = _post(api, f"/{code}", {"action": "apply", "coupon": "SAVE"}, {"sec-fetch-site": "cross-site"})
    # Then it is refused and nothing changed
    assert answer.status == 403
    assert table_items(aws) == before


def test_a_cross_site_post_to_a_personal_page_makes_not_even_its_link(api, merchant, aws, gateways):
    # Given a merchant whose personal page nobody has opened yet (its link is made on first use)
    before = table_items(aws)
    # When another site posts to it
    answer = _post(api, "/u/shop", {**BUYER, "amount": "50000"}, {"sec-fetch-site": "cross-site"})
    # Then it is refused and not even the personal link was written
    assert answer.status == 403
    assert 'href="/u/shop"' in answer.text
    assert table_items(aws) == before


OWN = {
    "same-origin": {"sec-fetch-site": "same-origin", "origin": "null"},
    "typed-or-bookmarked": {"sec-fetch-site": "none"},
    "no-headers-at-all": {},
    "our-own-origin": {"origin": "https://pay.example"},
}


@pytest.mark.parametrize("headers", OWN.values(), ids=OWN.keys())
def test_our_own_form_posts_reach_the_gateway(api, code, gateways, headers):
    # When the form is posted from our own page (or by a client that sends no browser headers)
    answer = _post(api, f"/{code}", BUYER, headers)
    # Then the buyer is sent to the gateway and the payment is recorded
    assert answer.status == 303
    assert answer.location.startswith(f"{gateways.url}/a/start/")
    assert len(api.get("/v1/payments", key=TEST_API_KEY).json()["items"]) == 1


def test_gateway_returns_stay_open_to_other_sites(api, code, gateways):
    # Given a payment started at gateway a
    started = _post(api, f"/{code}", BUYER, {})
    token = started.location.rsplit("/", 1)[1]
    payment_id = api.get("/v1/payments", key=TEST_API_KEY).json()["items"][0]["id"]
    # When the gateway's page sends the buyer back, cross-site by design
    target = f"/callback/sandbox-a?trackId={token}&success=0&status=3&orderId={payment_id}"
    answer = api.request("GET", target, headers={"sec-fetch-site": "cross-site"})
    # Then the return is handled (verified server to server), not refused
    assert answer.status == 303
    assert answer.location.startswith("/r/")
