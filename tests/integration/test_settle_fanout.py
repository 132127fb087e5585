"""Settlement fan-out against moto: one queued message per merchant, a worker that settles each one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from local.queues import QueuePoller, drain, sqs_event
from local.template import create_queues, load_template, queue_sources
from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.helpers import act_at_gateway, local_target, reset_caches

BUYER = {"name": "Ali", "phone": "09121234567"}
AMOUNT = 1_234_560


def _context(function_id: str):  # type: ignore[no-untyped-def]
    from local.run import LambdaContext
    from local.template import functions

    return LambdaContext(functions(load_template())[function_id])


def _settle(day: str) -> dict[str, Any]:
    from functions.settle.app import lambda_handler

    return lambda_handler({"date": day}, _context("SettleFunction"))


def _work(event: dict[str, Any]) -> Any:
    from functions.settle.app import worker_handler

    return worker_handler(event, _context("SettleWorkerFunction"))


def _next_business_day() -> str:
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    return next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()


def _next_friday() -> str:
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date

    today = local_date(utcnow(), "Asia/Tehran")
    return (today + timedelta(days=(4 - today.weekday()) % 7 or 7)).isoformat()


def _paid_link(api, key: str) -> None:  # type: ignore[no-untyped-def]
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=key).json()
    started = api.post_form(f"/{link['code']}", BUYER)
    assert started.status == 303, started.text
    api.get(local_target(act_at_gateway(started.location)))


def _message(merchant_id: str, day: str, number: int = 1) -> dict[str, Any]:
    body = json.dumps({"merchant_id": merchant_id, "date": day})
    return {"MessageId": f"msg-{number}", "ReceiptHandle": f"rh-{number}", "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"}}  # fmt: skip


@pytest.fixture
def sqs(aws: str) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queues(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The template's queues in moto (failed messages visible again at once), the settle function on them."""
    from paylink.notify.queues import sqs_client

    refs = create_queues(sqs, load_template(), prefix="test", visibility_timeout=0)
    monkeypatch.setenv("SETTLE_QUEUE_URL", refs["SettleQueue"])
    reset_caches()
    sqs_client.cache_clear()
    yield refs
    sqs_client.cache_clear()


@pytest.fixture
def two_merchants_paid(api, store, merchant, gateways) -> list[str]:  # type: ignore[no-untyped-def]
    """Two merchants with a paid payment each, and a third with nothing to settle."""
    from paylink.merchants.accounts import create_merchant

    second, second_key = create_merchant(store, username="second", name="Second", iban=VALID_IBAN)
    create_merchant(store, username="idle", name="Idle", iban=VALID_IBAN)
    _paid_link(api, TEST_API_KEY)
    _paid_link(api, second_key)
    return [merchant.id, second.id]


def _queued_bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_fan_out_queues_one_message_per_merchant_with_unsettled_money(queues, sqs, two_merchants_paid):
    # Given two merchants with paid payments and one without
    day = _next_business_day()
    # When the settle function runs for the next business day with a queue configured
    answer = _settle(day)
    # Then it queues exactly one message per merchant with money, and settles nothing itself
    assert answer == {"date": day, "business_day": True, "queued": 2}
    bodies = _queued_bodies(sqs, queues["SettleQueue"])
    assert sorted(bodies, key=lambda b: b["merchant_id"]) == sorted(
        ({"merchant_id": mid, "date": day} for mid in two_merchants_paid), key=lambda b: b["merchant_id"]
    )


def test_a_friday_queues_nothing(queues, sqs, two_merchants_paid):
    # Given merchants with paid payments
    friday = _next_friday()
    # When the settle function runs on a Friday
    answer = _settle(friday)
    # Then it is not a business day and the queue stays empty
    assert answer == {"date": friday, "business_day": False, "queued": 0}
    assert _queued_bodies(sqs, queues["SettleQueue"]) == []


def test_without_a_queue_the_settle_function_settles_directly(api, two_merchants_paid):
    # Given no SETTLE_QUEUE_URL (unit tests, simple setups)
    # When the settle function runs
    answer = _settle(_next_business_day())
    # Then it settles every merchant itself and lists the settlements
    assert "queued" not in answer
    assert len(answer["settlements"]) == 2


def test_worker_settles_the_merchant_a_message_names(api, store, two_merchants_paid):
    # Given a queued message for the first merchant
    day = _next_business_day()
    event = sqs_event([_message(two_merchants_paid[0], day)], "arn:aws:sqs:us-east-1:1:q", "us-east-1")
    # When the worker receives it
    answer = _work(event)
    # Then no message failed, that merchant's day is settled and paid out, the other is untouched
    assert answer == {"batchItemFailures": []}
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    assert (settlement["date"], settlement["status"], settlement["gross"]) == (day, "paid", AMOUNT)
    assert store.get_payout(settlement["id"])["amount"] == settlement["net"]
    assert list(store.merchants_with_unsettled_money()) == [two_merchants_paid[1]]


