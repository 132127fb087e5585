"""SMS that cost the operator money, driven through the public contract: what one merchant can make us
text to numbers of its choosing beyond the day's invoice sends."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import ApiClient
from tests.integration.test_invoice_notify import outbox  # noqa: F401 - the fixture

DUE = "2026-03-10"  # a Tuesday


def _remind_on(day: date) -> dict[str, Any]:
    """The RemindFunction as its schedule invokes it (10:00 Tehran), within its role."""
    from functions.remind.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    event = {"scheduled_time": f"{day.isoformat()}T06:30:00Z"}
    return lambda_handler(event, LambdaContext(functions(load_template())["RemindFunction"]))


def _invoice(api: ApiClient, n: int, key: str = TEST_API_KEY, **extra: Any) -> str:
    """An invoice to a payer of its own (09121230000 + n), never sent by the merchant."""
    body = {"title": f"Invoice {n}", "kind": "invoice", "amount": 4_500_000,
            "payer": {"name": "Payer", "phone": f"0912123{n:04d}"}, **extra}  # fmt: skip
    if "installments" not in extra:
        body["due_date"] = DUE
    answer = api.post_json("/v1/links", body, key=key)
    assert answer.status == 201, answer.text
    return str(answer.json()["code"])


def _cap(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    import paylink.merchants.invoices

    monkeypatch.setattr(paylink.merchants.invoices, "REMINDERS_PER_MERCHANT_PER_DAY", n, raising=False)


def test_reminders_past_the_merchants_daily_allowance_are_not_sent(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given a merchant allowed 3 reminders a day, with 5 invoices due the same day to 5 numbers
    # (created, never sent: creating costs nothing and has no daily limit)
    _cap(monkeypatch, 3)
    for n in range(5):
        _invoice(api, n)
    # When the daily run goes the day before, and again (a retried run)
    day_before = date.fromisoformat(DUE) - timedelta(days=1)
    first = _remind_on(day_before)
    second = _remind_on(day_before)
    # Then 3 SMS left in all, and the other 2 reminders were skipped
    assert len(first["sent"]) == 3
    assert second["sent"] == []
    assert len(outbox()["sms"]) == 3


def test_installment_reminders_share_the_allowance(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given a merchant allowed 2 reminders a day, with 3 invoices in installments whose first
    # installments all fall due the same day
    _cap(monkeypatch, 2)
    from paylink.merchants.links import market_today

    due = market_today() + timedelta(days=10)
    second_due = (due + timedelta(days=30)).isoformat()
    schedule = [
        {"amount": 2_000_000, "due_date": due.isoformat()},
        {"amount": 2_500_000, "due_date": second_due},
    ]
    for n in range(3):
        _invoice(api, n, installments=schedule)
    # When the daily run goes the day before
    report = _remind_on(due - timedelta(days=1))
    # Then only 2 SMS left
    assert len(outbox()["sms"]) == 2, report


def test_one_merchants_reminders_spend_no_others(api, merchant, other_merchant, outbox, monkeypatch):  # noqa: F811
    # Given a merchant allowed 2 reminders a day that has 4 invoices due, and another merchant with one
    _cap(monkeypatch, 2)
    for n in range(4):
        _invoice(api, n)
    theirs = _invoice(api, 9, key=OTHER_API_KEY)
    # When the daily run goes the day before
    report = _remind_on(date.fromisoformat(DUE) - timedelta(days=1))
    # Then the other merchant's payer was reminded too
    assert f"{theirs}:before_1" in report["sent"]
    assert len(outbox()["sms"]) == 3


def test_the_next_day_brings_a_new_reminder_allowance(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given a merchant allowed 1 reminder a day, with 2 invoices due the same day
    _cap(monkeypatch, 1)
    for n in range(2):
        _invoice(api, n)
    due = date.fromisoformat(DUE)
    # When the run goes the day before and the day after the due date
    before = _remind_on(due - timedelta(days=1))
    after = _remind_on(due + timedelta(days=1))
    # Then one reminder went on each day
    assert len(before["sent"]) == 1
    assert len(after["sent"]) == 1
    assert len(outbox()["sms"]) == 2


# ---- invoice sends: one number is not a target ---------------------------------------------------


def _to_one_number(api: ApiClient, count: int, phone: str = "09121234567") -> list[str]:
    body = {"kind": "invoice", "amount": 4_500_000, "payer": {"name": "Payer", "phone": phone}}
    codes = []
    for n in range(count):
        answer = api.post_json("/v1/links", {**body, "title": f"Invoice {n}"}, key=TEST_API_KEY)
        assert answer.status == 201, answer.text
        codes.append(str(answer.json()["code"]))
    return codes


def _send(api: ApiClient, code: str) -> int:
    return api.post_json(f"/v1/links/{code}/send", {"via": ["sms"]}, key=TEST_API_KEY).status


def _recipient_cap(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    import paylink.merchants.invoices

    monkeypatch.setattr(paylink.merchants.invoices, "SENDS_PER_RECIPIENT_PER_DAY", n, raising=False)


def test_many_invoices_to_one_number_do_not_multiply_its_sms(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given a number may get 2 invoice SMS a day from a merchant, and 3 invoices to that number
    # (the per-invoice limit alone let a merchant text one number 200 times a day)
    _recipient_cap(monkeypatch, 2)
    codes = _to_one_number(api, 3)
    # When the merchant sends each of them
    answers = [_send(api, code) for code in codes]
    # Then the third is a 429 and only two SMS reached the number
    assert answers == [200, 200, 429]
    assert len(outbox()["sms"]) == 2


def test_another_number_still_gets_its_invoice(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given one number has had its invoice SMS for the day
    _recipient_cap(monkeypatch, 1)
    [first, second] = _to_one_number(api, 2)
    assert _send(api, first) == 200
    assert _send(api, second) == 429
    # When the merchant sends an invoice to another number
    [other] = _to_one_number(api, 1, phone="09351234567")
    # Then it goes
    assert _send(api, other) == 200
    assert [to for to, _ in outbox()["sms"]] == ["+989121234567", "+989351234567"]


def test_reminders_to_one_number_are_held_to_its_daily_sends(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given one number may get 2 invoice SMS a day from a merchant, with 4 invoices to that number and
    # one to another, all due the same day
    _recipient_cap(monkeypatch, 2)
    body = {"kind": "invoice", "amount": 4_500_000, "due_date": DUE}
    for n in range(4):
        payer = {"name": "Payer", "phone": "09121234567"}
        api.post_json("/v1/links", {**body, "title": f"Invoice {n}", "payer": payer}, key=TEST_API_KEY)
    other = _invoice(api, 7)
    # When the daily run goes the day before
    report = _remind_on(date.fromisoformat(DUE) - timedelta(days=1))
    # Then the number got 2 reminders, and the other payer hers
    assert f"{other}:before_1" in report["sent"]
    assert sorted(to for to, _ in outbox()["sms"]) == ["+989121230007", "+989121234567", "+989121234567"]


def test_a_reminder_refused_for_its_number_spends_none_of_the_merchants(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given a merchant allowed 3 reminders a day, one number allowed 1, and 4 invoices due to that
    # number and 2 to others
    _cap(monkeypatch, 3)
    _recipient_cap(monkeypatch, 1)
    body = {"kind": "invoice", "amount": 4_500_000, "due_date": DUE}
    for n in range(4):
        payer = {"name": "Payer", "phone": "09121234567"}
        api.post_json("/v1/links", {**body, "title": f"Invoice {n}", "payer": payer}, key=TEST_API_KEY)
    _invoice(api, 7)
    _invoice(api, 8)
    # When the daily run goes the day before
    _remind_on(date.fromisoformat(DUE) - timedelta(days=1))
    # Then the number got one, and both others theirs
    assert sorted(to for to, _ in outbox()["sms"]) == ["+989121230007", "+989121230008", "+989121234567"]


def test_sub_addresses_of_one_mailbox_count_as_one_recipient(api, merchant, outbox, monkeypatch):  # noqa: F811
    # Given one mailbox may get 2 invoice emails a day from a merchant, and invoices to three of its
    # sub-addresses (mail for a+anything@ and, at Gmail, a.b@ lands in the same box)
    _recipient_cap(monkeypatch, 2)
    codes = []
    for n, email in enumerate(["Sara+1@example.com", "sara+2@Example.com", "sara@example.com"]):
        body = {
            "kind": "invoice",
            "amount": 4_500_000,
            "title": f"Invoice {n}",
            "payer": {"name": "Sara", "email": email},
        }
        answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
        assert answer.status == 201, answer.text
        codes.append(answer.json()["code"])
    # When the merchant emails each of them
    answers = [
        api.post_json(f"/v1/links/{code}/send", {"via": ["email"]}, key=TEST_API_KEY).status for code in codes
    ]
    # Then the third is a 429: one mailbox, one allowance
    assert answers == [200, 200, 429]
    assert len(outbox()["email"]) == 2


@pytest.mark.parametrize(
    ("address", "box"),
    [
        ("Sara+shop@Example.com", "sara@example.com"),
        ("s.a.r.a+x@googlemail.com", "sara@gmail.com"),
        ("s.ara@example.com", "s.ara@example.com"),  # dots count outside Gmail
        ("+989121234567", "+989121234567"),  # a phone is as given
    ],
)
def test_a_send_counter_names_the_mailbox_an_address_delivers_to(address: str, box: str) -> None:
    from paylink.merchants.invoices import mailbox

    assert mailbox(address) == box
