"""The new-link form makes invoices (issue 14): the payer's name and mobile, and an optional
installment schedule in toman and Jalali dates, with the API's rules (DESIGN section 11) shown as
field errors."""

from __future__ import annotations

import pytest

from tests.integration.panel.support import signed_up


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


INVOICE = {"title": "Design work", "amount": "۴۵۰٬۰۰۰", "kind": "invoice",
           "payer_name": "Sara", "payer_phone": "۰۹۱۲۱۱۱۲۲۳۳"}  # fmt: skip


def _code(answer) -> str:  # type: ignore[no-untyped-def]
    assert answer.status == 303, answer.text[:2000]
    return answer.location.rsplit("/", 1)[1].split("?")[0]


def test_an_invoice_keeps_its_payer(shop, store):
    link = store.get_link(_code(shop.post("/dashboard/links/new", INVOICE)))

    assert link.kind.value == "invoice"
    assert link.payer["name"] == "Sara"
    assert link.payer["phone"] == "+989121112233"


def test_an_invoice_in_three_installments_keeps_its_schedule_in_rials(shop, store):
    parts = {"inst_amount_1": "150,000", "inst_due_1": "1499/01/01",
             "inst_amount_2": "۱۵۰٬۰۰۰", "inst_due_2": "۱۴۹۹/۰۲/۰۱",
             "inst_amount_3": "150000", "inst_due_3": "1499/03/01"}  # fmt: skip

    link = store.get_link(_code(shop.post("/dashboard/links/new", {**INVOICE, **parts})))

    assert [(p.amount, str(p.due_date)) for p in link.installments] == [
        (1_500_000, "2120-03-21"),
        (1_500_000, "2120-04-21"),
        (1_500_000, "2120-05-22"),
    ]


def test_installments_that_do_not_add_up_are_a_field_error_and_nothing_is_made(shop, store):
    parts = {"inst_amount_1": "100000", "inst_due_1": "1499/01/01",
             "inst_amount_2": "100000", "inst_due_2": "1499/02/01"}  # fmt: skip

    answer = shop.post("/dashboard/links/new", {**INVOICE, **parts})

    assert answer.status == 400
    assert 'id="e-installments"' in answer.text
    assert store.links_of(store.merchant_id_for_username("scarves"), None)[0] == []


def test_one_installment_is_refused(shop):
    answer = shop.post(
        "/dashboard/links/new", {**INVOICE, "inst_amount_1": "450000", "inst_due_1": "1499/01/01"}
    )

    assert answer.status == 400
    assert 'id="e-installments"' in answer.text


def test_a_row_without_a_date_is_a_field_error(shop):
    answer = shop.post("/dashboard/links/new", {**INVOICE, "inst_amount_1": "450000"})

    assert answer.status == 400
    assert 'id="e-installments"' in answer.text


def test_a_payer_phone_that_is_not_a_mobile_is_a_field_error(shop):
    answer = shop.post("/dashboard/links/new", {**INVOICE, "payer_phone": "12345"})

    assert answer.status == 400
    assert 'id="e-payer_phone"' in answer.text


def test_the_payer_fields_of_an_item_link_are_ignored(shop, store):
    link = store.get_link(_code(shop.post("/dashboard/links/new", {**INVOICE, "kind": "item"})))

    assert link.payer is None
