"""A merchant in a real browser (Debian's chromium, Playwright, 360x740) on the local runner: signs up
with a code read from the SMS sandbox, makes a link in the panel, a buyer pays it, and the merchant
finds the payment on the home page, in the payments list and in its CSV; Persian and English.

Every panel page is checked for horizontal overflow, Persian digits on Persian pages, axe-core
violations (axe-playwright-python, axe-core bundled in the wheel), and saved as a screenshot under
tests/e2e/screenshots/ (ignored by git) to be looked at.
"""

from __future__ import annotations

import csv
import io
import os
import re
from typing import Any

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e import buyer
from tests.e2e.conftest import Runner
from tests.e2e.test_browser import (
    ASCII_DIGITS,
    HEIGHT,
    OVERFLOW_JS,
    SCREENSHOTS,
    TEXT_WITHOUT_LTR_JS,
    WIDTH,
)

pytestmark = pytest.mark.e2e
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

SHOP = {
    "fa": {"phone": "۰۹۱۲۷۶۵۴۳۲۱", "e164": "09127654321", "username": "panel_fa", "name": "کتاب‌فروشی تهران",
           "title": "شال دست‌باف", "amount": "۱۲۰٬۰۰۰", "shown": "۱۲۰٬۰۰۰ تومان", "birth": "۱۳۷۰/۰۱/۳۱",
           "percent": "۲۰", "refund": "۲۰٬۰۰۰", "refund_shown": "۲۰٬۰۰۰ تومان",
           "by_transfer": "با واریز جداگانه"},
    "en": {"phone": "09357654321", "e164": "09357654321", "username": "panel_en", "name": "Tehran Books",
           "title": "Wool scarf", "amount": "120,000", "shown": "120,000 Toman", "birth": "1370/01/31",
           "percent": "20", "refund": "20,000", "refund_shown": "20,000 Toman",
           "by_transfer": "by a separate transfer"},
}  # fmt: skip
NATIONAL_CODE = "0499370899"
# One personal account per person: the English run's shop belongs to another person.
NATIONAL_CODES = {"fa": NATIONAL_CODE, "en": "3576543211"}
PERSIAN_LETTERS = re.compile("[\u0600-\u06ff]")
IBAN = "IR062960000000100324200001"


@pytest.fixture(scope="module")
def chromium(browser: Any) -> Any:
    """The session's one Chromium (conftest.py)."""
    return browser


class Merchant:
    """A phone's browser tab: every page it opens is checked, run through axe and saved."""

    def __init__(self, chromium: Any, runner: Runner, lang: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.context = chromium.new_context(
            viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.runner, self.lang, self.axe = runner, lang, Axe()
        self.q = "?lang=en" if lang == "en" else ""

    def look(self, step: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"panel-{self.lang}-{step}.png"), full_page=True)
        layout = page.evaluate(OVERFLOW_JS)
        # a mobile viewport widens to fit content that overflows: it must stay the phone's own width
        assert layout["innerWidth"] == WIDTH, (step, layout)
        assert layout["scrollWidth"] <= layout["innerWidth"], (step, layout)
        assert layout["offenders"] == [], (step, layout["offenders"])
        html = page.locator("html")
        if self.lang == "fa":
            assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("fa", "rtl")
            text = page.evaluate(TEXT_WITHOUT_LTR_JS)
            assert not ASCII_DIGITS.search(text), (step, ASCII_DIGITS.findall(text))
        else:
            assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("en", "ltr")
            text = page.locator("body").inner_text()
            assert not PERSIAN_LETTERS.search(text.replace("فارسی", "")), (step, text)
        violations = self.axe.run(page).response["violations"]
        assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations] == [], step

    def open(self, path: str, step: str) -> None:
        answer = self.page.goto(
            self.runner.url + path + (self.q if "?" not in path else "&lang=en" * bool(self.q))
        )
        assert answer is not None
        assert answer.status == 200, (path, answer.status)
        self.look(step)

    def submit(self, button: str | None = None) -> None:
        with self.page.expect_navigation():
            if button:
                self.page.locator(button).click()
            else:
                self.page.locator("main form button[type=submit]").last.click()


def _code_sent(runner: Runner, phone: str) -> str:
    calls = httpx.get(f"{runner.sandbox_url}/sms/calls", timeout=10).json()
    codes = [
        c["body"]["token"]
        for c in calls
        if isinstance(c.get("body"), dict) and c["body"].get("receptor") == phone
    ]
    assert codes, calls
    return str(codes[-1])


