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


# ---- SMS pumping and phishing: Iranian mobiles only, a few sends a day ----------------------


def _invoice_to(api, phone: str, title: str = "Design work"):  # type: ignore[no-untyped-def]
    body = {"title": title, "kind": "invoice", "amount": 4_500_000, "payer": {"name": "Sara", "phone": phone}}
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()


def _send(api, code: str, via: list[str] | None = None):  # type: ignore[no-untyped-def]
    return api.post_json(f"/v1/links/{code}/send", {"via": via or ["sms"]}, key=TEST_API_KEY)


def _seconds_to_tehran_midnight() -> float:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Tehran"))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return (midnight - now).total_seconds()


@pytest.mark.parametrize(
    "phone", ["+447911123456", "+18005550100", "00447911123456", "+98912345", "02112345678"]
)
def test_an_invoice_sms_goes_to_no_number_but_an_iranian_mobile(api, merchant, outbox, phone):
    # Given an invoice whose payer phone is an international (premium-rate) or landline number
    invoice = _invoice_to(api, phone)
    # When the merchant sends it by SMS
    answer = _send(api, invoice["code"])
    # Then it is a 400 naming the phone, and no SMS leaves
    assert answer.status == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
    assert "via" in answer.json()["error"]["fields"]
    assert outbox()["sms"] == []


@pytest.mark.parametrize("phone", ["09121234567", "+989121234567", "989121234567", "00989121234567"])
def test_an_iranian_mobile_in_any_usual_form_gets_the_sms(api, merchant, outbox, phone):
    invoice = _invoice_to(api, phone)
    assert _send(api, invoice["code"]).status == 200
    assert [to for to, _ in outbox()["sms"]] == ["+989121234567"]


def test_persian_digits_of_a_mobile_are_read_as_digits():
    from paylink.notify.messages import iran_mobile

    assert iran_mobile("۰۹۱۲ ۱۲۳ ۴۵۶۷") == "+989121234567"
    assert iran_mobile("٠٩١٢١٢٣٤٥٦٧") == "+989121234567"
    assert iran_mobile("+44 7911 123456") is None


def test_an_invoice_is_sent_at_most_three_times_a_day_then_429_until_midnight(api, invoice, outbox):
    from paylink.merchants.invoices import SENDS_PER_INVOICE_PER_DAY

    # Given the invoice was sent as often as a day allows
    for _ in range(SENDS_PER_INVOICE_PER_DAY):
        assert _send(api, invoice["code"]).status == 200
    # When the merchant sends it once more
    answer = _send(api, invoice["code"])
    # Then it is a 429 that says when the day's window opens again (Tehran midnight), and no SMS left
    assert answer.status == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert abs(int(answer.headers["Retry-After"]) - _seconds_to_tehran_midnight()) < 30
    assert len(outbox()["sms"]) == SENDS_PER_INVOICE_PER_DAY


def test_a_merchant_sends_at_most_its_daily_number_of_invoices(api, merchant, outbox, monkeypatch):
    import paylink.merchants.invoices

    # Given a merchant allowed 3 invoice sends a day, and four invoices to four payers
    monkeypatch.setattr(paylink.merchants.invoices, "SENDS_PER_MERCHANT_PER_DAY", 3)
    codes = [_invoice_to(api, f"0912123456{n}", f"Invoice {n}")["code"] for n in range(4)]
    for code in codes[:3]:
        assert _send(api, code).status == 200
    # When it sends the fourth
    answer = _send(api, codes[3])
    # Then it is a 429 with Retry-After, and only three SMS left
    assert answer.status == 429, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert len(outbox()["sms"]) == 3


def test_a_refused_send_takes_nothing_from_the_days_allowance(api, merchant, outbox, monkeypatch):
    import paylink.merchants.invoices

    # Given a merchant allowed 2 sends a day whose first invoice has used its own day's sends
    monkeypatch.setattr(paylink.merchants.invoices, "SENDS_PER_MERCHANT_PER_DAY", 2)
    monkeypatch.setattr(paylink.merchants.invoices, "SENDS_PER_INVOICE_PER_DAY", 1)
    first, second = (_invoice_to(api, "09121234567", t)["code"] for t in ("A", "B"))
    assert _send(api, first).status == 200
    # When the first is sent again (refused) and then the second
    assert _send(api, first).status == 429
    # Then the second still goes: the refusal counted against nothing
    assert _send(api, second).status == 200
