"""Buyer pages rendered from the Jinja2 templates, in Persian and English."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from paylink.web.pages import normalize_lang, render
from paylink.web.pages.i18n import STRINGS, translate

LANGS = ["fa", "en"]
ASCII_DIGIT = re.compile(r"[0-9]")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    parser = _Tags()
    parser.feed(html)
    return [attrs for tag, attrs in parser.tags if tag == name]


def form_controls(html: str) -> dict[str, dict[str, str | None]]:
    """Visible form controls (input, textarea) by name."""
    controls = {}
    for tag in ("input", "textarea"):
        for attrs in tags(html, tag):
            if attrs.get("type") != "hidden":
                controls[attrs["name"]] = {**attrs, "tag": tag}
    return controls


def visible_text(html: str) -> str:
    """Text of <body> without tags, attributes, the <style> or the <script>."""
    body = html.split("<body>", 1)[1]
    body = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def make_link(**overrides):
    fields = {
        "code": "ab12cd",
        "kind": "item",
        "title": "کیک شکلاتی",
        "description": "تحویل در تهران",
        "amount": 1_200_000,
        "min_amount": None,
        "max_amount": None,
        "collect": ["name", "phone"],
        "max_quantity": 1,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def make_payment(**overrides):
    fields = {
        "id": "pay_01JD8Z6Y3K",
        "status": "paid",
        "amount": 2_400_000,
        "quantity": 2,
        "gateway_reference": "GW123456789",
        "card_mask": "6037-99**-****-1234",
        "paid_at": "2026-11-23T11:00:00Z",
        "created_at": "2026-11-23T10:58:00Z",
        "failure_reason": None,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def link_page(lang="fa", **overrides):
    context = {
        "link": make_link(),
        "merchant_name": "شیرینی مریم",
        "values": {},
        "errors": {},
        "form_action": "/ab12cd",
    }
    context.update(overrides)
    return render("link.html", lang=lang, **context)


def receipt_page(lang="fa", **payment_overrides):
    return render(
        "receipt.html",
        lang=lang,
        payment=make_payment(**payment_overrides),
        link=make_link(),
        merchant_name="شیرینی مریم",
        retry_url="/ab12cd?lang=" + lang,
    )


def all_pages(lang):
    return {
        "link": link_page(lang),
        "error": render("error.html", lang=lang, status=404, reason="not_found"),
        "receipt": receipt_page(lang),
        "post_redirect": render("post_redirect.html", lang=lang, url="https://bank.example/pay", fields={}),
    }


# --- language and layout -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("en", "en"), ("fa", "fa"), (None, "fa"), ("EN", "fa"), ("de", "fa")]
)
def test_normalize_lang_is_english_only_when_asked_for_exactly(value, expected):
    # Given a ?lang= value (or none)
    # When normalising it
    # Then only "en" gives English; everything else is Persian
    assert normalize_lang(value) == expected


@pytest.mark.parametrize(("lang", "direction"), [("fa", "rtl"), ("en", "ltr")])
def test_every_page_declares_its_language_and_direction(lang, direction):
    # Given every template
    # When rendered in lang
    # Then <html> carries lang and dir, and the page has a viewport and noindex
    for name, html in all_pages(lang).items():
        (root,) = tags(html, "html")
        assert root == {"lang": lang, "dir": direction}, name
        metas = tags(html, "meta")
        assert {"name": "robots", "content": "noindex"} in metas, name
        assert any(m.get("name") == "viewport" for m in metas), name
        assert html.lstrip().lower().startswith("<!doctype html>"), name


@pytest.mark.parametrize(("lang", "other"), [("fa", "en"), ("en", "fa")])
def test_pages_link_to_the_other_language(lang, other):
    # Given the link page in one language
    html = link_page(lang)
    # When looking for the language switch
    # Then it links to ?lang=<the other language>
    assert any(a.get("href") == f"?lang={other}" for a in tags(html, "a"))


@pytest.mark.parametrize("lang", LANGS)
def test_pages_reference_no_external_assets(lang):
    # Given every template in lang
    for name, html in all_pages(lang).items():
        # When searching for stylesheet links, script sources, remote urls and fonts
        # Then there are none: everything is inline
        assert not tags(html, "link"), name
        assert all("src" not in attrs for attrs in tags(html, "script")), name
        assert all("src" not in attrs for attrs in tags(html, "img")), name
        assert not re.search(r"url\(", html), name
        assert "@import" not in html, name
        assert "@font-face" not in html, name
        without_form_action = html.replace('action="https://bank.example/pay"', "")
        assert "http://" not in without_form_action, name
        assert "https://" not in without_form_action, name


def test_only_post_redirect_has_a_script():
    # Given every template in Persian
    # When counting script tags
    # Then only the auto-submitting redirect page has one
    counts = {name: len(tags(html, "script")) for name, html in all_pages("fa").items()}
    assert counts == {"link": 0, "error": 0, "receipt": 0, "post_redirect": 1}


# --- link page -------------------------------------------------------------------------------


def test_persian_link_page_shows_merchant_title_and_amount_in_toman_with_persian_digits():
    # Given an item link of 1,200,000 rials
    # When the Persian page is rendered
    html = link_page("fa")
    text = visible_text(html)
    # Then merchant, title, description and the amount in toman with Persian digits are shown
    assert "شیرینی مریم" in text
    assert "کیک شکلاتی" in text
    assert "تحویل در تهران" in text
    assert "۱۲۰٬۰۰۰ تومان" in text
    # And no Latin digit is visible anywhere on the Persian page
    assert not ASCII_DIGIT.search(text)


def test_english_link_page_shows_amount_in_toman_with_latin_digits():
    # Given the same item link
    # When the English page is rendered
    text = visible_text(link_page("en"))
    # Then the amount is in toman with comma separators and the Pay button is English
    assert "120,000 Toman" in text
    assert "Pay" in text


@pytest.mark.parametrize("lang", LANGS)
def test_link_form_posts_to_form_action_with_the_page_language(lang):
    # Given a link page
    html = link_page(lang, form_action="/ab12cd")
    # When reading the form
    (form,) = tags(html, "form")
    hidden = [i for i in tags(html, "input") if i.get("type") == "hidden"]
    # Then it posts to form_action and carries the page language
    assert form["method"] == "post"
    assert form["action"] == "/ab12cd"
    assert {"type": "hidden", "name": "lang", "value": lang} in hidden
    buttons = tags(html, "button")
    # the first button is the form's default (Enter pays); the second applies a coupon
    assert [(b["type"], b.get("name"), b.get("value")) for b in buttons] == [
        ("submit", "action", "pay"),
        ("submit", "action", "apply"),
    ]
    assert translate("button.pay", lang) in visible_text(html)


@pytest.mark.parametrize(
    "collect",
    [["name", "phone"], ["email"], ["name", "phone", "email", "address", "note"], []],
)
def test_link_form_fields_are_exactly_the_collected_ones(collect):
    # Given an item link collecting some fields and a single quantity
    html = link_page(link=make_link(collect=collect))
    # When listing the visible form controls
    # Then they are the collected fields and the coupon code, no amount and no quantity
    assert set(form_controls(html)) == {*collect, "coupon"}


def test_every_input_has_a_label_tied_to_it():
    # Given an open link collecting every field with quantity
    link = make_link(
        kind="open",
        amount=None,
        min_amount=10_000,
        max_amount=1_000_000,
        collect=["name", "phone", "email", "address", "note"],
        max_quantity=3,
    )
    html = link_page("en", link=link)
    # When matching labels to controls
    label_targets = {label["for"] for label in tags(html, "label")}
    controls = form_controls(html)
    # Then every control has an id that a label points to
    assert set(controls) == {"amount", "quantity", "name", "phone", "email", "address", "note", "coupon"}
    for name, attrs in controls.items():
        assert attrs["id"] in label_targets, name


def test_collected_fields_have_fitting_types_and_autocomplete():
    # Given a link collecting every field
    html = link_page(link=make_link(collect=["name", "phone", "email", "address", "note"]))
    controls = form_controls(html)
    # When inspecting the controls
    # Then phone is a numeric tel input, email an email input, address and note text areas
    assert controls["phone"]["type"] == "tel"
    assert controls["phone"]["inputmode"] == "numeric"
    assert controls["phone"]["autocomplete"] == "tel"
    assert controls["email"]["type"] == "email"
    assert controls["email"]["autocomplete"] == "email"
    assert controls["name"]["autocomplete"] == "name"
    assert controls["address"]["tag"] == "textarea"
    assert controls["note"]["tag"] == "textarea"
    # And only the note is optional
    assert "required" not in controls["note"]
    assert all("required" in controls[f] for f in ("name", "phone", "email", "address"))


def test_quantity_input_appears_only_when_more_than_one_may_be_bought():
    # Given a link allowing up to 5 and one allowing only 1
    many = form_controls(link_page(link=make_link(max_quantity=5)))
    one = form_controls(link_page(link=make_link(max_quantity=1)))
    # When looking for the quantity input
    # Then it exists only for the first, as a number between 1 and max_quantity
    assert "quantity" not in one
    assert many["quantity"]["type"] == "number"
    assert many["quantity"]["min"] == "1"
    assert many["quantity"]["max"] == "5"


@pytest.mark.parametrize("lang", LANGS)
def test_open_link_asks_for_the_amount_in_toman_and_shows_the_range(lang):
    # Given an open link between 10,000 and 5,000,000 rials
    link = make_link(kind="open", amount=None, min_amount=100_000, max_amount=50_000_000)
    # When the page is rendered
    html = link_page(lang, link=link)
    text = visible_text(html)
    # Then there is an amount input whose label states the toman unit
    amount = form_controls(html)["amount"]
    assert amount["inputmode"] == "numeric"
    label = translate("field.amount", lang)
    assert ("تومان" if lang == "fa" else "Toman") in label
    assert label in text
    # And the limits are shown in toman
    if lang == "fa":
        assert "۱۰٬۰۰۰ تومان" in text
        assert "۵٬۰۰۰٬۰۰۰ تومان" in text
    else:
        assert "10,000 Toman" in text
        assert "5,000,000 Toman" in text


def test_open_link_with_only_a_minimum_shows_the_minimum():
    # Given an open link with a minimum only
    link = make_link(kind="open", amount=None, min_amount=50_000, max_amount=None)
    # When rendered in English
    text = visible_text(link_page("en", link=link))
    # Then the minimum is stated
    assert "At least 5,000 Toman" in text


def test_field_errors_are_shown_inline_in_a_summary_and_mark_inputs_invalid():
    # Given a re-rendered form with errors on phone and email
    html = link_page(
        "fa",
        link=make_link(collect=["name", "phone", "email"]),
        values={"name": "مریم", "phone": "123", "email": "x@"},
        errors={"phone": "invalid_phone", "email": "invalid_email"},
    )
    controls = form_controls(html)
    text = visible_text(html)
    # When inspecting the fields
    # Then erroneous inputs are aria-invalid and described by their message
    for field in ("phone", "email"):
        assert controls[field]["aria-invalid"] == "true"
        assert f"err-{field}" in controls[field]["aria-describedby"].split()
        assert tags(html, "p").count({"class": "field-error", "id": f"err-{field}"}) == 1
    assert "aria-invalid" not in controls["name"]
    # And the messages are the Persian ones, with a summary at the top
    assert translate("error.invalid_phone", "fa") in text
    assert translate("error.invalid_email", "fa") in text
    assert translate("form.errors_title", "fa") in text
    (summary,) = [d for d in tags(html, "div") if d.get("class") == "summary"]
    assert summary["role"] == "alert"
    assert {"href": "#f-phone"} in tags(html, "a")
    # And the entered values are kept
    assert controls["name"]["value"] == "مریم"
    assert controls["phone"]["value"] == "123"


@pytest.mark.parametrize(
    "code",
    [
        "required",
        "invalid_phone",
        "invalid_email",
        "too_long",
        "too_small",
        "too_large",
        "invalid_amount",
        "invalid_quantity",
        "not_a_number",
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_every_field_error_code_has_a_message(code, lang):
    # Given a field error code
    # When the form shows it
    html = link_page(lang, errors={"name": code})
    # Then its translated message (not the raw key) is on the page
    message = translate(f"error.{code}", lang)
    assert message != f"error.{code}"
    assert message in visible_text(html)


def test_unknown_error_code_shows_a_generic_message_not_the_key():
    # Given an error code the pages do not know
    html = link_page("en", errors={"name": "weird_code"})
    # When rendered
    text = visible_text(html)
    # Then a generic message is shown instead of a raw key
    assert "error.weird_code" not in text
    assert translate("error.invalid", "en") in text


def test_user_content_is_html_escaped():
    # Given a link whose title, description and merchant contain markup
    evil = "<script>alert(1)</script>"
    html = link_page(
        link=make_link(title=evil, description=evil),
        merchant_name=evil,
        values={"name": '"><img src=x onerror=alert(1)>'},
    )
    # When rendered
    # Then the markup is escaped, never executable
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert not tags(html, "script")


def test_receipt_and_error_pages_escape_user_content():
    # Given a receipt for a link with a markup title
    html = render(
        "receipt.html",
        lang="en",
        payment=make_payment(gateway_reference="<b>x</b>"),
        link=make_link(title="<b>boom</b>"),
        merchant_name="<i>m</i>",
        retry_url=None,
    )
    # When rendered
    # Then no injected tag appears
    assert not tags(html, "b")
    assert not tags(html, "i")


# --- error page -----------------------------------------------------------------------------


REASONS = ["not_found", "inactive", "expired", "sold_out", "already_paid", "no_gateway", "payment_not_found"]


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("lang", LANGS)
def test_error_page_shows_the_title_and_message_of_the_reason(reason, lang):
    # Given an error reason
    # When the error page is rendered
    html = render("error.html", lang=lang, status=410, reason=reason)
    text = visible_text(html)
    # Then its title and friendly message are shown (and are real strings, not keys)
    title = translate(f"reason.{reason}.title", lang)
    message = translate(f"reason.{reason}.message", lang)
    assert not title.startswith("reason.")
    assert not message.startswith("reason.")
    assert title in text
    assert message in text
    assert f"<title>{title}</title>" in html


def test_no_gateway_page_says_nothing_was_charged_and_offers_a_retry():
    # Given the 503 page for no healthy gateway, with a retry URL
    html = render("error.html", lang="en", status=503, reason="no_gateway", retry_url="/ab12cd?lang=en")
    text = visible_text(html)
    # When rendered
    # Then it says nothing was charged, to try again in a few minutes, and links back
    assert "Nothing was charged" in text
    assert "few minutes" in text
    assert {"class": "btn", "href": "/ab12cd?lang=en"} in tags(html, "a")


def test_persian_error_page_shows_status_with_persian_digits():
    # Given a 404 page in Persian
    text = visible_text(render("error.html", lang="fa", status=404, reason="not_found"))
    # When rendered
    # Then the status appears with Persian digits and no Latin digit is visible
    assert "۴۰۴" in text
    assert not ASCII_DIGIT.search(text)


# --- receipt --------------------------------------------------------------------------------


def test_paid_receipt_in_persian_shows_amount_merchant_tracking_card_and_jalali_time():
    # Given a paid payment of 2,400,000 rials
    # When the Persian receipt is rendered
    html = receipt_page("fa")
    text = visible_text(html)
    # Then it shows the paid state, amount in toman, merchant, title, time in Jalali
    assert translate("status.paid", "fa") in text
    assert "۲۴۰٬۰۰۰ تومان" in text
    assert "شیرینی مریم" in text
    assert "کیک شکلاتی" in text
    assert "۱۴۰۵/۰۹/۰۲ ساعت ۱۴:۳۰" in text
    assert "۲" in text  # quantity
    # And the tracking code, card mask and payment id stay latin inside dir=ltr spans
    for value in ("GW123456789", "6037-99**-****-1234", "pay_01JD8Z6Y3K"):
        assert re.search(rf'<span class="[^"]*" dir="ltr">{re.escape(value)}</span>', html), value
    # And there is no retry link, no auto refresh
    assert translate("button.retry", "fa") not in text
    assert not any(m.get("http-equiv") == "refresh" for m in tags(html, "meta"))


def test_paid_receipt_in_english_shows_gregorian_tehran_time():
    # Given a paid payment
    text = visible_text(receipt_page("en"))
    # When the English receipt is rendered
    # Then amount and time are in English form
    assert "Payment successful" in text
    assert "240,000 Toman" in text
    assert "2026-11-23 14:30" in text


@pytest.mark.parametrize(
    ("reason", "lang"),
    [
        (r, lang)
        for r in ["cancelled", "declined", "amount_mismatch", "gateway_error", "not_verified"]
        for lang in LANGS
    ],
)
def test_failed_receipt_shows_the_reason_and_a_retry_link(reason, lang):
    # Given a failed payment with a failure reason
    status = "cancelled" if reason == "cancelled" else "failed"
    html = receipt_page(lang, status=status, failure_reason=reason, gateway_reference=None, paid_at=None)
    text = visible_text(html)
    # When the receipt is rendered
    # Then the reason is explained and a "try again" link goes to retry_url
    assert translate(f"failure.{reason}", lang) in text
    assert translate(f"status.{status}", lang) in text
    assert {"class": "btn", "href": f"/ab12cd?lang={lang}"} in tags(html, "a")
    assert translate("button.retry", lang) in text
    assert translate("status.paid", lang) not in text


def test_failed_receipt_without_retry_url_has_no_retry_link():
    # Given a failed payment and no retry URL (e.g. a paid invoice)
    html = render(
        "receipt.html",
        lang="en",
        payment=make_payment(status="failed", failure_reason="declined"),
        link=make_link(),
        merchant_name="m",
        retry_url=None,
    )
    # When rendered
    # Then there is no "try again" button
    assert "Try again" not in visible_text(html)


@pytest.mark.parametrize("status", ["created", "redirected"])
def test_pending_receipt_says_we_are_checking_and_refreshes_itself(status):
    # Given a payment still waiting for the gateway
    html = receipt_page("en", status=status, paid_at=None, gateway_reference=None, card_mask=None)
    text = visible_text(html)
    # When the receipt is rendered
    # Then it says the payment is being checked, and the page refreshes itself without script
    assert "We are checking your payment" in text
    assert any(m.get("http-equiv") == "refresh" for m in tags(html, "meta"))
    assert not tags(html, "script")
    assert "Try again" not in text


def test_receipt_is_print_friendly():
    # Given a receipt
    html = receipt_page("fa")
    # When reading its stylesheet
    # Then print styles hide the controls
    assert "@media print" in html


# --- post redirect --------------------------------------------------------------------------


def test_post_redirect_holds_the_fields_as_hidden_inputs_and_submits_itself():
    # Given a gateway that takes a POST with a token
    html = render(
        "post_redirect.html",
        lang="fa",
        url="https://bank.example/pay",
        fields={"RefId": "AB<12>", "MobileNo": "09120000000"},
    )
    # When the page is rendered
    (form,) = tags(html, "form")
    hidden = [i for i in tags(html, "input") if i.get("type") == "hidden"]
    # Then a POST form to the gateway holds each field, escaped, as a hidden input
    assert form["method"] == "post"
    assert form["action"] == "https://bank.example/pay"
    assert {"type": "hidden", "name": "RefId", "value": "AB<12>"} in hidden
    assert {"type": "hidden", "name": "MobileNo", "value": "09120000000"} in hidden
    assert "AB&lt;12&gt;" in html
    # And it submits itself, with a visible button when script does not run
    assert f'document.getElementById("{form["id"]}").submit()' in html
    assert tags(html, "button") == [{"class": "btn", "type": "submit"}]


# --- i18n -----------------------------------------------------------------------------------


def test_both_languages_have_the_same_keys():
    # Given the two string tables
    # When comparing their keys
    # Then no string is missing in either language
    assert set(STRINGS["fa"]) == set(STRINGS["en"])


def test_translate_formats_and_falls_back_to_the_key():
    # Given a formatted string and a missing key
    # When translating
    # Then placeholders are filled and a missing key comes back as itself
    assert translate("hint.quantity_max", "en", max="5") == "Up to 5"
    assert translate("no.such.key", "fa") == "no.such.key"
    assert translate("button.pay", "fa") == "پرداخت"
    assert translate("button.pay", "en") == "Pay"


@pytest.mark.parametrize(
    "key",
    [
        *(
            f"status.{s}"
            for s in [
                "created",
                "redirected",
                "paid",
                "settled",
                "failed",
                "cancelled",
                "expired",
                "reversed",
            ]
        ),
        *(
            f"failure.{r}"
            for r in ["cancelled", "declined", "amount_mismatch", "gateway_error", "not_verified"]
        ),
        *(f"field.{f}" for f in ["name", "phone", "email", "address", "note", "amount", "quantity"]),
    ],
)
def test_statuses_failure_reasons_and_fields_are_translated(key):
    # Given a key the pages rely on
    # When looking it up in both languages
    # Then both have a real string
    assert translate(key, "fa") != key
    assert translate(key, "en") != key
