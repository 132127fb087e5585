"""Fifty buyers at once against a merchant one payment short of its daily cap."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from local.run import Invoker, http_event
from local.template import functions, load_template, routes
from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.integration.test_concurrent_callbacks import moto_server  # noqa: F401 - the fixture

PER_PAYMENT = 1_000_000


def _event(method: str, target: str, body: bytes, headers: dict[str, str], buyer: int = 0) -> dict:  # type: ignore[type-arg]
    route = next(r for r in routes(load_template()) if r.method == method and r.pattern.match(target))
    match = route.pattern.match(target)
    assert match is not None
    return http_event(
        method,
        target,
        {"host": "pay.example", **headers},
        body,
        route,
        match.groupdict(),
        f"203.0.113.{buyer}",
    )


def _form(buyer: int) -> bytes:
    """Buyer `buyer`'s form: each buyer has an address and a phone of its own."""
    return f"name=A&phone=0912{buyer:07d}".encode()


def test_fifty_concurrent_checkouts_at_the_cap_let_exactly_one_reach_a_gateway(moto_server, gateways):  # noqa: F811
    from paylink.core.models import AccountType
    from paylink.merchants.accounts import create_merchant
    from paylink.store import get_store

    fns = functions(load_template())
    merchant_api, checkout = Invoker(fns["CreateLinkFunction"]), Invoker(fns["CheckoutFunction"])
    # Given a business merchant with room for exactly one more 1,000,000-rial payment today
    create_merchant(get_store(), username="capped", name="Capped", iban=VALID_IBAN, api_key=TEST_API_KEY,
                    account_type=AccountType.BUSINESS, daily_cap=5 * PER_PAYMENT)  # fmt: skip
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    body = json.dumps({"title": "Lesson", "amount": PER_PAYMENT}).encode()
    code = json.loads(merchant_api.invoke(_event("POST", "/v1/links", body, auth))["body"])["code"]
    form = {"content-type": "application/x-www-form-urlencoded"}
    for buyer in range(4):
        assert checkout.invoke(_event("POST", f"/{code}", _form(buyer), form, buyer))["statusCode"] == 303
    asked_before = len([c for c in gateways.calls("a") if c["path"].endswith("/v1/request")])
    # When fifty buyers check out at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(
                lambda buyer: checkout.invoke(_event("POST", f"/{code}", _form(buyer), form, buyer)),
                range(4, 54),
            )
        )
    # Then exactly one was sent to a gateway, the others were shown the form with the limit
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [303] + [400] * 49
    asked = len([c for c in gateways.calls("a") if c["path"].endswith("/v1/request")]) - asked_before
    assert asked == 1
