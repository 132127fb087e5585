"""template.yaml: the merchant notification queue, its worker, dead-letter queue and alarm."""

from __future__ import annotations

import math
from typing import Any

import pytest

from local.template import functions, load_template, queue_sources, sqs_queues
from paylink.notify.webhooks import MAX_ATTEMPTS, MAX_HIDE, RETRY_DELAYS


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_notify_worker_reads_batches_of_ten_and_reports_each_failure_alone(template):
    # Given the template's SQS event sources
    source = next(s for s in queue_sources(template) if s.function_id == "NotifyWorkerFunction")
    worker = functions(template)["NotifyWorkerFunction"]
    # Then the worker takes ten messages a batch from NotifyQueue and reports failures per message
    assert (source.queue_id, source.batch_size, source.report_batch_item_failures) == (
        "NotifyQueue",
        10,
        True,
    )
    assert (worker.module, worker.handler) == ("functions.notify.app", "worker_handler")
    # and a received message stays hidden while the worker may still run
    assert sqs_queues(template)["NotifyQueue"]["VisibilityTimeout"] >= 6 * worker.timeout


def test_a_message_lives_through_three_days_of_retries_then_rests_two_weeks_dead_lettered(template):
    # Given the notify queues
    queues = sqs_queues(template)
    # Then a message outlives its whole retry schedule, and SQS's redrive only catches a message
    # that keeps crashing the worker (the worker itself dead-letters after its last try)
    assert queues["NotifyQueue"]["MessageRetentionPeriod"] > sum(RETRY_DELAYS) + 3600
    # every receive counts: the tries, and the hops of waits longer than one visibility timeout
    receives = MAX_ATTEMPTS + sum(math.ceil(delay / MAX_HIDE) - 1 for delay in RETRY_DELAYS)
    assert queues["NotifyQueue"]["RedrivePolicy"]["maxReceiveCount"] > receives
    assert queues["NotifyDeadLetterQueue"]["MessageRetentionPeriod"] == 14 * 86_400
    assert MAX_HIDE < 12 * 3600  # each hop stays under SQS's 12 h cap on a visibility timeout


def test_an_alarm_fires_on_the_first_dead_lettered_notification(template):
    alarm = template["Resources"]["NotifyDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["NotifyDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_only_the_functions_that_decide_payments_or_refunds_or_send_a_test_event_may_queue_notifications(
    template,
):
    # Given every function's policies
    senders = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for policy in resource["Properties"].get("Policies", [])
        if isinstance(policy, dict)
        and policy.get("SQSSendMessagePolicy", {}).get("QueueName")
        == {"Fn::GetAtt": ["NotifyQueue", "QueueName"]}
    }
    # Then the callback and the reconciler send, and the merchant API and the panel (a merchant's
    # `ping` test event: POST /v1/webhook/test, POST /dashboard/settings/webhook/test; refunds, whose
    # reverse and payer's transfer the merchant API decides), and the reminders (an installment
    # past its due date: installment.overdue), nothing else
    assert senders == {
        "CallbackFunction", "ReconcileFunction", "CreateLinkFunction", "PanelFunction", "RemindFunction"
    }  # fmt: skip
