"""Invoices sent to their payer by SMS (SNS) and email (SES), and reminders around the due date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import act_at_gateway, local_target, verified_email_sender

SENDER = "invoices@pay.example"
PAYER = {"name": "Sara Ahmadi", "phone": "09121234567", "email": "sara@example.com"}
DUE = "2026-03-10"  # a Tuesday


@pytest.fixture
def outbox(aws, monkeypatch):  # type: ignore[no-untyped-def]
    """moto's SNS and SES with a verified sender; yields a function reading what was sent."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    from paylink.notify.messages import notifiers

    monkeypatch.setenv("PAYLINK_SMS_SENDER_ID", "paylink")
    verified_email_sender(monkeypatch, SENDER)

    def sent() -> dict[str, list]:  # type: ignore[type-arg]
        sms = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
        mails = [
            (m.destinations["ToAddresses"], m.subject, m.body)
            for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        ]
        return {"sms": sms, "email": mails}

    yield sent
    notifiers.cache_clear()


@pytest.fixture
def invoice(api, merchant, gateways):  # type: ignore[no-untyped-def]
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": PAYER,
            "due_date": DUE, "reference": "INV-7"}  # fmt: skip
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()


def _remind_on(api, day: date, hour_utc: int = 6):  # type: ignore[no-untyped-def]
    """Invoke the RemindFunction as its schedule would (10:00 Tehran is 06:30 UTC)."""
    from functions.remind.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    event = {"scheduled_time": f"{day.isoformat()}T{hour_utc:02d}:30:00Z"}
    return lambda_handler(event, LambdaContext(functions(load_template())["RemindFunction"]))


def _pay(api, code: str) -> None:  # type: ignore[no-untyped-def]
    started = api.post_form(f"/{code}", {"name": "Sara Ahmadi", "phone": "09121234567"})
    assert started.status == 303, started.text
    api.get(local_target(act_at_gateway(started.location)))


def test_invoice_is_sent_by_sms_and_email(api, invoice, outbox):
    # When the merchant sends the invoice by SMS and email
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms", "email"]}, key=TEST_API_KEY)
    # Then the payer's phone (E.164) gets an SMS and her address an email, both with the link
    assert answer.status == 200, answer.text
    assert answer.json() == {"sent": ["sms", "email"]}
    sent = outbox()
    [(phone, text)] = sent["sms"]
    assert phone == "+989121234567"
    assert invoice["url"] in text
    assert "۴۵۰٬۰۰۰ تومان" in text
    [(to, subject, body)] = sent["email"]
    assert to == ["sara@example.com"]
    assert "Scarf Shop" in subject
    assert invoice["url"] in body


def test_send_by_email_only(api, invoice, outbox):
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["email"]}, key=TEST_API_KEY)
    assert answer.status == 200
    assert (len(outbox()["sms"]), len(outbox()["email"])) == (0, 1)


@pytest.mark.parametrize("body", [{}, {"via": []}, {"via": ["fax"]}, {"via": "sms"}, {"via": ["sms", "sms"]}])
def test_send_with_a_bad_via_is_a_400(api, invoice, outbox, body):
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", body, key=TEST_API_KEY)
    assert answer.status == 400
    assert "via" in answer.json()["error"]["fields"]
    assert outbox() == {"sms": [], "email": []}


def test_only_invoices_are_sent(api, merchant, outbox):
    item = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()
    answer = api.post_json(f"/v1/links/{item['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)
    assert answer.status == 400
    assert "code" in answer.json()["error"]["fields"]


def test_an_invoice_without_the_payers_email_cannot_go_by_email(api, merchant, outbox):
    payer = {"name": "Reza", "phone": "09120000000"}
    body = {"title": "Fix", "kind": "invoice", "amount": 2_000_000, "payer": payer}
    code = api.post_json("/v1/links", body, key=TEST_API_KEY).json()["code"]
    answer = api.post_json(f"/v1/links/{code}/send", {"via": ["email"]}, key=TEST_API_KEY)
    assert answer.status == 400
    assert "email" in answer.json()["error"]["fields"]["via"]


def test_another_merchants_invoice_is_404(api, invoice, other_merchant, outbox):
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms"]}, key=OTHER_API_KEY)
    assert answer.status == 404


def test_a_paid_invoice_is_not_sent_again_and_refuses_a_second_payment(api, invoice, outbox):
    # Given the invoice is paid
    _pay(api, invoice["code"])
    # Then sending it again answers 410
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)
    assert answer.status == 410
    assert outbox()["sms"] == []
    # And a second payment is refused with the 410 page, on the page and on the form's post
    page = api.get(f"/{invoice['code']}")
    assert page.status == 410
    assert "text/html" in page.headers["Content-Type"]
    second = api.post_form(f"/{invoice['code']}", {"name": "Sara Ahmadi", "phone": "09121234567"})
    assert second.status == 410
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] == "paid"


def test_a_reminder_the_day_before_the_due_date_is_sent_once(api, invoice, outbox):
    day_before = date.fromisoformat(DUE) - timedelta(days=1)
    # When the schedule runs the day before the due date, twice (a retry)
    first = _remind_on(api, day_before)
    second = _remind_on(api, day_before)
    # Then one reminder went by SMS and one by email
    assert first["sent"] == [f"{invoice['code']}:before_1"]
    assert second["sent"] == []
    sent = outbox()
    assert len(sent["sms"]) == 1
    assert len(sent["email"]) == 1
    assert invoice["url"] in sent["sms"][0][1]


def test_reminders_one_and_three_days_after_the_due_date(api, invoice, outbox):
    due = date.fromisoformat(DUE)
    assert _remind_on(api, due)["sent"] == []  # nothing on the due date itself
    assert _remind_on(api, due + timedelta(days=1))["sent"] == [f"{invoice['code']}:after_1"]
    assert _remind_on(api, due + timedelta(days=2))["sent"] == []
    assert _remind_on(api, due + timedelta(days=3))["sent"] == [f"{invoice['code']}:after_3"]
    assert len(outbox()["sms"]) == 2


def test_no_reminder_once_the_invoice_is_paid(api, invoice, outbox):
    _pay(api, invoice["code"])
    report = _remind_on(api, date.fromisoformat(DUE) + timedelta(days=1))
    assert report["sent"] == []
    assert report["skipped"] == [f"{invoice['code']}:after_1"]
    assert outbox() == {"sms": [], "email": []}


def test_the_reminder_day_is_the_tehran_day_of_the_schedule(api, invoice, outbox):
    # 22:00 UTC on the 8th is already the 9th in Tehran: the day before the due date
    report = _remind_on(api, date.fromisoformat(DUE) - timedelta(days=2), hour_utc=22)
    assert report["sent"] == [f"{invoice['code']}:before_1"]
