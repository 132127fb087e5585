"""template.yaml: API Gateway throttles every route, the probe-able ones below the default.

HTTP API throttling is per route for all clients together (see the comment on HttpApi): it bounds
the rate of guesses at codes and ids and what probing costs, not what one client may do.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.template import load_template, routes

TEMPLATE = load_template()
API = TEMPLATE["Resources"]["HttpApi"]["Properties"]
DEFAULT = API["DefaultRouteSettings"]
SETTINGS: dict[str, dict[str, Any]] = API["RouteSettings"]
ROUTE_KEYS = {f"{r.method} {r.path}" for r in routes(TEMPLATE)}

# Public routes that answer per code, id or username: what a prober enumerates.
PROBED = [
    "GET /{code}", "POST /{code}", "GET /{code}/qr.svg", "GET /{code}/qr.png", "GET /r/{payment_id}",
    "GET /u/{username}", "POST /u/{username}", "GET /u/{username}/qr.svg", "GET /u/{username}/qr.png",
    "GET /callback/{gateway}", "POST /callback/{gateway}",
    "GET /refund/{token}", "POST /refund/{token}",  # the payer's page of a refund (issue 15)
]  # fmt: skip
MERCHANT_API = sorted(key for key in ROUTE_KEYS if key.split(" ", 1)[1].startswith("/v1/"))
# The merchant panel (issue 14): each sends an SMS, checks a code or runs paid inquiries, or reads per id.
PANEL_PREFIXES = ("/login", "/signup", "/logout", "/dashboard")
PANEL = sorted(key for key in ROUTE_KEYS if key.split(" ", 1)[1].startswith(PANEL_PREFIXES))


def test_the_default_route_settings_stay():
    # Then a route added without an entry is still throttled
    assert DEFAULT["ThrottlingRateLimit"] > 0
    assert DEFAULT["ThrottlingBurstLimit"] > 0


def test_every_http_api_route_of_every_function_has_its_own_settings():
    # Given the HttpApi events of every function
    # Then each route key has an entry, exactly as the event spells it
    assert ROUTE_KEYS - set(SETTINGS) == set()


def test_every_route_setting_names_a_route_of_the_template():
    # Then no entry is stale or misspelt (a deploy fails on a route key the API does not have)
    assert set(SETTINGS) - ROUTE_KEYS == set()


# The click (issue 18) is sized for a viral link instead: see the two tests after this one.
CLICK = "GET /{code}"
VIRAL_CLICKS = 5_000  # a link shared by a large page: clicks a second
ACCOUNT_RATE, ACCOUNT_BURST = 10_000, 5_000  # API Gateway's default account limit in a region


@pytest.mark.parametrize("route", [r for r in PROBED if r != CLICK] + MERCHANT_API + PANEL)
def test_a_probe_able_route_is_throttled_below_the_default(route):
    # Given a public route answering per code, id or username, or a merchant API route
    settings = SETTINGS[route]
    # Then both its steady rate and its burst are stricter than the default, and the burst holds
    # at least a second's worth of its rate
    assert 0 < settings["ThrottlingRateLimit"] < DEFAULT["ThrottlingRateLimit"]
    assert 0 < settings["ThrottlingBurstLimit"] < DEFAULT["ThrottlingBurstLimit"]
    assert settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]


def test_the_merchant_api_routes_are_all_checked():
    # Then the table above covers the merchant API's routes (and there are some)
    assert len(MERCHANT_API) >= 10
    assert set(PROBED) <= ROUTE_KEYS


def test_a_gateway_return_is_never_throttled_before_the_checkout_that_started_it():
    # Given a payment starts at POST /{code} (or a personal page) and returns at /callback
    starts = max(SETTINGS[k]["ThrottlingRateLimit"] for k in ("POST /{code}", "POST /u/{username}"))
    # Then a return (and a gateway's second, server-side return) always fits in the callback's rate
    for method in ("GET", "POST"):
        assert SETTINGS[f"{method} /callback/{{gateway}}"]["ThrottlingRateLimit"] >= 2 * starts


def test_the_click_route_lets_a_viral_links_clicks_through_within_the_account_limit():
    # Given one link drawing 5,000 clicks a second while other merchants' links are clicked too
    click = SETTINGS[CLICK]
    # Then the click route passes them all, with room for the rest, and stays within what the
    # account itself allows (a higher route limit would be a promise the account cannot keep)
    assert VIRAL_CLICKS < click["ThrottlingRateLimit"] <= ACCOUNT_RATE
    assert VIRAL_CLICKS <= click["ThrottlingBurstLimit"] <= ACCOUNT_BURST


def test_a_viral_links_buyers_can_start_payments():
    # Given 1 click in 20 of a viral link starting a payment
    starts = min(SETTINGS[k]["ThrottlingRateLimit"] for k in ("POST /{code}", "POST /u/{username}"))
    # Then the start of a payment is not the route that throttles them
    assert starts >= VIRAL_CLICKS // 20
