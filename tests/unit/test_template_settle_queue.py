"""template.yaml: the settle fan-out's queue, dead-letter queue, worker and alarm."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import functions, load_template, sqs_queues


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_a_message_is_not_redelivered_while_the_worker_may_still_run(template):
    # Given the settle queue and its worker
    queue = sqs_queues(template)["SettleQueue"]
    worker = functions(template)["SettleWorkerFunction"]
    # Then the queue hides a received message for longer than the worker can run
    assert queue["VisibilityTimeout"] > worker.timeout
    assert (worker.module, worker.handler) == ("functions.settle.app", "worker_handler")


def test_failed_messages_rest_in_an_encrypted_dead_letter_queue_for_fourteen_days(template):
    # Given the template's queues
    queues = sqs_queues(template)
    # Then five failed receives move a message to the dead-letter queue, which keeps it 14 days
    assert queues["SettleQueue"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["SettleDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queues["SettleDeadLetterQueue"]["MessageRetentionPeriod"] == 14 * 86_400
    assert all(q["SqsManagedSseEnabled"] is True for q in queues.values())
    # And dead-letter targets are created before the queues that point at them
    order = list(queues)
    for name, props in queues.items():
        if props.get("RedrivePolicy"):
            target = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert order.index(target) < order.index(name)
    assert order.index("SettleDeadLetterQueue") < order.index("SettleQueue")


def test_an_alarm_fires_on_the_first_message_in_the_dead_letter_queue(template):
    # Given the template's alarm on the settle dead-letter queue
    alarm = template["Resources"]["SettleDeadLetterAlarm"]["Properties"]
    # Then any visible message there breaches it
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["SettleDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_settle_function_sends_to_the_queue_it_is_told_about(template):
    # Given the settle function
    settle = functions(template)["SettleFunction"]
    # Then its queue URL is the settle queue's
    assert settle.environment["SETTLE_QUEUE_URL"] == {"Ref": "SettleQueue"}
