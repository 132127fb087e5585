"""The click path (paylink.web.click): the router's page byte for byte, and its short page cache.

`GET /{code}` is served without the router or pydantic (issue 18); these tests hold it to the
router's answer for every kind of link and state, and hold the cache to its promises: a change is
offered no longer than the cache's bound, one link's page is never another's, and nothing of one
buyer's request reaches another buyer.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.run import LambdaContext, http_event
from local.template import functions, load_template
from paylink.web import click
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}


def _event(code: str, query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    target = f"/{code}" + (f"?{query}" if query else "")
    event = http_event(
        "GET", target, {"host": "pay.example", **(headers or {})}, b"", None, {"code": code}, "203.0.113.9"
    )
    event["routeKey"] = event["requestContext"]["routeKey"] = click.ROUTE_KEY
    return event


def _router(event: dict[str, Any]) -> dict[str, Any]:
    routes = importlib.import_module("functions.checkout.routes")
    context = LambdaContext(functions(load_template())["CheckoutFunction"])
    return dict(routes.lambda_handler(event, context))


def _create(api, **body: Any) -> str:  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000, **body}, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return str(answer.json()["code"])


def _set(aws: str, code: str, **fields: Any) -> None:
    """Change a stored link's fields directly (what a sale, an edit or the clock would do)."""
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": v for k, v in fields.items()}
    boto3.resource("dynamodb", region_name="us-east-1").Table(aws).update_item(
        Key={"pk": f"LINK#{code}", "sk": "LINK"},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def _same_as_router(code: str, query: str = "") -> dict[str, Any]:
    fast = click.serve(_event(code, query), click.PageCache())
    assert fast == _router(_event(code, query))
    return fast


@pytest.fixture
def links(api, merchant, aws, gateways) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One link of each kind and state a buyer can meet."""
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    first_due = date.today() + timedelta(days=10)
    schedule = [
        {"amount": 1_000_000, "due_date": first_due.isoformat()},
        {"amount": 2_000_000, "due_date": (first_due + timedelta(days=30)).isoformat()},
    ]
    made = {
        "item": _create(
            api, description="Hand-woven, 2 m", collect=["name", "phone", "email", "address", "note"]
        ),
        "quantity": _create(api, max_quantity=5, max_payments=40, expires_at=soon),
        "open": _create(api, title="Tip", amount=None, kind="open", min_amount=10_000, max_amount=5_000_000),
        "invoice": _create(
            api,
            title="Sofa",
            kind="invoice",
            amount=3_000_000,
            installments=schedule,
            payer={"name": "Sara", "phone": "09120000000"},
        ),
        "inactive": _create(api),
        "sold_out": _create(api, max_payments=2),
        "expired": _create(api, expires_at=soon),
    }
    _set(aws, made["inactive"], active=False)
    _set(aws, made["sold_out"], paid_count=2)
    _set(aws, made["expired"], expires_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    assert api.get("/u/shop").status == 200  # makes the personal page's link, code u-shop
    made["personal"] = "u-shop"
    return made


@pytest.mark.parametrize("lang", ["", "lang=en"])
@pytest.mark.parametrize(
    ("kind", "status"),
    [("item", 200), ("quantity", 200), ("open", 200), ("invoice", 200), ("personal", 200),
     ("inactive", 410), ("sold_out", 410), ("expired", 410)],
)  # fmt: skip
def test_the_click_path_answers_exactly_as_the_router(links, kind, status, lang):
    # Given a link of each kind and state, When a buyer opens it by the click path and by the router
    answer = _same_as_router(links[kind], lang)
    # Then both answer the same status, headers and page, byte for byte
    assert answer["statusCode"] == status


def test_an_unknown_code_is_the_routers_404_page(links):
    assert _same_as_router("NoSuchCode12")["statusCode"] == 404
    assert _same_as_router("NoSuchCode12", "lang=en")["statusCode"] == 404


def test_an_invoice_with_a_paid_installment_shows_the_same_schedule(api, links):
    # Given an invoice whose first installment is paid
    started = api.post_form(f"/{links['invoice']}", BUYER)
    assert started.status == 303, started.text
    assert api.get(local_target(act_at_gateway(started.location))).status == 303
    # Then the click path shows the schedule as the router does (first paid, second next)
    answer = _same_as_router(links["invoice"])
    assert answer["statusCode"] == 200
    assert 'class="paid"' in answer["body"]


def test_a_click_the_fast_path_cannot_answer_is_answered_by_the_router(api, links, monkeypatch):
    # Given the click path's own read fails
    def broken(code: str) -> None:
        raise RuntimeError("DynamoDB is unreachable from this instance")

    monkeypatch.setattr(click, "read_link", broken)
    # When a buyer opens the link through the handler
    page = api.get(f"/{links['item']}")
    # Then the router answered: the page itself
    assert page.status == 200
    assert "Scarf" in page.text


# ---- the page cache --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cached(monkeypatch) -> tuple[click.PageCache, Clock]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(click.CACHE_ENV, "5")
    clock = Clock()
    return click.PageCache(clock=clock), clock


def test_a_deactivated_link_is_offered_no_longer_than_the_cache_bound(links, aws, cached):
    cache, clock = cached
    code = links["item"]
    # Given an instance that served the link's page
    assert click.serve(_event(code), cache)["statusCode"] == 200
    # When the merchant deactivates the link
    _set(aws, code, active=False)
    # Then the page may still be served within the bound, and is gone once it has passed
    clock.now += 4.9
    assert click.serve(_event(code), cache)["statusCode"] == 200
    clock.now += 0.1
    assert click.serve(_event(code), cache)["statusCode"] == 410


def test_a_sold_out_link_is_offered_no_longer_than_the_cache_bound(links, aws, cached):
    cache, clock = cached
    code = links["sold_out"]
    _set(aws, code, paid_count=1)  # one unit left
    assert click.serve(_event(code), cache)["statusCode"] == 200
    _set(aws, code, paid_count=2)  # the last unit sold
    clock.now += 5
    answer = click.serve(_event(code), cache)
    assert answer["statusCode"] == 410
    assert answer == _router(_event(code))


def test_a_link_is_never_kept_past_its_own_expiry(links, aws):
    # Given a link that expires in two seconds and a cache of five
    _set(aws, links["item"], expires_at=(datetime.now(UTC) + timedelta(seconds=2)).isoformat())
    link = click.LinkView(click.read_link(links["item"]) or {})
    # Then its page is kept at most until it expires
    assert 0 < click.keep_for(link, datetime.now(UTC), 5.0) <= 2.0


def test_the_cache_never_serves_one_links_page_for_another(links, cached):
    cache, _ = cached
    # Given two links and both languages served through one instance's cache
    pages = {
        (kind, lang): click.serve(_event(links[kind], lang), cache)["body"]
        for kind in ("item", "open")
        for lang in ("", "lang=en")
    }
    # Then each later click gets its own link's page in its own language
    for (kind, lang), body in pages.items():
        again = click.serve(_event(links[kind], lang), cache)["body"]
        assert again == body == _router(_event(links[kind], lang))["body"]
    assert len(set(pages.values())) == 4


def test_no_buyers_input_reaches_another_buyer_through_the_cache(api, links, cached, monkeypatch):
    cache, _ = cached
    code = links["item"]
    # Given a buyer whose form came back with errors, and whose request carried a cookie and a name
    monkeypatch.setattr(click, "PAGES", cache)
    answer = api.post_form(f"/{code}", {"name": "Ali Rezaei", "phone": "not a phone"})
    assert answer.status == 400
    assert "Ali Rezaei" in answer.text
    first = click.serve(_event(code, "lang=fa&name=Ali+Rezaei", {"cookie": "session=secret-of-ali"}), cache)
    # When another buyer opens the link through the same instance
    other = api.get(f"/{code}")
    # Then the page holds nothing of the first buyer: it is the page of no buyer
    assert other.status == 200
    assert "Ali Rezaei" not in other.text
    assert "secret-of-ali" not in other.text
    assert first["body"] == other.text == _router(_event(code))["body"]
    assert "Set-Cookie" not in other.headers
    assert first["cookies"] == []


def test_an_invoice_page_is_never_kept(links, aws, cached):
    cache, _ = cached
    code = links["invoice"]
    assert click.serve(_event(code), cache)["statusCode"] == 200
    _set(aws, code, active=False)
    assert click.serve(_event(code), cache)["statusCode"] == 410  # read again at once


def test_a_kept_page_is_not_changed_by_what_a_caller_does_with_its_answer(links, cached):
    cache, _ = cached
    code = links["item"]
    click.serve(_event(code), cache)["headers"]["Set-Cookie"] = "x=1"
    assert "Set-Cookie" not in click.serve(_event(code), cache)["headers"]


def test_the_cache_holds_a_bounded_number_of_pages(cached):
    # Given a cache of two pages, When a third is kept, Then the least recently used is dropped
    _, clock = cached
    cache = click.PageCache(entries=2, clock=clock)
    for code in ("a", "b", "c"):
        cache.put((code, "fa"), {"body": code, "headers": {}}, 5)
    assert [cache.get((c, "fa")) is not None for c in ("a", "b", "c")] == [False, True, True]


def test_without_the_setting_nothing_is_kept(links, aws, monkeypatch):
    monkeypatch.delenv(click.CACHE_ENV, raising=False)
    cache = click.PageCache()
    code = links["item"]
    click.serve(_event(code), cache)
    _set(aws, code, active=False)
    assert click.serve(_event(code), cache)["statusCode"] == 410


@pytest.mark.parametrize(
    ("setting", "seconds"), [("5", 5.0), ("0", 0.0), ("-3", 0.0), ("600", 30.0), ("x", 0.0)]
)
def test_the_cache_bound_stays_within_thirty_seconds(monkeypatch, setting, seconds):
    monkeypatch.setenv(click.CACHE_ENV, setting)
    assert click.cache_seconds() == seconds
