"""Where a browser may be sent and which form posts we take (paylink.web.origins), as pure decisions."""

from __future__ import annotations

import pytest

from paylink.web.origins import origin_of, redirect_url_problem, refuses_form_post, stays_on
from tests.redirect_cases import FINE_REDIRECTS, HOSTILE_REDIRECTS, look_alikes_of, ours_and_below

OURS = "https://pay.example.com"
GATEWAY = "https://gw.example/ipg"

HOSTILE = {**HOSTILE_REDIRECTS, **look_alikes_of("pay.example.com")}
FINE = {**FINE_REDIRECTS, **ours_and_below("pay.example.com")}


@pytest.mark.parametrize("url", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_redirect_url_has_a_problem(url):
    # When a merchant's redirect_url is checked
    problem = redirect_url_problem(url, "pay.example.com")
    # Then it is refused with a reason
    assert problem


@pytest.mark.parametrize("url", FINE.values(), ids=FINE.keys())
def test_a_plain_https_redirect_url_has_no_problem(url):
    # When a merchant's own https address is checked
    # Then nothing is wrong with it
    assert redirect_url_problem(url, "pay.example.com") is None


def test_a_look_alike_is_only_refused_as_one_of_our_host():
    # Given no own host to compare with (PUBLIC_BASE_URL unset)
    # When a host that would imitate pay.example.com is checked
    # Then it is a merchant's choice like any other
    assert redirect_url_problem("https://pay.examp1e.com/", None) is None


@pytest.mark.parametrize(
    "url",
    [
        f"{GATEWAY}/start/123",
        "https://GW.example:443/ipg/OnlinePG",
        "https://gw.example/ipg/../../elsewhere",  # still the gateway's host: its own business
    ],
)
def test_a_redirect_on_the_gateways_origin_stays_on_it(url):
    # When a gateway's redirect is compared with its configured base URL
    # Then it is on the gateway's origin
    assert stays_on(url, GATEWAY)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/start/1",
        "//evil.example/start/1",
        "/start/1",
        "https://gw.example@evil.example/",
        "https://gw.example:8443/start/1",
        "http://gw.example/start/1",
        "https://gw.example.evil.example/start/1",
        "https://gw.example/start/1\r\nSet-Cookie: a=b",
        "https://gw.example/start/%0d%0aSet-Cookie:a=b",
        "https:/\\evil.example",
        "https://gw.example\\@evil.example/",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_redirect_off_the_gateways_origin_does_not_stay_on_it(url):
    # When a gateway answers a redirect elsewhere (or a broken one)
    # Then it is not on the gateway's origin
    assert not stays_on(url, GATEWAY)


def test_origin_is_lowercased_without_the_default_port():
    # When the origin of a URL with an explicit default port is read
    # Then it is the canonical scheme://host
    assert origin_of("HTTPS://Pay.Example.com:443/x?y#z") == "https://pay.example.com"


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"sec-fetch-site": "cross-site", "origin": OURS}, True),  # Fetch Metadata wins
        ({"Sec-Fetch-Site": "same-origin"}, False),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, False),  # what older no-referrer pages posted
        ({"Sec-Fetch-Site": "none"}, False),
        ({}, False),  # curl, a merchant's server code
        ({"Origin": "null"}, True),  # a sandboxed frame or data: page of another site, no Fetch Metadata
        ({"origin": "NULL", "referer": "https://pay.example.com/x"}, True),
        ({"Sec-Fetch-Site": "bogus", "Origin": "null"}, True),
        ({"Origin": OURS}, False),
        ({"Origin": "https://PAY.example.com:443"}, False),
        ({"Origin": "https://evil.example"}, True),
        ({"Origin": "http://pay.example.com"}, True),  # another scheme is another origin
        ({"Origin": "https://pay.example.com.evil.example"}, True),
        ({"Origin": "garbage"}, True),
        ({"Sec-Fetch-Site": "bogus", "Origin": "https://evil.example"}, True),
        ({"Sec-Fetch-Site": "bogus"}, False),
    ],
    ids=lambda value: repr(value) if isinstance(value, dict) else str(value),
)
def test_cross_site_form_post_decision(headers, refused):
    # When a form post with these headers reaches a buyer page of https://pay.example.com
    # Then it is refused exactly when another site sent it
    assert refuses_form_post(headers, OURS) is refused
