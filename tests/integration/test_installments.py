"""Invoices in installments (DESIGN.md section 11): the schedule's rules, paying one installment at a
time, reminders per installment, and the merchant's events."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import ApiClient, act_at_gateway, local_target
from tests.integration.test_invoice_notify import outbox  # noqa: F401 - the fixture
from tests.integration.test_webhooks import _queued, notify, sqs  # noqa: F401 - the fixtures

PAYER = {"name": "Sara Ahmadi", "phone": "09121234567", "email": "sara@example.com"}
BUYER = {"name": "Sara Ahmadi", "phone": "09121234567"}


def _today() -> date:
    from paylink.merchants.links import market_today

    return market_today()


def _schedule(*amounts: int, start: int = 10, step: int = 30) -> list[dict[str, Any]]:
    first = _today() + timedelta(days=start)
    return [
        {"amount": amount, "due_date": (first + timedelta(days=step * n)).isoformat()}
        for n, amount in enumerate(amounts)
    ]


def _body(installments: Any, amount: int = 3_000_000, **extra: Any) -> dict[str, Any]:
    return {"title": "Sofa", "kind": "invoice", "amount": amount, "payer": PAYER,
            "installments": installments, **extra}  # fmt: skip


@pytest.fixture
def plan(api, merchant, gateways) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A three-installment invoice: 1,000,000 + 1,200,000 + 800,000 rials, 10, 40 and 70 days out."""
    answer = api.post_json("/v1/links", _body(_schedule(1_000_000, 1_200_000, 800_000)), key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()


def _errors(api: ApiClient, body: dict[str, Any]) -> dict[str, str]:
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert answer.status == 400, answer.text
    return answer.json()["error"]["fields"]


def _pay(api: ApiClient, code: str, form: dict[str, str] | None = None) -> str:
    """Pay the invoice's next installment at the sandbox; the payment's id."""
    started = api.post_form(f"/{code}", form or BUYER)
    assert started.status == 303, started.text
    done = api.get(local_target(act_at_gateway(started.location)))
    assert done.status == 303, done.text
    return done.location.rsplit("/", 1)[-1]


def _read(api: ApiClient, code: str) -> dict[str, Any]:
    answer = api.get(f"/v1/links/{code}", key=TEST_API_KEY)
    assert answer.status == 200
    return answer.json()


# ---- creation and its rules ----------------------------------------------------------------------


def test_an_invoice_in_installments_reads_back_its_schedule_all_pending(plan):
    # Then each installment has its number, amount, due date, and is pending with no payment
    parts = plan["installments"]
    assert [(p["number"], p["amount"], p["status"], p["payment_id"]) for p in parts] == [
        (1, 1_000_000, "pending", None), (2, 1_200_000, "pending", None), (3, 800_000, "pending", None),
    ]  # fmt: skip
    assert [p["due_date"] for p in parts] == [s["due_date"] for s in _schedule(1, 1, 1)]
    assert (plan["status"], plan["max_payments"]) == ("active", 3)


def test_other_links_read_no_schedule(api, merchant):
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": 500_000}, key=TEST_API_KEY).json()
    assert link["installments"] is None


def test_installments_that_do_not_add_up_to_the_amount_are_a_400(api, merchant):
    fields = _errors(api, _body(_schedule(1_000_000, 1_000_000, 900_000)))
    assert "add up to 2900000 rials, not the invoice's amount of 3000000" in fields["installments"]


def test_unordered_due_dates_are_a_400(api, merchant):
    parts = _schedule(1_500_000, 1_500_000)
    parts.reverse()
    assert "due dates must increase" in _errors(api, _body(parts))["installments"]


def test_two_installments_due_the_same_day_are_a_400(api, merchant):
    parts = _schedule(1_500_000, 1_500_000, step=0)
    assert "due dates must increase" in _errors(api, _body(parts))["installments"]


def test_a_due_date_in_the_past_is_a_400(api, merchant):
    parts = _schedule(1_500_000, 1_500_000, start=-1)
    assert "installment 1: a due date must not be in the past" in _errors(api, _body(parts))["installments"]


def test_a_first_installment_due_today_is_accepted(api, merchant):
    answer = api.post_json("/v1/links", _body(_schedule(1_500_000, 1_500_000, start=0)), key=TEST_API_KEY)
    assert answer.status == 201, answer.text


def test_one_installment_is_a_400(api, merchant):
    fields = _errors(api, _body(_schedule(3_000_000)))
    assert "2 to 24 installments" in fields["installments"]


def test_twenty_five_installments_are_a_400(api, merchant):
    fields = _errors(api, _body(_schedule(*[2_000] * 25, step=1), amount=50_000))
    assert "2 to 24 installments" in fields["installments"]


def test_twenty_four_installments_are_accepted(api, merchant):
    answer = api.post_json(
        "/v1/links", _body(_schedule(*[2_000] * 24, step=1), amount=48_000), key=TEST_API_KEY
    )
    assert answer.status == 201, answer.text
    assert len(answer.json()["installments"]) == 24


def test_an_installment_under_1000_rials_is_a_400(api, merchant):
    fields = _errors(api, _body(_schedule(2_999_500, 500)))
    assert "installment 2: each installment is at least 1000 rials" in fields["installments"]


def test_an_installment_above_the_accounts_limit_per_payment_is_a_400(api, merchant):
    # Given a personal account (10,000,000 rials per payment): a total above it is fine in parts
    ok = api.post_json(
        "/v1/links", _body(_schedule(9_000_000, 9_000_000), amount=18_000_000), key=TEST_API_KEY
    )
    assert ok.status == 201, ok.text
    # But one installment above it is refused, named
    fields = _errors(api, _body(_schedule(11_000_000, 1_000_000), amount=12_000_000))
    assert fields["installments"] == "installment 1: a payment may be at most 10000000 rials on this account"


def test_every_broken_rule_is_named_at_once(api, merchant):
    parts = _schedule(500, 1_000_000, start=-2)
    parts.reverse()
    message = _errors(api, _body(parts))["installments"]
    for rule in ("at least 1000 rials", "must increase", "in the past", "add up to"):
        assert rule in message


def test_installments_on_an_item_link_are_a_400(api, merchant):
    body = {"title": "Scarf", "amount": 3_000_000, "installments": _schedule(1_500_000, 1_500_000)}
    assert "only an invoice" in _errors(api, body)["installments"]


def test_an_invoice_in_installments_has_no_due_date_of_its_own(api, merchant):
    fields = _errors(api, _body(_schedule(1_500_000, 1_500_000), due_date=_today().isoformat()))
    assert "due date per installment" in fields["due_date"]


@pytest.mark.parametrize(
    "part",
    [{"amount": 1_500_000}, {"amount": "1500000", "due_date": "2099-01-01"}, {"amount": 1_500_000,
     "due_date": "tomorrow"}, {"amount": 1_500_000, "due_date": "2099-01-01", "extra": 1}],
)  # fmt: skip
def test_a_malformed_installment_is_a_400_on_installments(api, merchant, part):
    fields = _errors(api, _body([part, _schedule(1_500_000)[0]]))
    assert all(name.startswith("installments") for name in fields), fields


def test_the_stock_of_an_invoice_in_installments_cannot_be_changed(api, plan):
    answer = api.patch_json(f"/v1/links/{plan['code']}", {"max_payments": 5}, key=TEST_API_KEY)
    assert answer.status == 400
    assert "max_payments" in answer.json()["error"]["fields"]


# ---- the page and paying ------------------------------------------------------------------------


def test_the_page_shows_the_whole_schedule_and_offers_the_first_installment(api, plan):
    page = api.get(f"/{plan['code']}")
    assert page.status == 200
    assert page.text.count('<li class="pending') == 3
    assert "پرداخت قسط ۱" in page.text
    assert "۱۰۰٬۰۰۰ تومان" in page.text  # installment 1
    english = api.get(f"/{plan['code']}?lang=en")
    assert "Pay installment 1" in english.text
    assert "Installment 3" in english.text


def test_a_payment_pays_the_next_installment_at_the_schedules_amount_not_the_forms(api, plan):
    # When the buyer posts an amount of his own
    payment_id = _pay(api, plan["code"], {**BUYER, "amount": "1000"})
    # Then the payment is of installment 1, for its amount
    payment = api.get(f"/v1/payments/{payment_id}", key=TEST_API_KEY).json()
    assert (payment["installment"], payment["amount"], payment["quantity"], payment["status"]) == (
        1, 1_000_000, 1, "paid",
    )  # fmt: skip
    # And the schedule shows it paid by that payment; the page offers installment 2
    parts = _read(api, plan["code"])["installments"]
    assert [(p["status"], p["payment_id"]) for p in parts] == [
        ("paid", payment_id), ("pending", None), ("pending", None),
    ]  # fmt: skip
    assert "پرداخت قسط ۲" in api.get(f"/{plan['code']}").text


def test_paying_every_installment_makes_the_invoice_paid_and_its_page_410(api, plan):
    ids = [_pay(api, plan["code"]) for _ in range(3)]
    link = _read(api, plan["code"])
    assert [p["payment_id"] for p in link["installments"]] == ids
    assert (link["status"], link["paid_count"], link["paid_total"]) == ("paid", 3, 3_000_000)
    assert api.get(f"/{plan['code']}").status == 410
    assert api.post_form(f"/{plan['code']}", BUYER).status == 410


def test_a_second_buyer_cannot_pay_the_installment_another_is_paying(api, plan):
    # Given one buyer is at the gateway for installment 1
    first = api.post_form(f"/{plan['code']}", BUYER)
    assert first.status == 303
    # When another buyer posts the form for the same invoice
    other = ApiClient(source_ip="198.51.100.20").post_form(
        f"/{plan['code']}", {"name": "B", "phone": "09350000000"}
    )
    # Then he is told a payment is in progress, and only one payment exists
    assert other.status == 409
    assert len(api.get("/v1/payments", key=TEST_API_KEY).json()["items"]) == 1


def test_an_unpaid_attempt_gives_the_installment_back(api, plan):
    started = api.post_form(f"/{plan['code']}", BUYER)
    api.get(local_target(act_at_gateway(started.location, "cancel")))
    payment_id = _pay(api, plan["code"])
    assert api.get(f"/v1/payments/{payment_id}", key=TEST_API_KEY).json()["installment"] == 1


def test_a_replayed_return_credits_the_installment_once(api, plan):
    started = api.post_form(f"/{plan['code']}", BUYER)
    callback = local_target(act_at_gateway(started.location))
    assert api.get(callback).status == 303
    assert api.get(callback).status == 303
    link = _read(api, plan["code"])
    assert (link["paid_count"], link["paid_total"]) == (1, 1_000_000)
    assert [p["status"] for p in link["installments"]] == ["paid", "pending", "pending"]


def test_a_coupon_never_applies_to_an_installment(api, plan):
    api.post_json("/v1/coupons", {"code": "HALF", "kind": "percent", "value": 50}, key=TEST_API_KEY)
    answer = api.post_form(f"/{plan['code']}", {**BUYER, "coupon": "HALF"})
    assert answer.status == 400
    assert api.get("/v1/payments", key=TEST_API_KEY).json()["items"] == []


def test_an_unpaid_installment_past_its_due_date_reads_overdue():
    from paylink.core.models import Installment

    part = Installment(number=1, amount=1_000, due_date="2026-03-10")
    assert part.status(date(2026, 3, 10)).value == "pending"
    assert part.status(date(2026, 3, 11)).value == "overdue"
    paid = part.model_copy(update={"payment_id": "pay_1"})
    assert paid.status(date(2026, 3, 11)).value == "paid"


# ---- send, reminders and events -----------------------------------------------------------------


def _remind_on(day: date) -> dict[str, Any]:
    """The RemindFunction as its schedule invokes it (10:00 Tehran)."""
    from functions.remind.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    event = {"scheduled_time": f"{day.isoformat()}T06:30:00Z"}
    return lambda_handler(event, LambdaContext(functions(load_template())["RemindFunction"]))


def test_sending_the_invoice_sends_the_schedule(api, plan, outbox):  # noqa: F811
    answer = api.post_json(f"/v1/links/{plan['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)
    assert answer.status == 200, answer.text
    [(_, text)] = outbox()["sms"]
    assert "۳ قسط" in text
    assert "قسط ۱: ۱۰۰٬۰۰۰ تومان" in text
    assert "قسط ۳: ۸۰٬۰۰۰ تومان" in text
    assert plan["url"] in text


def test_installment_2_is_reminded_before_and_after_its_due_date_once_each(api, plan, outbox):  # noqa: F811
    due = date.fromisoformat(plan["installments"][1]["due_date"])
    code = plan["code"]
    # When the daily run goes on every day around installment 2's due date, twice on each
    sent = []
    for offset in range(-3, 5):
        sent += _remind_on(due + timedelta(days=offset))["sent"]
        assert _remind_on(due + timedelta(days=offset))["sent"] == []
    # Then installment 2 was reminded the day before, 1 and 3 days after (installment 1 too: overdue)
    assert [s for s in sent if s.startswith(f"{code}:2:")] == [
        f"{code}:2:before_1", f"{code}:2:after_1", f"{code}:2:after_3",
    ]  # fmt: skip
    texts = [text for _, text in outbox()["sms"] if "قسط ۲ از ۳" in text]
    assert len(texts) == 3
    assert "۱۲۰٬۰۰۰ تومان" in texts[0]


def test_a_paid_installment_gets_no_reminder(api, plan, outbox):  # noqa: F811
    # Given installments 1 and 2 are paid
    _pay(api, plan["code"])
    _pay(api, plan["code"])
    due = date.fromisoformat(plan["installments"][1]["due_date"])
    # When the daily run goes around its due date
    report = [_remind_on(due + timedelta(days=offset)) for offset in (-1, 1, 3)]
    # Then nothing is sent about it
    assert all(not r["sent"] and not r["overdue"] for r in report)
    assert outbox()["sms"] == []


def test_installment_events_paid_and_overdue_once(api, plan, notify, sqs):  # noqa: F811
    # Given installment 1 is paid
    payment_id = _pay(api, plan["code"])
    # And the daily run goes twice on each day after installment 2's due date
    due = date.fromisoformat(plan["installments"][1]["due_date"])
    for offset in (1, 1, 2, 3, 3):
        _remind_on(due + timedelta(days=offset))
    # Then the merchant hears payment.paid and installment.paid for installment 1, and
    # installment.overdue once for installment 2
    import json

    events = [json.loads(m["Body"]) for m in _queued(sqs, notify["NotifyQueue"])]
    kinds = sorted((e["type"], e["data"].get("installment")) for e in events)
    assert kinds == [("installment.overdue", 2), ("installment.paid", 1), ("payment.paid", 1)]
    paid = next(e for e in events if e["type"] == "installment.paid")
    assert (paid["data"]["id"], paid["data"]["amount"]) == (payment_id, 1_000_000)
    overdue = next(e for e in events if e["type"] == "installment.overdue")
    assert (overdue["data"]["link_code"], overdue["data"]["amount"]) == (plan["code"], 1_200_000)


def test_the_merchants_notice_of_an_overdue_installment_reads_well(api, plan, store):
    from paylink.notify.events import installment_overdue_event
    from paylink.notify.notifications import notice_text

    link = store.get_link(plan["code"])
    event = installment_overdue_event(link, link.installments[1])
    assert notice_text(event) == f"installment.overdue: Sofa, 120,000 Toman ({plan['code']})"
    # And the same installment's event always has the same id (merchants deduplicate on it)
    assert installment_overdue_event(link, link.installments[1])["id"] == event["id"]
