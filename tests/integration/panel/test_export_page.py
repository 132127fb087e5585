"""Large CSV downloads in the panel (issue 14): a payments CSV past the inline size is an export job
whose panel page says it is being prepared (refreshing itself, no JavaScript), then links the file;
another merchant's export answers exactly like a missing one."""

from __future__ import annotations

import re

import pytest

from tests.integration.panel.support import Browser, signed_up
from tests.integration.test_csv_exports import _pay, _stored, worker  # noqa: F401

MISSING = "exp_" + "Z" * 22


def _merchant(store, username: str):  # type: ignore[no-untyped-def]
    return store.get_merchant(store.merchant_id_for_username(username))


@pytest.fixture
def shop(aws, texts, inquiry, worker, store) -> Browser:  # noqa: F811
    """A signed-up merchant with 60 paid payments: more than the 2,000 bytes an inline CSV holds here."""
    browser = signed_up(texts, "09121234567", "scarves", "203.0.113.9")
    _pay(store, _merchant(store, "scarves"), 60)
    return browser


def test_a_large_panel_download_goes_to_the_export_page_not_the_apis_json(shop):
    answer = shop.get("/dashboard/payments?format=csv")

    assert answer.status == 303
    assert re.fullmatch(r"/dashboard/exports/exp_[0-9A-Za-z]{22}", answer.location)


def test_the_english_download_goes_to_the_english_export_page(shop):
    answer = shop.get("/dashboard/payments?format=csv&lang=en")

    assert answer.location.endswith("?lang=en")


def test_a_job_still_under_way_after_the_short_wait_is_being_prepared_with_a_refresh_link(shop, monkeypatch):
    from paylink.panel.money import exports_page

    waits: list[float] = []
    monkeypatch.setattr(exports_page, "_pause", waits.append)
    target = shop.get("/dashboard/payments?format=csv").location

    page = shop.get(target)

    assert page.status == 200
    assert 'data-status="pending"' in page.text
    assert "در حال آماده شدن" in page.text
    assert f'id="refresh" href="{target}"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # no timed refresh (WCAG 2.2.1)
    assert 'id="download"' not in page.text
    assert sum(waits) == pytest.approx(exports_page.WAIT_SECONDS)


def test_a_job_finished_during_the_short_wait_is_linked_at_once(shop, worker, monkeypatch):  # noqa: F811
    from paylink.panel.money import exports_page

    monkeypatch.setattr(exports_page, "_pause", lambda seconds: worker.poll_once())
    target = shop.get("/dashboard/payments?format=csv").location

    page = shop.get(target)

    assert 'data-status="done"' in page.text
    assert 'id="download"' in page.text


def test_once_the_worker_wrote_it_the_page_links_the_file_and_stops_refreshing(shop, worker):  # noqa: F811
    target = shop.get("/dashboard/payments?format=csv").location
    assert worker.poll_once() == 1

    page = shop.get(target + "?lang=en")

    assert 'data-status="done"' in page.text
    assert 'http-equiv="refresh"' not in page.text
    url = re.search(r'id="download" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    text, query = _stored(url)
    assert len(text.splitlines()) == 61  # the header and 60 payments
    assert query["X-Amz-Expires"] == ["300"]
    assert "60" in page.text


def test_a_failed_export_says_so(shop, worker, monkeypatch):  # noqa: F811
    from paylink.exports import jobs

    monkeypatch.setattr(jobs, "MAX_ROWS", 10)
    target = shop.get("/dashboard/payments?format=csv").location
    worker.poll_once()

    page = shop.get(target)

    assert 'data-status="failed"' in page.text
    assert "بازه‌ی تاریخ را کوتاه‌تر کنید" in page.text


def test_another_merchants_export_answers_exactly_like_a_missing_one(shop, texts, store):
    theirs = shop.get("/dashboard/payments?format=csv").location.rsplit("/", 1)[1]
    other = signed_up(texts, "09351112233", "theirs", "203.0.113.10")

    def seen(export_id: str):  # type: ignore[no-untyped-def]
        answer = other.get(f"/dashboard/exports/{export_id}")
        return answer.status, answer.text.replace(export_id, "ID")

    assert seen(theirs) == seen(MISSING)
    assert seen(theirs)[0] == 404


@pytest.mark.parametrize("export_id", ["exp_" + "a" * 3000, "exp_a-b%20c", "EXPORT"])
def test_an_export_id_that_is_no_job_id_is_the_404_page(shop, export_id):
    answer = shop.get(f"/dashboard/exports/{export_id}")

    assert answer.status == 404
    assert 'lang="fa"' in answer.text


def test_without_export_jobs_a_large_download_is_a_clear_page_not_a_500(shop, monkeypatch):
    from tests.helpers import reset_caches

    monkeypatch.delenv("EXPORT_QUEUE_URL")
    reset_caches()

    answer = shop.get("/dashboard/payments?format=csv")

    assert answer.status == 422
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "بازه‌ی تاریخ را کوتاه‌تر کنید" in answer.text


def test_a_small_download_stays_inline(aws, texts, inquiry, worker, store):  # noqa: F811
    browser = signed_up(texts, "09121234567", "scarves", "203.0.113.9")
    _pay(store, _merchant(store, "scarves"), 2)

    answer = browser.get("/dashboard/payments?format=csv")

    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
