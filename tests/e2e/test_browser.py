"""A buyer in a real browser (Debian's chromium driven by Playwright) on a 360x740 phone, against the
local runner: pay a link, fix form errors, cancel at the gateway, and the 404 and 410 pages, each in
Persian and in English. Every page is checked for horizontal overflow and saved as a screenshot
under tests/e2e/screenshots/ (ignored by git) for people to look at.

The browser is never downloaded: it is /usr/bin/chromium from apt (`make browser`, `.ci/run`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH, HEIGHT = 360, 740
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
LANGS = ["fa", "en"]

AMOUNT = 1_200_000  # rials: 120,000 toman
SHOWN_AMOUNT = {"fa": "۱۲۰٬۰۰۰ تومان", "en": "120,000 Toman"}
MERCHANT = {"fa": "کتاب‌فروشی تهران", "en": "Tehran Books"}
TITLE = {"fa": "شال دست‌باف پشمی", "en": "Handmade wool scarf"}
PAID = {"fa": "پرداخت موفق", "en": "Payment successful"}
CANCELLED = {"fa": "پرداخت لغو شد", "en": "Payment cancelled"}
RETRY = {"fa": "تلاش دوباره", "en": "Try again"}
PAY_BUTTON = {"fa": "پرداخت", "en": "Pay"}
NOT_FOUND = {"fa": "لینک پیدا نشد", "en": "Link not found"}
INACTIVE = {"fa": "این لینک غیرفعال است", "en": "This link is inactive"}
PERSIAN_DIGITS = re.compile("[۰-۹]")
ASCII_DIGITS = re.compile("[0-9]")

# Elements whose box reaches beyond the viewport, horizontally, on either side.
OVERFLOW_JS = """() => {
  const width = window.innerWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) {
      const cls = typeof el.className === 'string' ? el.className.trim().replace(/\\s+/g, '.') : '';
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls ? '.' + cls : ''}` +
               ` [${Math.round(r.left)}, ${Math.round(r.right)}]`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, offenders: out};
}"""

# The visible text of a page without what is meant to stay Latin: codes, ids and typed input.
TEXT_WITHOUT_LTR_JS = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('[dir="ltr"], .code, input, textarea, script, style').forEach(e => e.remove());
  return clone.textContent;
}"""


def _missing_browser(reason: str) -> None:
    message = (
        f"{reason}: the browser tests need Debian's chromium (`apt-get install chromium`, or `make browser`)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# `browser` (one Chromium for the whole session) and `page` (a 360 px phone tab) are in conftest.py:
# every browser test file shares the one Playwright instance (a second one in the same thread fails).


class Buyer:
    """A page plus the checks every visited page gets: no overflow, a screenshot."""

    def __init__(self, page: Any, test: str, lang: str):
        self.page, self.test, self.lang = page, test, lang

    def look(self, step: str, *, ours: bool = True) -> None:
        """Check the page on screen fits 360 px (and, for our pages, the language) and save it."""
        page = self.page
        page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{self.test}-{self.lang}-{step}.png"), full_page=True)
        layout = page.evaluate(OVERFLOW_JS)
        assert layout["scrollWidth"] <= layout["innerWidth"], (step, layout)
        assert layout["offenders"] == [], (step, layout["offenders"])
        if not ours:
            return
        html = page.locator("html")
        if self.lang == "fa":
            assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("fa", "rtl")
            text = page.evaluate(TEXT_WITHOUT_LTR_JS)
            assert not ASCII_DIGITS.search(text), (step, ASCII_DIGITS.findall(text), text)
        else:
            assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("en", "ltr")

    def open(self, url: str, step: str, status: int = 200) -> None:
        answer = self.page.goto(url)
        assert answer is not None
        assert answer.status == status, (url, answer.status)
        self.look(step)


def _merchant_link(runner: Runner, username: str, lang: str, **extra: object) -> tuple[str, dict[str, str]]:
    """A merchant restricted to sandbox-a and a new item link of 120,000 toman; the code and auth."""
    key = runner.create_merchant(username, gateways="sandbox-a", name=MERCHANT[lang])
    auth = {"Authorization": f"Bearer {key}"}
    body = {"title": TITLE[lang], "amount": AMOUNT, **extra}
    created = httpx.post(f"{runner.url}/v1/links", json=body, headers=auth, timeout=15)
    assert created.status_code == 201, created.text
    return str(created.json()["code"]), auth


def _link_url(runner: Runner, code: str, lang: str) -> str:
    return f"{runner.url}/{code}" + ("?lang=en" if lang == "en" else "")


def _fill_and_submit(buyer: Buyer, lang: str) -> None:
    page = buyer.page
    page.locator("#f-name").click()
    page.locator("#f-name").press_sequentially("علی رضایی" if lang == "fa" else "Ali Rezaei")
    page.locator("#f-phone").click()
    page.locator("#f-phone").press_sequentially("09121234567")
    buyer.look("filled")
    page.get_by_role("button", name=PAY_BUTTON[lang], exact=True).click()


def _at_gateway(buyer: Buyer, runner: Runner) -> None:
    page = buyer.page
    page.wait_for_url(f"{runner.sandbox_url}/**")
    assert "120,000 toman" in page.locator("main").inner_text()
    buyer.look("gateway", ours=False)


@pytest.mark.parametrize("lang", LANGS)
def test_buyer_pays_a_link_and_sees_the_receipt(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "pay", lang)
    code, auth = _merchant_link(runner, f"browser_pay_{lang}", lang)
    # Given the buyer opens the link on his phone
    buyer.open(_link_url(runner, code, lang), "link")
    assert page.locator(".merchant").inner_text() == MERCHANT[lang]
    assert page.locator("h1").inner_text() == TITLE[lang]
    assert page.locator(".price .v").inner_text() == SHOWN_AMOUNT[lang]
    # When he types his name and phone and pays at the gateway
    _fill_and_submit(buyer, lang)
    _at_gateway(buyer, runner)
    page.locator("button.pay").click()
    # Then he comes back through our callback to a paid receipt
    page.wait_for_url(re.compile(rf"^{re.escape(runner.url)}/r/pay_\w+"))
    buyer.look("receipt")
    assert page.locator(".state h1").inner_text() == PAID[lang]
    assert page.locator(".state .big").inner_text() == SHOWN_AMOUNT[lang]
    rows = {
        row.locator("dt").inner_text(): row.locator("dd").inner_text()
        for row in page.locator("dl.rows > div").all()
    }
    merchant_label, tracking_label, paid_at_label = (
        ("فروشنده", "کد پیگیری", "زمان پرداخت") if lang == "fa" else ("Merchant", "Tracking code", "Paid at")
    )
    assert rows[merchant_label] == MERCHANT[lang]
    payment = httpx.get(f"{runner.url}/v1/payments", headers=auth, timeout=15).json()["items"][0]
    assert payment["status"] == "paid"
    assert rows[tracking_label] == payment["gateway_reference"] != ""
    paid_at = rows[paid_at_label]
    if lang == "fa":
        assert PERSIAN_DIGITS.search(paid_at), paid_at
        assert not ASCII_DIGITS.search(paid_at), paid_at
    else:
        assert ASCII_DIGITS.search(paid_at), paid_at


@pytest.mark.parametrize("lang", LANGS)
def test_empty_form_shows_errors_next_to_the_fields(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "form-errors", lang)
    # A description with an unbroken URL and long words must still fit the phone's width
    description = ("تحویل در تهران؛ جزئیات: " if lang == "fa" else "Delivered in Tehran; details: ") + (
        "https://instagram.com/" + "handmade_wool_scarves_from_tabriz" * 3
    )
    code, _ = _merchant_link(runner, f"browser_errors_{lang}", lang, description=description)
    url = _link_url(runner, code, lang)
    buyer.open(url, "link")
    # When the buyer presses pay with nothing filled in
    page.get_by_role("button", name=PAY_BUTTON[lang], exact=True).click()
    page.locator("#error-summary").wait_for()
    buyer.look("errors")
    # Then he stays on the link page, and each field says what is wrong right under it
    assert page.url.split("?")[0] == f"{runner.url}/{code}"
    for field in ("name", "phone"):
        box = page.locator(f"#f-{field}")
        assert box.get_attribute("aria-invalid") == "true"
        error = page.locator(f"#err-{field}")
        assert error.is_visible()
        assert error.inner_text().strip() != ""
        assert f"err-{field}" in (box.get_attribute("aria-describedby") or "")
        assert page.locator(f".field:has(#f-{field}) #err-{field}").count() == 1
    assert page.locator(".price .v").inner_text() == SHOWN_AMOUNT[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_cancel_at_the_gateway_offers_to_try_again(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "cancel", lang)
    code, _ = _merchant_link(runner, f"browser_cancel_{lang}", lang)
    buyer.open(_link_url(runner, code, lang), "link")
    _fill_and_submit(buyer, lang)
    _at_gateway(buyer, runner)
    # When the buyer cancels at the gateway
    page.locator("button.cancel").click()
    # Then the receipt says so, charges nothing, and offers to try again
    page.wait_for_url(re.compile(rf"^{re.escape(runner.url)}/r/pay_\w+"))
    buyer.look("receipt")
    assert page.locator(".state h1").inner_text() == CANCELLED[lang]
    assert page.locator(".state .big").inner_text() == SHOWN_AMOUNT[lang]
    assert page.locator(".notice.bad").is_visible()
    page.get_by_role("link", name=RETRY[lang]).click()
    page.wait_for_url(re.compile(rf"^{re.escape(runner.url)}/{code}"))
    buyer.look("retry")
    assert page.locator("h1").inner_text() == TITLE[lang]
    assert page.locator(".price .v").inner_text() == SHOWN_AMOUNT[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_and_deactivated_links(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "gone", lang)
    buyer.open(_link_url(runner, "nosuchlink", lang), "404", status=404)
    assert page.locator("h1").inner_text() == NOT_FOUND[lang]
    assert page.locator(".status-code").inner_text() == ("۴۰۴" if lang == "fa" else "404")
    # A link the merchant turned off
    code, auth = _merchant_link(runner, f"browser_gone_{lang}", lang)
    turned_off = httpx.patch(
        f"{runner.url}/v1/links/{code}", json={"active": False}, headers=auth, timeout=15
    )
    assert turned_off.status_code == 200, turned_off.text
    buyer.open(_link_url(runner, code, lang), "410", status=410)
    assert page.locator("h1").inner_text() == INACTIVE[lang]
    assert page.locator(".status-code").inner_text() == ("۴۱۰" if lang == "fa" else "410")


def _pay_at_gateway_to_receipt(buyer: Buyer, runner: Runner, lang: str) -> None:
    page = buyer.page
    _at_gateway(buyer, runner)
    page.locator("button.pay").click()
    page.wait_for_url(re.compile(rf"^{re.escape(runner.url)}/r/pay_\w+"))
    buyer.look("receipt")
    assert page.locator(".state h1").inner_text() == PAID[lang]
    assert page.locator(".state .big").inner_text() == SHOWN_AMOUNT[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_payer_pays_an_invoice_once(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "invoice", lang)
    payer = "سارا احمدی" if lang == "fa" else "Sara Ahmadi"
    code, _ = _merchant_link(runner, f"browser_invoice_{lang}", lang, kind="invoice",
                             payer={"name": payer}, due_date="2026-12-01", reference="INV-7")  # fmt: skip
    # Given the payer opens the invoice the merchant sent
    buyer.open(_link_url(runner, code, lang), "invoice")
    assert page.locator(".merchant").inner_text() == MERCHANT[lang]
    assert page.locator(".price .v").inner_text() == SHOWN_AMOUNT[lang]
    # When he pays it at the gateway
    _fill_and_submit(buyer, lang)
    _pay_at_gateway_to_receipt(buyer, runner, lang)
    # Then the invoice cannot be paid again: it answers the 410 page
    buyer.open(_link_url(runner, code, lang), "paid-410", status=410)
    assert page.locator(".status-code").inner_text() == ("۴۱۰" if lang == "fa" else "410")


@pytest.mark.parametrize("lang", LANGS)
def test_a_buyer_pays_the_amount_he_chooses_on_a_personal_page(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "personal", lang)
    username = f"browser_me_{lang}"
    runner.create_merchant(username, gateways="sandbox-a", name=MERCHANT[lang])
    # Given the merchant's personal page
    buyer.open(f"{runner.url}/u/{username}" + ("?lang=en" if lang == "en" else ""), "page")
    assert page.locator(".merchant").inner_text() == MERCHANT[lang]
    # When the buyer types 120,000 toman (in Persian digits on the Persian page), his name, and pays
    page.locator("#f-amount").click()
    page.locator("#f-amount").press_sequentially("۱۲۰۰۰۰" if lang == "fa" else "120000")
    page.locator("#f-name").click()
    page.locator("#f-name").press_sequentially("علی" if lang == "fa" else "Ali")
    buyer.look("filled")
    page.get_by_role("button", name=PAY_BUTTON[lang], exact=True).click()
    # Then the gateway asks for 120,000 toman and the receipt shows it paid
    _pay_at_gateway_to_receipt(buyer, runner, lang)


@pytest.fixture
def other_site() -> Iterator[Any]:
    """Another local web site: serves whatever page a test puts at `/` (an attacker's page)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        html = ""

        def do_GET(self) -> None:
            body = Page.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Page, server.server_address[1]
    server.shutdown()
    server.server_close()


CROSS_SITE_TITLE = {"fa": "این فرم از سایت دیگری فرستاده شد", "en": "This form was sent from another site"}


@pytest.mark.parametrize(
    ("host", "lang"),
    [("localhost", "fa"), ("localhost", "en"), ("127.0.0.1", "fa")],
    ids=["cross-site-fa", "cross-site-en", "same-site-other-port-fa"],
)
def test_a_form_another_site_auto_submits_is_refused(
    runner: Runner, page: Any, other_site: Any, host: str, lang: str
):
    buyer = Buyer(page, f"cross-site-{host}", lang)
    code, auth = _merchant_link(runner, f"browser_csrf_{host.replace('.', '_')}_{lang}", lang)
    # Given another site's page that posts our link's form as soon as it loads
    site, port = other_site
    action = _link_url(runner, code, lang)
    site.html = (
        f'<!doctype html><form method="post" action="{action}">'
        '<input name="name" value="Victim"><input name="phone" value="09121234567"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    # When the buyer's browser opens it
    with page.expect_navigation(url=action) as navigation:
        page.goto(f"http://{host}:{port}/")
    # Then our 403 page in his language is all he gets, and no payment exists
    answer = navigation.value
    assert answer is not None
    assert answer.status == 403
    buyer.look("refused")
    assert page.locator("h1").inner_text() == CROSS_SITE_TITLE[lang]
    assert httpx.get(f"{runner.url}/v1/payments", headers=auth, timeout=15).json()["items"] == []


def test_a_bank_gateways_auto_submitted_form_runs_under_the_page_policy(runner: Runner, page: Any):
    buyer = Buyer(page, "bank-form", "en")
    key = runner.create_merchant("browser_bank", gateways="sandbox-d", name=MERCHANT["en"])
    created = httpx.post(f"{runner.url}/v1/links", json={"title": TITLE["en"], "amount": AMOUNT},
                         headers={"Authorization": f"Bearer {key}"}, timeout=15)  # fmt: skip
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )
    # Given a link of a merchant whose gateway (SEP-like) is entered through a POST form
    buyer.open(_link_url(runner, created.json()["code"], "en"), "link")
    # When the buyer submits our form
    _fill_and_submit(buyer, "en")
    # Then our auto-submit script runs (allowed by its hash) and posts him to the gateway's page
    page.wait_for_url(f"{runner.sandbox_url}/d/**")
    buyer.look("gateway", ours=False)
    assert page.locator("form[method=post]").count() >= 1
    assert violations == []
