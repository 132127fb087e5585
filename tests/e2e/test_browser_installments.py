"""The schedule page of an invoice in installments in a real browser at 360 px, Persian and English:
paid, overdue and pending installments, the next one offered and paid at the gateway."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date
from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner
from tests.e2e.test_browser import (
    LANGS,
    MERCHANT,
    PAID,
    Buyer,
    _link_url,
)

pytestmark = pytest.mark.e2e
AMOUNTS = [1_000_000, 1_200_000, 800_000]
PAY_SECOND = {"fa": "پرداخت قسط ۲", "en": "Pay installment 2"}
SECOND_SHOWN = {"fa": "۱۲۰٬۰۰۰ تومان", "en": "120,000 Toman"}
STATUS = {
    "fa": ["پرداخت‌شده", "سررسید گذشته", "در انتظار"],
    "en": ["Paid", "Overdue", "Pending"],
}


def _moto_table(runner: Runner) -> Any:
    """The runner's table in its moto server (the endpoint it prints)."""
    found = re.search(r"DynamoDB, SQS \(moto\): (http://\S+)", runner.output.read_text())
    assert found, "the runner did not print its moto endpoint"
    dynamodb = boto3.resource(
        "dynamodb", endpoint_url=found.group(1), region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    [name] = [t.name for t in dynamodb.tables.all() if "PaylinkTable" in t.name or t.name.endswith("-table")]
    return dynamodb.Table(name)


def _invoice_with_a_paid_and_an_overdue_installment(runner: Runner, lang: str) -> str:
    key = runner.create_merchant(f"browser_installments_{lang}", gateways="sandbox-a", name=MERCHANT[lang])
    auth = {"Authorization": f"Bearer {key}"}
    today = local_date(utcnow(), "Asia/Tehran")
    dues = [today + timedelta(days=d) for d in (1, 31, 61)]
    body = {
        "title": "مبل سه‌نفره" if lang == "fa" else "Three-seat sofa", "kind": "invoice",
        "amount": sum(AMOUNTS), "payer": {"name": "Sara"},
        "installments": [
            {"amount": a, "due_date": d.isoformat()} for a, d in zip(AMOUNTS, dues, strict=True)
        ],
    }  # fmt: skip
    with httpx.Client(timeout=15, follow_redirects=False) as http:
        created = http.post(f"{runner.url}/v1/links", json=body, headers=auth)
        assert created.status_code == 201, created.text
        code = str(created.json()["code"])
        # Given installment 1 is paid
        started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09121234567"})
        back = act(http, open_gateway(http, started), "pay")
        assert back is not None
        assert back.deliver(http).status_code == 303
    # And time passed: installment 2's due date is behind us (the schedule as it would be in 40 days)
    table = _moto_table(runner)
    table.update_item(
        Key={"pk": f"LINK#{code}", "sk": "LINK"},
        UpdateExpression="SET installments[0].due_date = :d1, installments[1].due_date = :d2",
        ExpressionAttributeValues={
            ":d1": (today - timedelta(days=40)).isoformat(),
            ":d2": (today - timedelta(days=10)).isoformat(),
        },
    )
    return code


@pytest.mark.parametrize("lang", LANGS)
def test_the_schedule_page_shows_each_installment_and_pays_the_next(runner: Runner, page: Any, lang: str):
    buyer = Buyer(page, "installments", lang)
    code = _invoice_with_a_paid_and_an_overdue_installment(runner, lang)
    # When the payer opens the invoice
    buyer.open(_link_url(runner, code, lang), "schedule")
    # Then he sees the whole schedule: paid, overdue, pending, and installment 2 offered
    rows = page.locator("ol.sched li")
    assert rows.count() == 3
    assert [rows.nth(i).locator(".st").inner_text() for i in range(3)] == STATUS[lang]
    assert page.locator("ol.sched li[aria-current=step] .n").inner_text() == (
        "قسط ۲" if lang == "fa" else "Installment 2"
    )
    assert page.locator(".price .v").inner_text() == SECOND_SHOWN[lang]
    # When he pays it at the gateway
    page.locator("#f-name").fill("سارا" if lang == "fa" else "Sara")
    page.locator("#f-phone").fill("09121234567")
    page.get_by_role("button", name=PAY_SECOND[lang], exact=True).click()
    page.wait_for_url(f"{runner.sandbox_url}/**")
    assert "120,000 toman" in page.locator("main").inner_text()
    page.locator("button.pay").click()
    page.wait_for_url(re.compile(rf"^{re.escape(runner.url)}/r/pay_\w+"))
    buyer.look("receipt")
    assert page.locator(".state h1").inner_text() == PAID[lang]
    assert page.locator(".state .big").inner_text() == SECOND_SHOWN[lang]
    row = page.locator("dl.rows div", has_text="شماره قسط" if lang == "fa" else "Installment")
    assert row.locator("dd").inner_text() == ("۲" if lang == "fa" else "2")
    # And the schedule now offers installment 3
    buyer.open(_link_url(runner, code, lang), "after")
    assert page.locator("ol.sched li.paid").count() == 2
    assert page.locator("ol.sched li[aria-current=step] .n").inner_text() == (
        "قسط ۳" if lang == "fa" else "Installment 3"
    )
