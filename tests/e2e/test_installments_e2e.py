"""An invoice in three installments paid over HTTP one installment at a time, against the local
runner: the schedule after each, reminders of installment 2 through the RemindFunction, settlement."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
AMOUNTS = [1_000_000, 1_200_000, 800_000]


def _pay_next(runner: Runner, http: httpx.Client, code: str) -> str:
    """Open the invoice, pay the installment it offers at the sandbox; the receipt's payment id."""
    page = http.get(f"{runner.url}/{code}?lang=en")
    assert page.status_code == 200
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09121234567"})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    returned = back.deliver(http)
    assert returned.status_code == 303, returned.text
    receipt = urljoin(runner.url, returned.headers["location"])
    assert http.get(receipt).status_code == 200
    return receipt.rsplit("/", 1)[-1]


def _remind(runner: Runner, http: httpx.Client, day: date) -> dict[str, Any]:
    """The daily run as if at 10:00 Tehran on `day`."""
    answer = http.post(f"{runner.url}/_local/invoke/RemindFunction", json={"now": f"{day}T06:30:00Z"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_an_invoice_in_three_installments_is_paid_one_at_a_time_over_http(runner: Runner):
    key = runner.create_merchant("e2e_installments", gateways="sandbox-a")
    auth = {"Authorization": f"Bearer {key}"}
    today = local_date(utcnow(), "Asia/Tehran")
    dues = [today + timedelta(days=d) for d in (10, 40, 70)]
    body = {
        "title": "Sofa", "kind": "invoice", "amount": sum(AMOUNTS),
        "payer": {"name": "Sara", "phone": "09121234567"},
        "installments": [
            {"amount": a, "due_date": d.isoformat()} for a, d in zip(AMOUNTS, dues, strict=True)
        ],
    }  # fmt: skip
    with httpx.Client(timeout=15, follow_redirects=False) as http:
        # Given the merchant made the invoice and sent it
        created = http.post(f"{runner.url}/v1/links", json=body, headers=auth)
        assert created.status_code == 201, created.text
        code = created.json()["code"]
        assert (
            http.post(f"{runner.url}/v1/links/{code}/send", json={"via": ["sms"]}, headers=auth).status_code
            == 200
        )

        def schedule() -> list[tuple[str, str | None]]:
            link = http.get(f"{runner.url}/v1/links/{code}", headers=auth).json()
            return [(p["status"], p["payment_id"]) for p in link["installments"]]

        def payment(payment_id: str) -> tuple[int, int, str]:
            p = http.get(f"{runner.url}/v1/payments/{payment_id}", headers=auth).json()
            return p["installment"], p["amount"], p["status"]

        # When the payer pays installment 1
        first = _pay_next(runner, http, code)
        # Then it is paid by that payment, the others pending
        assert payment(first) == (1, 1_000_000, "paid")
        assert schedule() == [("paid", first), ("pending", None), ("pending", None)]
        # And the day before installment 2 is due, it is reminded once (the run twice that day)
        code2 = f"{code}:2:"
        before = _remind(runner, http, dues[1] - timedelta(days=1))
        assert [s for s in before["sent"] if s.startswith(code2)] == [f"{code2}before_1"]
        assert [
            s for s in _remind(runner, http, dues[1] - timedelta(days=1))["sent"] if s.startswith(code)
        ] == []
        # When he pays installment 2
        second = _pay_next(runner, http, code)
        assert payment(second) == (2, 1_200_000, "paid")
        assert schedule() == [("paid", first), ("paid", second), ("pending", None)]
        # Then no reminder about it comes after its due date
        for offset in (1, 3):
            report = _remind(runner, http, dues[1] + timedelta(days=offset))
            assert [s for s in report["sent"] + report["overdue"] if s.startswith(code)] == []
        # When he pays the last one
        third = _pay_next(runner, http, code)
        assert payment(third) == (3, 800_000, "paid")
        assert schedule() == [("paid", first), ("paid", second), ("paid", third)]
        # Then the invoice is paid and its page answers 410
        link = http.get(f"{runner.url}/v1/links/{code}", headers=auth).json()
        assert (link["status"], link["paid_total"]) == ("paid", sum(AMOUNTS))
        assert http.get(f"{runner.url}/{code}").status_code == 410
        # And each installment's payment settles like any payment, on the next business day
        day = next_business_day(today, "IR").isoformat()
        assert http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day}).status_code == 200
        [settlement] = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"]
        assert (settlement["payment_count"], settlement["gross"]) == (3, sum(AMOUNTS))
