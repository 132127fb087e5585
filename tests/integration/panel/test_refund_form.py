"""The panel's refund form (DESIGN sections 8 and 9): a payment's refunds listed, an amount in toman
(empty = the rest) confirmed from a summary, the API's rules as clear messages, a double submit
refunding once, cross-site posts refused, the payer reminded; another merchant's payment or refund
answers exactly like a missing one."""

from __future__ import annotations

import re

import pytest

from tests.integration.panel.support import Browser, hidden, signed_up
from tests.integration.panel.test_pages import _new_link, _pay

MISSING_PAYMENT = "pay_" + "Z" * 22


def _payment_id(browser: Browser) -> str:
    listed = browser.get("/dashboard/payments").text
    return re.findall(r"/dashboard/payments/(pay_[A-Za-z0-9]+)", listed)[0]


@pytest.fixture
def shop(aws, texts, inquiry, gateways):
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


@pytest.fixture
def paid(shop) -> str:
    """A paid payment of 120,000 toman (1,200,000 rials), and another before it: the merchant's
    balance covers the fee kept on a full refund."""
    code = _new_link(shop)
    _pay(code)
    _pay(code)
    return _payment_id(shop)


def _form_key(browser: Browser, payment_id: str) -> str:
    return hidden(browser.get(f"/dashboard/payments/{payment_id}").text, "key")


def _ask(browser: Browser, payment_id: str, amount: str, **extra: str):  # type: ignore[no-untyped-def]
    key = extra.pop("key", None) or _form_key(browser, payment_id)
    return browser.post(f"/dashboard/payments/{payment_id}/refund", {"key": key, "amount": amount, **extra})


def _confirm(browser: Browser, payment_id: str, amount: str):  # type: ignore[no-untyped-def]
    summary = _ask(browser, payment_id, amount)
    assert summary.status == 200, summary.text
    fields = {name: hidden(summary.text, name) for name in ("key", "amount", "reason", "confirm")}
    return fields, browser.post(f"/dashboard/payments/{payment_id}/refund", fields)


def test_a_paid_payment_shows_the_refund_form_with_a_one_time_key(shop, paid):
    page = shop.get(f"/dashboard/payments/{paid}")

    assert page.status == 200
    assert f'action="/dashboard/payments/{paid}/refund"' in page.text
    assert 'name="amount"' in page.text
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", hidden(page.text, "key"))
    assert hidden(page.text, "key") != _form_key(shop, paid)  # a new key each time the page is drawn


def test_the_first_post_shows_a_summary_to_confirm_and_refunds_nothing_yet(shop, paid, store):
    summary = _ask(shop, paid, "۳۰٬۰۰۰")

    assert summary.status == 200
    text = summary.text
    assert "۳۰٬۰۰۰ تومان" in text
    card = store.get_payment(paid).card_mask
    shown = f"{card[:4]}-{card[4:6]}**-****-{card[-4:]}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert shown in text
    assert "با واریز جداگانه" in text  # by transfer: a partial refund
    assert hidden(text, "confirm") == "yes"
    assert store.refunds_of_payment(paid) == []


def test_the_confirmed_refund_is_made_and_listed_with_its_method_status_and_the_total(shop, paid, store):
    _, done = _confirm(shop, paid, "30,000")

    assert done.status == 303
    assert done.location == f"/dashboard/payments/{paid}?done=refund"
    [refund] = store.refunds_of_payment(paid)
    assert (refund.amount, refund.method.value) == (300_000, "transfer")
    assert refund.status.value == "awaiting_payer"
    page = shop.get(done.location)
    listed = page.text.split('id="refunds"')[1]
    assert "۳۰٬۰۰۰ تومان" in listed
    assert "واریز" in listed
    assert "منتظر کارت پرداخت‌کننده" in listed
    assert "۳۰٬۰۰۰ تومان" in page.text.split('id="refunded"')[1][:80]
    assert 'id="done"' in page.text


def test_a_double_submit_of_the_confirming_form_refunds_once(shop, paid, store):
    fields, first = _confirm(shop, paid, "30,000")

    again = shop.post(f"/dashboard/payments/{paid}/refund", fields)

    assert (first.status, again.status) == (303, 303)
    assert [r.amount for r in store.refunds_of_payment(paid)] == [300_000]
    assert store.get_payment(paid).amount_refunded == 300_000