def _pay_as_buyer(runner: Runner, link_url: str) -> None:
    with httpx.Client(timeout=15, headers={"user-agent": "buyer"}) as http:
        started = http.post(link_url, data={"name": "Ali Rezaei", "phone": "09121234567"})
        back = buyer.act(http, buyer.open_gateway(http, started), "pay")
        assert back is not None
        receipt = back.deliver(http)
        assert receipt.status_code in (200, 303), receipt.text[:300]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_merchant_signs_up_makes_a_link_and_finds_its_payment(runner: Runner, chromium: Any, lang: str):
    shop = SHOP[lang]
    me = Merchant(chromium, runner, lang)
    page = me.page
    # Given a phone with no account signs in with the code the SMS sandbox received
    me.open("/login", "login")
    page.locator("#f-phone").fill(shop["phone"])
    me.submit()
    me.look("code")
    page.locator("#f-code").fill(_code_sent(runner, shop["e164"]))
    me.submit()
    assert page.url.startswith(f"{runner.url}/signup")
    me.look("signup")
    # An empty sign-up form shows its errors
    me.submit()
    me.look("signup-errors")
    assert page.locator(".field-error").count() >= 4
    # When it signs up
    page.locator("#f-name").fill(shop["name"])
    page.locator("#f-username").fill(shop["username"])
    page.locator("#f-national_code").fill(NATIONAL_CODES[lang])
    page.locator("#f-birth_date").fill(shop["birth"])
    page.locator("#f-iban").fill(IBAN)
    me.submit()
    assert page.url.startswith(f"{runner.url}/dashboard"), page.url
    me.look("home-empty")
    # And makes a link of 120,000 toman in the panel
    me.open("/dashboard/links/new", "link-new")
    page.locator("#f-title").fill(shop["title"])
    page.locator("#f-amount").fill(shop["amount"])
    me.submit()
    me.look("link")
    link_url = page.locator("#link-url").get_attribute("href")
    assert link_url
    assert re.fullmatch(rf"{re.escape(runner.url)}/\w+", link_url)
    assert shop["shown"] in page.locator("main").inner_text()
    # And a buyer pays it
    _pay_as_buyer(runner, link_url)
    # Then the payment is on the home page, in the payments list and in its CSV
    me.open("/dashboard", "home")
    assert page.locator("#sales-today").inner_text() == shop["shown"]
    assert page.locator("#latest a").count() == 1
    me.open("/dashboard/payments", "payments")
    href = page.locator("#payments a").first.get_attribute("href")
    payment_id = re.search(r"pay_\w+", href or "").group(0)
    csv_href = page.locator("#csv").get_attribute("href")
    exported = me.context.request.get(runner.url + csv_href)
    rows = list(csv.DictReader(io.StringIO(exported.text().lstrip("\ufeff"))))
    assert [(r["id"], r["status"], r["amount"]) for r in rows] == [(payment_id, "paid", "1200000")]
    me.open(f"/dashboard/payments/{payment_id}", "payment")
    assert page.locator("#timeline li").count() >= 2
    # The merchant gives part of it back through the refund form, confirming a summary first
    page.locator("#f-amount").fill(shop["refund"])
    me.submit("#refund-form button[type=submit]")
    me.look("refund-confirm")
    summary = page.locator("#refund-summary").inner_text()
    assert shop["refund_shown"] in summary
    assert shop["by_transfer"] in summary
    me.submit("#confirm-form button[type=submit]")
    me.look("payment-refunded")
    assert page.locator("#done").count() == 1
    assert page.locator("#refunds li").count() == 1
    assert shop["refund_shown"] in page.locator("#refunds").inner_text()
    assert page.locator("#refunded").inner_text() == shop["refund_shown"]
    # And a settlement pays the rest out: its page shows it with the payment
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    settled = httpx.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day}, timeout=60)
    assert settled.status_code == 200, settled.text
    me.open("/dashboard/settlements", "settlements-one")
    with page.expect_navigation():
        page.locator("main a[href*='/dashboard/settlements/']").first.click()
    me.look("settlement")
    assert page.locator("#payments a").count() == 1
    assert page.locator("#settlement-refunds").inner_text() == shop["refund_shown"]
    link_code = link_url.rsplit("/", 1)[1]
    me.open(f"/dashboard/links/{link_code}/edit", "link-edit")
    page.locator("#f-max_payments").fill("abc")
    me.submit()
    me.look("link-edit-errors")
    assert page.locator("#e-max_payments").count() == 1
    # And every other page of the panel passes the same checks
    me.open("/dashboard/links", "links")
    me.open("/dashboard/settlements", "settlements")
    # An invoice in two installments, made in the new-link form
    me.open("/dashboard/links/new", "link-new-invoice")
    page.locator("#f-title").fill(shop["title"])
    page.locator("#f-amount").fill(shop["amount"])
    page.locator("#k-invoice").check()
    page.locator("#f-payer_name").fill("Sara")
    page.locator("#f-payer_phone").fill(shop["phone"])
    page.locator("#f-installments summary").click()
    page.locator("#f-inst_amount_1").fill(shop["amount"])
    page.locator("#f-inst_due_1").fill(shop["birth"].replace("۱۳۷۰", "۱۴۹۹").replace("1370", "1499"))
    me.submit("main form button[type=submit]")
    me.look("link-new-invoice-errors")
    assert page.locator("#e-installments").count() == 1
    me.open("/dashboard/coupons", "coupons-empty")
    page.locator("#f-code").fill("NOROOZ20")
    page.locator("#f-value").fill(shop["percent"])
    me.submit()
    me.look("coupons")
    assert page.locator("#coupons li").count() == 1
    page.locator("#f-code").fill("NOROOZ20")
    page.locator("#f-value").fill("150")
    me.submit()
    me.look("coupons-errors")
    assert page.locator(".field-error").count() >= 1
    me.open("/dashboard/settings", "settings")
    # Settings: the webhook's secret, a new API key and a Telegram deep link are shown once
    page.locator("#f-url").fill("https://merchant.example/hooks")
    me.submit("form:has(#f-url) button[type=submit]")
    me.look("settings-webhook")
    assert page.locator("#hook-secret").inner_text().startswith("whsec_")
    page.locator("#f-name").fill("web shop")
    me.submit("form:has(#f-name) button[type=submit]")
    me.look("settings-key")
    assert page.locator("#new-key").count() == 1
    assert page.locator("#hook-secret").count() == 0
    me.submit("form[action^='/dashboard/settings/telegram'] button[type=submit]")
    me.look("settings-telegram")
    assert (page.locator("#deep-link").get_attribute("href") or "").startswith("https://t.me/")
    page.locator("#f-iban").fill("IR000000000000000000000000")
    me.submit("form:has(#f-iban) button[type=submit]")
    me.look("settings-iban-errors")
    assert page.locator("#e-iban").count() == 1
    me.open("/dashboard/payments?status=failed", "payments-filtered")
    # Sign-out ends the session
    me.submit("nav form button")
    assert page.url.startswith(f"{runner.url}/login")
    assert me.page.goto(runner.url + "/dashboard").url.startswith(f"{runner.url}/login")
    me.context.close()


