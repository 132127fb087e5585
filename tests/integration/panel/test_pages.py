"""Panel pages (issue 14): links made in a form, payments seen on the home page, in the list and
its CSV, a payment's timeline; another merchant's objects answer exactly like missing ones."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.helpers import ApiClient, act_at_gateway, local_target
from tests.integration.panel.support import Browser, signed_up

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
MISSING = {"code": "nosuchcode00", "id": "pay_" + "Z" * 22}


def _new_link(browser: Browser, **fields: str) -> str:
    answer = browser.post("/dashboard/links/new", {"title": "Scarf", "amount": "۱۲۰٬۰۰۰", **fields})
    assert answer.status == 303, answer.text
    return answer.location.rsplit("/", 1)[1].split("?")[0]


def _pay(code: str) -> str:
    api = ApiClient("198.51.100.20")
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    receipt = api.get(local_target(act_at_gateway(started.location)))
    assert receipt.status in (200, 303), receipt.text
    return receipt.location or local_target(act_at_gateway(started.location))


@pytest.fixture
def shop(aws, texts, inquiry, gateways):
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


def test_a_link_made_in_the_form_shows_its_url_qr_and_share_buttons(shop):
    code = _new_link(shop, description="Wool, handmade")

    page = shop.get(f"/dashboard/links/{code}")

    assert page.status == 200
    assert f"https://pay.example/{code}" in page.text
    assert f'src="/{code}/qr.svg"' in page.text
    assert "https://t.me/share/url?" in page.text
    assert "https://wa.me/?" in page.text
    assert "۱۲۰٬۰۰۰ تومان" in page.text


def test_the_amount_is_taken_in_toman_with_latin_digits_too(shop, store):
    code = _new_link(shop, amount="120,000")

    assert store.get_link(code).amount == 1_200_000


@pytest.mark.parametrize(
    ("field", "value"), [("title", ""), ("amount", "12.5"), ("amount", "abc"), ("kind", "x")]
)
def test_a_bad_link_form_shows_the_error_and_creates_nothing(shop, field, value):
    answer = shop.post(
        "/dashboard/links/new", {"title": "Scarf", "amount": "1000", "kind": "item", field: value}
    )

    assert answer.status == 400
    assert 'class="field-error"' in answer.text or 'class="summary"' in answer.text
    assert "/dashboard/links/" not in shop.get("/dashboard/links").text.replace("/dashboard/links/new", "")


def test_a_link_can_be_deactivated(shop, store):
    code = _new_link(shop)

    answer = shop.post(f"/dashboard/links/{code}/deactivate", {})

    assert answer.status == 303
    assert store.get_link(code).active is False


def test_a_paid_payment_shows_on_home_in_the_list_its_csv_and_its_page(shop):
    code = _new_link(shop)
    _pay(code)

    home = shop.get("/dashboard")
    listed = shop.get("/dashboard/payments")
    exported = shop.get("/dashboard/payments?format=csv")

    assert "۱۲۰٬۰۰۰ تومان" in home.text.split('id="sales-today"')[1][:200]
    payment_id = re.search(r"/dashboard/payments/(pay_[A-Za-z0-9]+)", listed.text).group(1)
    assert payment_id in home.text
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["id"], r["status"], r["amount"]) for r in rows] == [(payment_id, "paid", "1200000")]
    page = shop.get(f"/dashboard/payments/{payment_id}")
    assert page.status == 200
    assert 'id="timeline"' in page.text


def test_payments_are_filtered_by_status_and_link(shop):
    paid_code, other_code = _new_link(shop), _new_link(shop, title="Hat")
    _pay(paid_code)

    by_link = shop.get(f"/dashboard/payments?link={other_code}")
    by_status = shop.get("/dashboard/payments?status=failed")
    paid = shop.get("/dashboard/payments?status=paid")

    assert "/dashboard/payments/pay_" not in by_link.text
    assert "/dashboard/payments/pay_" not in by_status.text
    assert "/dashboard/payments/pay_" in paid.text


def test_a_bad_filter_is_a_400_page_not_a_500(shop):
    answer = shop.get("/dashboard/payments?from=yesterday")

    assert answer.status == 400


def test_every_page_has_an_english_version(shop):
    code = _new_link(shop)
    for path in ("/dashboard", "/dashboard/links", "/dashboard/links/new", f"/dashboard/links/{code}",
                 "/dashboard/payments", "/dashboard/settlements", "/dashboard/settings"):  # fmt: skip
        fa, en = shop.get(path), shop.get(path + "?lang=en")
        assert 'lang="fa" dir="rtl"' in fa.text, path
        assert 'lang="en" dir="ltr"' in en.text, path


@pytest.fixture
def two_shops(aws, texts, inquiry, gateways):
    mine = signed_up(texts, "09121234567", "mine", "203.0.113.9")
    theirs = signed_up(texts, "09351112233", "theirs", "203.0.113.10")
    their_code = _new_link(theirs)
    _pay(their_code)
    listed = theirs.get("/dashboard/payments").text
    their_payment = re.search(r"/dashboard/payments/(pay_[A-Za-z0-9]+)", listed).group(1)
    return mine, {"code": their_code, "id": their_payment}


ROUTES = [
    ("GET", "/dashboard/links/{code}"),
    ("POST", "/dashboard/links/{code}/deactivate"),
    ("GET", "/dashboard/payments/{id}"),
    ("GET", "/dashboard/payments?link={code}"),
    ("GET", "/dashboard/payments?link={code}&format=csv"),
    ("GET", "/dashboard/links/{code}/edit"),
    ("POST", "/dashboard/links/{code}/edit"),
    ("POST", "/dashboard/links/{code}/send"),
    # a payment id here; another merchant's real settlement: tests/integration/panel/test_settlements.py
    ("GET", "/dashboard/settlements/{id}"),
    # refunds and exports: the real objects of another merchant in test_refund_form.py, test_export_page.py
    ("POST", "/dashboard/payments/{id}/refund"),
    ("POST", "/dashboard/payments/{id}/remind"),
    ("GET", "/dashboard/exports/{id}"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_another_merchants_object_answers_exactly_like_a_missing_one(two_shops, store, method, path):
    mine, theirs = two_shops

    def call(ids: dict[str, str]):
        target = path.format(**ids)
        answer = mine.get(target) if method == "GET" else mine.post(target, {})
        echoed = answer.text  # a filter form shows back the code typed in; nothing else may differ
        for value in ids.values():
            echoed = echoed.replace(value, "ID")
        return answer.status, echoed, answer.location

    assert call(theirs) == call(MISSING)
    assert call(theirs)[0] in (400, 404)
    assert store.get_link(theirs["code"]).active is True


def test_the_isolation_table_covers_every_panel_route_with_an_id():
    from local.template import load_template, routes

    with_ids = {
        (r.method, r.path)
        for r in routes(load_template())
        if r.function_id == "PanelFunction" and "{" in r.path
    }

    assert with_ids <= {(m, p.split("?")[0]) for m, p in ROUTES}


def test_home_says_from_when_it_counted_when_a_flood_of_abandoned_checkouts_hides_older_sales(
    shop, monkeypatch
):
    import paylink.panel.overview as overview

    # Given a paid payment, then more abandoned checkouts (anyone can start one) than home reads
    code = _new_link(shop)
    _pay(code)
    for n in range(3):
        started = ApiClient(f"198.51.100.{30 + n}").post_form(f"/{code}", BUYER)
        assert started.status == 303, started.text
    monkeypatch.setattr(overview, "SCAN_LIMIT", 2)
    # When the merchant opens the panel's home, in Persian and in English
    home = shop.get("/dashboard")
    english = shop.get("/dashboard?lang=en")
    # Then the figures say they were counted from the oldest payment read, not over 30 days
    assert home.status == 200
    assert 'id="counted-from"' in home.text
    assert "Counted from" in english.text.split('id="counted-from"')[1][:200]
    # and without the flood nothing is said
    monkeypatch.setattr(overview, "SCAN_LIMIT", 5000)
    assert 'id="counted-from"' not in shop.get("/dashboard").text


def test_a_panel_page_the_table_refuses_gets_a_page_to_try_again(shop, monkeypatch):
    from botocore.exceptions import ClientError

    import paylink.panel.overview as overview

    # Given a table that throttles the home page's reads
    def throttled(*_: object, **__: object) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    monkeypatch.setattr(overview, "overview", throttled)
    # When the merchant opens the panel
    answer = shop.get("/dashboard")
    # Then a 503 page (the panel's own) asks to try again, never a bare error
    assert answer.status == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "ThrottlingException" not in answer.text
