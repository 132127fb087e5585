"""The scheduled and queue-fed functions run within their roles (local/iam.py holds each function's
AWS calls to what template.yaml grants it, as AWS would): one paid payment is reconciled,
probed, settled through the settle queue, archived and reminded about, each step by its own
function as deployed, and each step does its work (a refused call would leave it undone)."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from local.queues import QueuePoller
from local.run import Invoker
from local.template import create_queues, functions, load_template, queue_sources
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target, reset_caches

BUCKET = "roles-archive"


@pytest.fixture
def deployed(aws, monkeypatch):  # type: ignore[no-untyped-def]
    """The template's queues and the archive bucket in moto, the functions pointed at them."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    refs = create_queues(sqs, load_template(), prefix="roles", visibility_timeout=0)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("SETTLE_QUEUE_URL", refs["SettleQueue"])
    monkeypatch.setenv("NOTIFY_QUEUE_URL", refs["NotifyQueue"])
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    reset_caches()
    yield sqs, refs
    reset_caches()


def _poller(sqs, refs, function_id: str) -> QueuePoller:  # type: ignore[no-untyped-def]
    template = load_template()
    source = next(s for s in queue_sources(template) if s.function_id == function_id)
    invoker = Invoker(functions(template)[function_id])
    return QueuePoller(sqs, source, refs[source.queue_id], refs[f"{source.queue_id}.Arn"], invoker.invoke)


def test_each_scheduled_step_of_a_payment_runs_within_its_functions_role(
    api, store, merchant, gateways, deployed, monkeypatch
):
    from paylink.core.models import utcnow
    from paylink.payments import archive
    from paylink.payments.archive import ARCHIVE_AFTER
    from paylink.settlement.business_calendar import local_date, next_business_day

    sqs, refs = deployed
    fns = functions(load_template())
    # Given a paid payment (through the checkout and callback functions) and an event the notify
    # queue refused
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 500_000}, key=TEST_API_KEY).json()["code"]
    started = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    assert api.get(local_target(act_at_gateway(started.location))).status == 303
    store.keep_unsent_event("evt_roles", '{"id":"evt_roles"}', {"event_id": "evt_roles"}, 1_800_000_000)
    now = utcnow()
    # When the reconciler and the probe run
    reconciled = Invoker(fns["ReconcileFunction"]).invoke({"scheduled_time": now.isoformat()})
    probed = Invoker(fns["ProbeFunction"]).invoke({"scheduled_time": now.isoformat()})
    # Then the reconciler queued the kept event again and the probe judged the gateways
    assert reconciled["events_resent"] == 1
    assert set(probed["gateways"]) >= {"sandbox-a"}
    # When the next business day is settled: the fan-out queues the merchant, the worker settles it
    day = next_business_day(local_date(now, "Asia/Tehran"), "IR")
    assert Invoker(fns["SettleFunction"]).invoke({"date": day.isoformat()})["queued"] == 1
    assert _poller(sqs, refs, "SettleWorkerFunction").poll_once() == 1
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] == "settled"
    # And the archive runs once its day is due (past the refund window), and the reminders run
    due = day + ARCHIVE_AFTER + timedelta(days=1)
    monkeypatch.setattr(archive, "utcnow", lambda: now + ARCHIVE_AFTER + timedelta(days=2))
    archived = Invoker(fns["ArchiveFunction"]).invoke({"date": due.isoformat()})
    reminded = Invoker(fns["RemindFunction"]).invoke({"scheduled_time": now.isoformat()})
    # Then the payment left the table for the archive, still readable through the API
    assert (archived["settlements"], archived["payments"]) == (1, 1)
    assert store.get_payment(payment["id"]) is None
    assert api.get(f"/v1/payments/{payment['id']}", key=TEST_API_KEY).json()["status"] == "settled"
    assert "error" not in reminded


@pytest.mark.parametrize(
    "function_id",
    [
        "CreateLinkFunction",  # the payer's card on the refund page (refunds.payer.submit_card)
        "PanelFunction",  # a refund read on the payment page asks its payout (service.resolve_on_read)
        "ReconcileFunction",  # the refunds' work list (refunds.progress): a new attempt after a failed one
        "SettleWorkerFunction",  # a settlement's own payout
    ],
)
def test_each_function_that_pays_out_by_bank_batch_may_write_its_line(store, merchant, function_id):
    from local.iam import acting_as
    from paylink.core.models import Settlement, SettlementStatus, iso, utcnow
    from paylink.settlement.bank_batch import BankBatchPayout

    # Given a payout order (a refund's transfer is one: refunds.payer._pseudo_settlement) with
    # PAYLINK_PAYOUT_PROVIDER=bank_batch, whose line is written with a ConditionCheck (no file issued)
    order = Settlement(
        id="rfd_roles", merchant_id=merchant.id, date="2026-03-01", status=SettlementStatus.PENDING,
        net=300_000, gross=300_000, iban="IR062960000000100324200001", payout_attempts=1,
        created_at=iso(utcnow()),
    )  # fmt: skip
    # When the function submits it: Then its role lets the line in
    with acting_as(function_id):
        receipt = BankBatchPayout(store).submit(order, attempt=1, day="2026-03-01")
    assert store.batch_line("rfd_roles", 1)["reference"] == receipt.reference