def test_a_double_submit_of_a_refund_of_the_rest_refunds_once_and_is_no_error(shop, paid, store):
    fields, first = _confirm(shop, paid, "")

    again = shop.post(f"/dashboard/payments/{paid}/refund", fields)

    assert (first.status, again.status) == (303, 303)
    assert [r.amount for r in store.refunds_of_payment(paid)] == [1_200_000]


def test_an_empty_amount_refunds_all_that_is_left(shop, paid, store):
    _confirm(shop, paid, "20000")

    summary = _ask(shop, paid, "")
    fields = {name: hidden(summary.text, name) for name in ("key", "amount", "reason", "confirm")}
    shop.post(f"/dashboard/payments/{paid}/refund", fields)

    assert "۱۰۰٬۰۰۰ تومان" in summary.text
    assert sorted(r.amount for r in store.refunds_of_payment(paid)) == [200_000, 1_000_000]
    page = shop.get(f"/dashboard/payments/{paid}")
    assert 'id="refund-form"' not in page.text  # nothing is left to refund
    assert "بازپرداخت‌شده" in page.text


def test_more_than_what_is_left_is_a_field_error_and_refunds_nothing(shop, paid, store):
    answer = _ask(shop, paid, "120,001")

    assert answer.status == 400
    assert 'id="e-amount"' in answer.text
    assert "حداکثر ۱۲۰٬۰۰۰ تومان" in answer.text
    assert store.refunds_of_payment(paid) == []


def test_more_than_what_is_left_at_the_confirming_post_is_refused_too(shop, paid, store):
    key = _form_key(shop, paid)

    answer = _ask(shop, paid, "200000", key=key, confirm="yes")

    assert answer.status == 400
    assert 'id="e-amount"' in answer.text
    assert store.refunds_of_payment(paid) == []


@pytest.mark.parametrize("amount", ["abc", "12.5", "-5", "0"])
def test_an_amount_that_is_not_whole_toman_is_a_field_error(shop, paid, store, amount):
    answer = _ask(shop, paid, amount)

    assert answer.status == 400
    assert 'aria-invalid="true"' in answer.text
    assert store.refunds_of_payment(paid) == []


def test_a_payment_not_paid_gets_a_clear_message(shop, store):
    from tests.helpers import ApiClient

    code = _new_link(shop)
    started = ApiClient("198.51.100.20").post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    assert started.status == 303
    payment_id = _payment_id(shop)
    assert 'id="refund-form"' not in shop.get(f"/dashboard/payments/{payment_id}").text

    answer = _ask(shop, payment_id, "1000", key="k" * 24)

    assert answer.status == 409
    assert 'id="refund-problem"' in answer.text
    assert "فقط پرداختی که انجام شده" in answer.text
    assert store.refunds_of_payment(payment_id) == []


def test_a_refund_the_balance_cannot_cover_gets_a_clear_message(shop, store):
    # Given one paid payment only: a full refund would need the fee we keep
    code = _new_link(shop)
    _pay(code)
    payment_id = _payment_id(shop)

    answer = _ask(shop, payment_id, "")

    assert answer.status == 409
    assert "موجودی شما برای این بازپرداخت کافی نیست" in answer.text
    assert store.refunds_of_payment(payment_id) == []


def test_a_cross_site_refund_post_is_refused_and_refunds_nothing(shop, paid, store):
    key = _form_key(shop, paid)

    answer = shop.post(
        f"/dashboard/payments/{paid}/refund",
        {"key": key, "amount": "1000", "confirm": "yes"},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    )

    assert answer.status == 403
    assert store.refunds_of_payment(paid) == []


@pytest.mark.parametrize("key", ["", "short", "x" * 65, "bad key with spaces!"])
def test_a_post_without_a_good_form_key_refunds_nothing(shop, paid, store, key):
    answer = shop.post(f"/dashboard/payments/{paid}/refund", {"key": key, "amount": "1000", "confirm": "yes"})

    assert answer.status == 400
    assert "این فرم کهنه است" in answer.text
    assert store.refunds_of_payment(paid) == []