@pytest.fixture(scope="module")
def small_csv_runner(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A runner of its own whose inline CSV answers hold 300 bytes: a couple of rows make a job."""
    from tests.e2e.conftest import start_runner

    with start_runner(tmp_path_factory.mktemp("small-csv"), PAYLINK_CSV_INLINE_MAX_BYTES="300") as running:
        yield running


def _sign_up(me: Merchant, runner: Runner, shop: dict[str, str]) -> None:
    """Sign in with the SMS sandbox's code and sign up, without looking at each step again."""
    page = me.page
    page.goto(runner.url + "/login" + me.q)
    page.locator("#f-phone").fill(shop["phone"])
    me.submit()
    page.locator("#f-code").fill(_code_sent(runner, shop["e164"]))
    me.submit()
    fields = {"name": shop["name"], "username": shop["username"], "national_code": NATIONAL_CODES[me.lang],
              "birth_date": shop["birth"], "iban": IBAN}  # fmt: skip
    for field, value in fields.items():
        page.locator(f"#f-{field}").fill(value)
    me.submit()
    assert page.url.startswith(f"{runner.url}/dashboard"), page.url


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_large_csv_download_waits_on_its_export_page_then_links_the_file(
    small_csv_runner: Runner, chromium: Any, lang: str
):
    runner, shop = small_csv_runner, SHOP[lang]
    me = Merchant(chromium, runner, lang)
    page = me.page
    # Given a merchant with two paid payments: more than an inline CSV holds on this runner
    _sign_up(me, runner, shop)
    page.goto(runner.url + "/dashboard/links/new" + me.q)
    page.locator("#f-title").fill(shop["title"])
    page.locator("#f-amount").fill(shop["amount"])
    me.submit()
    link_url = page.locator("#link-url").get_attribute("href")
    assert link_url
    _pay_as_buyer(runner, link_url)
    _pay_as_buyer(runner, link_url)
    # When it downloads the payments' CSV from the panel
    me.open("/dashboard/payments", "payments-two")
    with page.expect_navigation():
        page.locator("#csv").click()
    # Then it lands on the export's page, which refreshes itself until the file is ready
    assert re.search(r"/dashboard/exports/exp_\w+", page.url), page.url
    state = page.locator("#export-state").get_attribute("data-status")
    assert state in ("pending", "running", "done")
    if state != "done":
        me.look("export-preparing")
    page.locator("#download").wait_for(timeout=30_000)
    me.look("export-ready")
    url = page.locator("#download").get_attribute("href") or ""
    document = httpx.get(url, timeout=10)
    assert document.status_code == 200
    assert len(document.text.strip().splitlines()) == 3  # the header and two payments
    me.context.close()
