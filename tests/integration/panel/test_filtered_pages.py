"""Filtered panel lists whose page may be empty with a cursor (store.table FILTER_SCAN_KEYS: a
filtered page reads a bounded number of index keys, then answers what it found, even nothing):
the panel must offer the next page, not say there are no payments, and its CSV must give way to
an export job in time like the API's."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.integration.panel.support import Browser, signed_up
from tests.integration.test_csv_exports import worker  # noqa: F401
from tests.settlement_data import add_paid_payment

OLD = "2026-03-01T09:00:00.000000Z"


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 2; a filtered page reads at most 2 index keys (one index page of 2)."""
    import paylink.store.table as table

    monkeypatch.setattr(table, "PAGE_SIZE", 2)
    monkeypatch.setattr(table, "FILTERED_INDEX_PAGE", 2)
    monkeypatch.setattr(table, "FILTER_SCAN_KEYS", 2)


@pytest.fixture
def shop(aws, texts, inquiry, store) -> tuple[Browser, str, str]:  # type: ignore[no-untyped-def]
    """A merchant with one link whose only payment is older than 12 payments of another link."""
    browser = signed_up(texts, "09121234567", "scarves", "203.0.113.9")
    answer = browser.post("/dashboard/links/new", {"title": "Scarf", "amount": "۱۲۰٬۰۰۰"})
    assert answer.status == 303, answer.text
    code = answer.location.rsplit("/", 1)[1].split("?")[0]
    merchant = store.get_merchant(store.merchant_id_for_username("scarves"))
    old = add_paid_payment(store, merchant, "pay_old_of_link", 1_200_000, paid_at=OLD)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{old.id}", "sk": "PAYMENT"},
        UpdateExpression="SET link_code = :c",
        ExpressionAttributeValues={":c": code},
    )
    for n in range(12):
        moment = f"2026-03-01T10:{n:02d}:00.000000Z"
        add_paid_payment(store, merchant, f"pay_other_{n:02d}", 1_000_000, paid_at=moment)
    return browser, code, old.id


def _next(page: str) -> str | None:
    found = re.search(r'href="(/dashboard/payments\?[^"]*cursor=[^"]*)"', page)
    return unescape(found.group(1)) if found else None


def test_an_empty_filtered_page_with_more_to_read_offers_the_next_page_not_no_payments(shop, narrow):
    browser, code, old_id = shop
    # When the merchant lists the link's payments: the first page reads only newer ones of another link
    first = browser.get(f"/dashboard/payments?link={code}")
    # Then the page does not say nothing matches, and it links the next page
    assert first.status == 200
    assert "پرداختی با این فیلترها نیست" not in first.text
    target = _next(first.text)
    assert target is not None
    # And following the next pages reaches the link's payment
    pages = []
    while target and len(pages) < 20:
        pages.append(browser.get(target).text)
        target = _next(pages[-1])
    assert any(old_id in page for page in pages)


def test_a_link_page_whose_payments_are_past_the_first_read_links_them_not_no_payments(shop, narrow):
    browser, code, _ = shop
    # When the link's page shows its latest payments (10: the 12 newer ones of another link fill the read)
    page = browser.get(f"/dashboard/links/{code}")
    # Then it does not say the link has no payments, and it links the rest of its list
    assert page.status == 200
    assert "هنوز پرداختی نیست" not in page.text
    target = _next(page.text)
    assert target is not None
    assert f"link={code}" in target


def test_a_panel_csv_out_of_time_gives_way_to_an_export_job(shop, narrow, worker, monkeypatch):  # noqa: F811
    import paylink.exports.rows as rows
    from local.run import LambdaContext

    browser, _, _ = shop
    monkeypatch.setattr(rows, "EXPORT_PAGE_SIZE", 2)
    # Given a panel invocation already out of time for an inline answer
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 0)
    # When the merchant downloads a filtered CSV that matches nothing for page after page
    answer = browser.get("/dashboard/payments?status=refunded&format=csv")
    # Then it becomes an export job (as GET /v1/payments?format=csv does), not a timed-out request
    assert answer.status == 303
    assert re.fullmatch(r"/dashboard/exports/exp_[0-9A-Za-z]{22}", answer.location)