def test_the_english_page_lists_refunds_with_latin_digits(shop, paid):
    _confirm(shop, paid, "30000")

    page = shop.get(f"/dashboard/payments/{paid}?lang=en")

    assert 'lang="en" dir="ltr"' in page.text
    assert "30,000 Toman" in page.text.split('id="refunds"')[1]
    assert "waiting for the payer" in page.text


def test_the_english_summary_names_the_card_and_the_method(shop, paid):
    key = _form_key(shop, paid)

    summary = shop.post(f"/dashboard/payments/{paid}/refund?lang=en", {"key": key, "amount": "5,000"})

    assert "You are giving back 5,000 Toman to card" in summary.text
    assert "by a separate transfer" in summary.text
    assert 'lang="en"' in summary.text


def test_the_payer_of_a_refund_awaiting_the_card_can_be_reminded_once_per_form(shop, paid, store):
    _confirm(shop, paid, "30000")
    [refund] = store.refunds_of_payment(paid)
    page = shop.get(f"/dashboard/payments/{paid}")
    assert f'action="/dashboard/payments/{paid}/remind"' in page.text
    fields = {"refund": hidden(page.text, "refund"), "reminders": hidden(page.text, "reminders")}

    first = shop.post(f"/dashboard/payments/{paid}/remind", fields)
    again = shop.post(f"/dashboard/payments/{paid}/remind", fields)

    assert (first.status, again.status) == (303, 303)
    assert first.location == f"/dashboard/payments/{paid}?done=reminded"
    assert store.get_refund(refund.id).reminders == 1
    assert store.get_refund(refund.id).token_hash != refund.token_hash


def test_a_cross_site_remind_post_is_refused(shop, paid, store):
    _confirm(shop, paid, "30000")
    [refund] = store.refunds_of_payment(paid)

    answer = shop.post(
        f"/dashboard/payments/{paid}/remind",
        {"refund": refund.id, "reminders": "0"},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    )

    assert answer.status == 403
    assert store.get_refund(refund.id).reminders == 0


@pytest.fixture
def theirs(texts, paid, shop, store):
    """Another merchant with its own paid payment and a refund awaiting its payer."""
    other = signed_up(texts, "09351112233", "theirs", "203.0.113.10")
    code = _new_link(other)
    _pay(code)
    _pay(code)
    their_payment = _payment_id(other)
    _confirm(other, their_payment, "1000")
    [their_refund] = store.refunds_of_payment(their_payment)
    return {"payment": their_payment, "refund": their_refund.id}


def _seen(answer, *ids: str):  # type: ignore[no-untyped-def]
    text = answer.text
    for value in ids:
        text = text.replace(value, "ID")
    text = re.sub(r'name="key" value="[^"]*"', "", text)
    return answer.status, text, answer.location


def test_another_merchants_payment_answers_the_refund_form_exactly_like_a_missing_one(shop, theirs, store):
    def ask(payment_id: str):  # type: ignore[no-untyped-def]
        fields = {"key": "k" * 24, "amount": "1000", "confirm": "yes"}
        return _seen(shop.post(f"/dashboard/payments/{payment_id}/refund", fields), payment_id)

    assert ask(theirs["payment"]) == ask(MISSING_PAYMENT)
    assert ask(theirs["payment"])[0] == 404
    assert [r.amount for r in store.refunds_of_payment(theirs["payment"])] == [10_000]


def test_another_merchants_refund_cannot_be_reminded_through_my_payment(shop, paid, theirs, store):
    def remind(refund_id: str):  # type: ignore[no-untyped-def]
        answer = shop.post(f"/dashboard/payments/{paid}/remind", {"refund": refund_id, "reminders": "0"})
        return _seen(answer, refund_id)

    assert remind(theirs["refund"]) == remind("ref_" + "Z" * 22)
    assert remind(theirs["refund"])[0] == 404
    assert store.get_refund(theirs["refund"]).reminders == 0


def test_a_settlement_after_a_refund_shows_the_refund_netted_on_its_page(shop, paid, store):
    from functions.settle.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    _confirm(shop, paid, "30000")
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    lambda_handler({"date": day}, LambdaContext(functions(load_template())["SettleFunction"]))
    settlement_id = store.get_payment(paid).settlement_id

    page = shop.get(f"/dashboard/settlements/{settlement_id}?lang=en")

    assert page.status == 200
    assert page.text.split('id="settlement-refunds">')[1].startswith("30,000 Toman")