def test_a_failing_merchant_is_reported_alone_and_settles_on_retry(
    api, store, two_merchants_paid, monkeypatch
):
    # Given the bank refuses the first merchant's payout, once
    import paylink.settlement.payouts

    failing, other = two_merchants_paid
    real_submit = paylink.settlement.payouts.SandboxPayout.submit

    def refuse_first(self, settlement, **attempt):  # type: ignore[no-untyped-def]
        if settlement.merchant_id == failing:
            raise ConnectionError("bank unavailable")
        return real_submit(self, settlement, **attempt)

    monkeypatch.setattr(paylink.settlement.payouts.SandboxPayout, "submit", refuse_first)
    day = _next_business_day()
    batch = [_message(failing, day, 1), _message(other, day, 2)]
    # When the worker receives both messages in one batch
    answer = _work(sqs_event(batch, "arn:aws:sqs:us-east-1:1:q", "us-east-1"))
    # Then only the failing merchant's message is reported for retry; the other is paid
    assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    [paid] = [s for s in _all_settlements(store, two_merchants_paid) if s.merchant_id == other]
    assert paid.status.value == "paid"
    # And when its message comes back and the bank answers, it resumes and is paid out once
    monkeypatch.setattr(paylink.settlement.payouts.SandboxPayout, "submit", real_submit)
    assert _work(sqs_event(batch[:1], "arn:aws:sqs:us-east-1:1:q", "us-east-1")) == {"batchItemFailures": []}
    [settlement] = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    assert (settlement["status"], settlement["payment_count"]) == ("paid", 1)
    assert store.get_payout(settlement["id"])["amount"] == settlement["net"]


def _all_settlements(store, merchant_ids):  # type: ignore[no-untyped-def]
    return [s for mid in merchant_ids for s in store.settlements_of(mid, None)[0]]


def test_redelivering_a_message_creates_nothing_new(api, store, two_merchants_paid):
    # Given a message the worker has already settled
    day = _next_business_day()
    event = sqs_event([_message(two_merchants_paid[0], day)], "arn:aws:sqs:us-east-1:1:q", "us-east-1")
    _work(event)
    first = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]
    # When SQS delivers it again (at-least-once)
    answer = _work(event)
    # Then it succeeds, and the same single settlement stands, paid out once
    assert answer == {"batchItemFailures": []}
    assert api.get("/v1/settlements", key=TEST_API_KEY).json()["items"] == first
    assert store.get_payout(first[0]["id"])["amount"] == first[0]["net"]


@pytest.mark.parametrize(
    "body",
    ['{"date": "2026-11-24"}', '{"merchant_id": "mer_x", "date": "2026-13-40"}', "not json"],
)
def test_a_malformed_message_is_reported_as_failed(api, two_merchants_paid, body):
    # Given a batch with a message without a merchant, with a bad date, or not JSON at all
    bad = {"MessageId": "bad", "ReceiptHandle": "rh", "Body": body}
    batch = [bad, _message(two_merchants_paid[0], _next_business_day())]
    # When the worker receives it
    answer = _work(sqs_event(batch, "arn:aws:sqs:us-east-1:1:q", "us-east-1"))
    # Then only that message is reported failed (after five receives it rests in the dead-letter queue)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(api.get("/v1/settlements", key=TEST_API_KEY).json()["items"]) == 1


def test_fan_out_then_the_local_poller_settles_every_merchant(api, queues, sqs, store, two_merchants_paid):
    # Given the settle function has queued the day's merchants
    day = _next_business_day()
    _settle(day)
    # When the local runner's poller hands the queue to the worker, as Lambda's event source would
    [source] = [s for s in queue_sources(load_template()) if s.function_id == "SettleWorkerFunction"]
    poller = QueuePoller(sqs, source, queues["SettleQueue"], queues["SettleQueue.Arn"], _work)
    while poller.poll_once():
        pass
    # Then both merchants are settled and paid, and the queue is drained
    settlements = _all_settlements(store, two_merchants_paid)
    assert sorted(s.status.value for s in settlements) == ["paid", "paid"]
    assert {s.date for s in settlements} == {day}
    assert drain([poller], timeout=1)
    assert list(store.merchants_with_unsettled_money()) == []


def test_a_batch_whose_only_merchant_fails_is_an_item_failure_not_a_worker_error(
    api, store, two_merchants_paid, monkeypatch
):
    # Given the bank refuses the first merchant's payout
    import paylink.settlement.payouts

    failing = two_merchants_paid[0]

    def refuse(self, settlement, **attempt):  # type: ignore[no-untyped-def]
        raise ConnectionError("bank unavailable")

    monkeypatch.setattr(paylink.settlement.payouts.SandboxPayout, "submit", refuse)
    day = _next_business_day()
    # When the worker receives a batch holding only that merchant's message (every message fails)
    answer = _work(sqs_event([_message(failing, day, 1)], "arn:aws:sqs:us-east-1:1:q", "us-east-1"))
    # Then it reports the message for retry and returns, instead of raising (a Lambda error that
    # would trip SettleWorkerErrorsAlarm for one bad merchant)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}


def test_the_fan_out_checks_the_payout_provider_but_needs_none_of_its_credentials(
    queues, sqs, two_merchants_paid, monkeypatch
):
    # Given a production stack paying out through Jibit, whose credentials only the worker gets
    from paylink.core.settings import get_settings

    monkeypatch.setenv("PAYLINK_PAYOUT_PROVIDER", "jibit")
    monkeypatch.setenv("PAYLINK_STAGE", "prod")
    for name in ("PAYLINK_PAYOUT_API_KEY_PARAM", "PAYLINK_PAYOUT_SECRET_KEY_PARAM", "PAYLINK_PAYOUT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    # When the settle function runs with its queue
    answer = _settle(_next_business_day())
    # Then it queued one message per merchant
    assert answer["queued"] == 2
