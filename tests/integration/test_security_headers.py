"""Security headers on every kind of answer, driven through the handlers as template.yaml routes them:
every page, every redirect, every JSON/CSV answer and both QR images."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.helpers import Answer, ApiClient, act_at_gateway, local_target

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
BANK_API_KEY = "plk_bank_merchant_key"
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


@dataclass
class Site:
    api: ApiClient
    code: str
    bank_code: str
    single_code: str
    gateway_origins: list[str]

    def pay(self, code: str, action: str = "pay") -> Answer:
        started = self.api.post_form(f"/{code}", BUYER)
        assert started.status == 303, started.text
        return self.api.get(local_target(act_at_gateway(started.location, action)))


@pytest.fixture
def site(api, merchant, store, gateways) -> Site:  # type: ignore[no-untyped-def]
    from paylink.merchants.accounts import create_merchant

    create_merchant(store, username="bank", name="Bank Shop", iban=VALID_IBAN, api_key=BANK_API_KEY,
                    gateways=["sandbox-s"])  # fmt: skip
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    code = code.json()["code"]
    single = api.post_json(
        "/v1/links", {"title": "Last one", "amount": 50_000, "max_payments": 1}, key=TEST_API_KEY
    ).json()["code"]
    bank = api.post_json("/v1/links", {"title": "Bag", "amount": 700_000}, key=BANK_API_KEY).json()["code"]
    origins = [f"{gateways.url}"]  # the three sandbox instances share one origin
    return Site(api, code, bank, single, origins)


def _inactive(site: Site) -> Answer:
    site.api.patch_json(f"/v1/links/{site.code}", {"active": False}, key=TEST_API_KEY)
    return site.api.get(f"/{site.code}")


def _in_progress(site: Site) -> Answer:
    assert site.api.post_form(f"/{site.single_code}", BUYER).status == 303
    return site.api.post_form(f"/{site.single_code}", BUYER)


def _no_gateway(site: Site, gateways: Any) -> Answer:
    for name in ("a", "b", "s"):
        gateways.set_mode(name, "down")
    return site.api.post_form(f"/{site.code}", BUYER)


def _receipt(site: Site) -> Answer:
    return site.api.get(site.pay(site.code).location)


def _failed_receipt(site: Site) -> Answer:
    return site.api.get(site.pay(site.code, "cancel").location)


def _cross_site(site: Site) -> Answer:
    return site.api.request(
        "POST",
        f"/{site.code}",
        body=b"name=Ali&phone=09121234567",
        headers={"content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site"},
    )


def _get(path: str, key: str | None = None) -> Callable[..., Answer]:
    return lambda s, g: s.api.get(path.format(code=s.code), key=key)


def _post(path: str, fields: dict[str, str]) -> Callable[..., Answer]:
    return lambda s, g: s.api.post_form(path.format(code=s.code, bank=s.bank_code), fields)


def _post_json(path: str, body: dict[str, Any]) -> Callable[..., Answer]:
    return lambda s, g: s.api.post_json(path, body, key=TEST_API_KEY)


# name -> (what kind of answer, expected status, how to get it)
KINDS: dict[str, tuple[str, int, Callable[..., Answer]]] = {
    "link-page": ("page", 200, _get("/{code}")),
    "link-page-en": ("page", 200, _get("/{code}?lang=en")),
    "form-errors": ("page", 400, _post("/{code}", {"name": ""})),
    "coupon-apply": ("page", 400, _post("/{code}", {"action": "apply", "coupon": "X"})),
    "unknown-link": ("page", 404, _get("/nosuchcode")),
    "unknown-link-post": ("page", 404, _post("/nosuchcode", BUYER)),
    "inactive-link": ("page", 410, lambda s, g: _inactive(s)),
    "payment-in-progress": ("page", 409, lambda s, g: _in_progress(s)),
    "no-gateway": ("page", 503, _no_gateway),
    "cross-site-post": ("page", 403, lambda s, g: _cross_site(s)),
    "personal-page": ("page", 200, _get("/u/shop")),
    "personal-page-unknown": ("page", 404, _get("/u/nobody")),
    "personal-form-errors": ("page", 400, _post("/u/shop", {"amount": "x"})),
    "sep-auto-submit": ("page", 200, _post("/{bank}", BUYER)),
    "receipt-paid": ("page", 200, lambda s, g: _receipt(s)),
    "receipt-failed": ("page", 200, lambda s, g: _failed_receipt(s)),
    "receipt-unknown": ("page", 404, _get("/r/pay_nosuch")),
    "callback-unknown-token": (
        "page",
        404,
        _get("/callback/sandbox-a?trackId=9&success=1&orderId=pay_unknown"),
    ),
    "callback-unreadable": ("page", 400, _get("/callback/sandbox-a")),
    "callback-unknown-gateway": ("page", 404, _get("/callback/nosuch?trackId=9")),
    "checkout-redirect": ("redirect", 303, _post("/{code}", BUYER)),
    "callback-redirect": ("redirect", 303, lambda s, g: s.pay(s.code)),
    "api-created": ("json", 201, _post_json("/v1/links", {"title": "T", "amount": 10_000})),
    "api-read": ("json", 200, _get("/v1/links/{code}", TEST_API_KEY)),
    "api-field-errors": ("json", 400, _post_json("/v1/links", {"title": ""})),
    "api-unauthorized": ("json", 401, _get("/v1/links")),
    "api-not-found": ("json", 404, _get("/v1/links/nosuch", TEST_API_KEY)),
    "csv-export": ("csv", 200, _get("/v1/payments?format=csv", TEST_API_KEY)),
    "qr-svg": ("image", 200, _get("/{code}/qr.svg")),
    "qr-png": ("image", 200, _get("/{code}/qr.png")),
    "personal-qr-svg": ("image", 200, _get("/u/shop/qr.svg")),
}


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def _check_page(answer: Answer, site: Site) -> None:
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    policy = _directives(answer.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'", *site.gateway_origins]
    # No directive but form-action names another host; scripts only by hash, never inline at large
    for name, sources in policy.items():
        if name != "form-action":
            assert not [s for s in sources if re.match(r"(https?:|\*|//)", s)], (name, sources)
    assert all(s.startswith("'sha256-") for s in policy["script-src"]), policy["script-src"]


def _check_closed(answer: Answer) -> None:
    """A JSON, CSV or redirect answer: no content policy to speak of, never cached."""
    assert answer.headers["Cache-Control"] == "no-store"
    policy = _directives(answer.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
def test_every_answer_carries_the_security_headers_of_its_kind(kind, site, gateways):
    # Given an answer of this kind
    category, status, get = KINDS[kind]
    answer = get(site, gateways)
    assert answer.status == status, answer.text[:500]
    # Then it carries the headers every answer carries
    for name, value in COMMON.items():
        assert answer.headers.get(name) == value, (name, answer.headers)
    # And a Referer (and a real Origin) only ever for our own pages' requests to us
    referrer = "same-origin" if category == "page" else "no-referrer"
    assert answer.headers.get("Referrer-Policy") == referrer
    # And those of its kind
    if category == "page":
        _check_page(answer, site)
    elif category in ("json", "csv", "redirect"):
        _check_closed(answer)
        if category == "json":
            assert answer.headers["Content-Type"] == "application/json"
        if category == "redirect":
            assert answer.location
    else:
        assert answer.headers["Content-Type"] in ("image/svg+xml", "image/png")
        assert answer.headers["Cache-Control"] == "public, max-age=86400"


def test_the_svg_qr_code_cannot_run_anything_it_holds(site):
    # When the SVG QR code is fetched
    answer = site.api.get(f"/{site.code}/qr.svg")
    # Then it is served as SVG, not sniffed, with a policy that runs no script and sandboxes it
    assert answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    policy = _directives(answer.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert "sandbox" in policy
    assert "script-src" not in policy
    assert b"<script" not in answer.body


def test_the_auto_submit_script_is_the_one_the_page_policy_allows(site):
    # Given the page that auto-submits the form to a bank gateway
    import base64
    import hashlib

    answer = site.api.post_form(f"/{site.bank_code}", BUYER)
    # When its scripts are hashed as a browser does
    scripts = re.findall(r"<script>(.*?)</script>", answer.text, flags=re.S)
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    # Then its one script is exactly what the policy allows
    assert len(scripts) == 1
    assert hashes == set(_directives(answer.headers["Content-Security-Policy"])["script-src"])
