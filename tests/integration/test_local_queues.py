"""The local runner's SQS event source emulation (local/queues.py) against moto's SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.queues import QueuePoller, drain
from local.template import QueueSource, create_queues, load_template, queue_sources


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    """The template's queues, a failed message visible again at once."""
    return create_queues(sqs, load_template(), prefix="test", visibility_timeout=0)


@pytest.fixture
def source() -> QueueSource:
    [found] = [s for s in queue_sources(load_template()) if s.function_id == "SettleWorkerFunction"]
    return found


def _poller(sqs: Any, queues: dict[str, str], source: QueueSource, invoke: Any) -> QueuePoller:
    return QueuePoller(sqs, source, queues["SettleQueue"], queues["SettleQueue.Arn"], invoke)


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _report_all_failed(event: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def test_the_worker_consumes_the_settle_queue_in_batches_reporting_failures(source):
    # Given the template's SQS event sources
    # Then the settle worker takes batches of 10 from SettleQueue and reports failed items alone
    assert (source.queue_id, source.batch_size, source.report_batch_item_failures) == (
        "SettleQueue",
        10,
        True,
    )


def test_settle_queue_redrives_to_its_dead_letter_queue_after_five_receives(sqs, queues):
    # Given the queues made from the template
    attributes = sqs.get_queue_attributes(QueueUrl=queues["SettleQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    # Then the settle queue sends a message to the dead-letter queue after five receives
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": queues["SettleDeadLetterQueue.Arn"],
        "maxReceiveCount": 5,
    }


def test_the_poller_invokes_the_function_with_an_sqs_event(sqs, queues, source):
    # Given a queued message
    sqs.send_message(QueueUrl=queues["SettleQueue"], MessageBody='{"merchant_id": "mer_a"}')
    events: list[dict[str, Any]] = []

    def record(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"batchItemFailures": []}

    poller = _poller(sqs, queues, source, record)
    # When the poller polls
    assert poller.poll_once() == 1
    # Then the function got the event Lambda would send, and the message was deleted
    [got] = events[0]["Records"]
    assert got["body"] == '{"merchant_id": "mer_a"}'
    assert (got["eventSource"], got["eventSourceARN"]) == ("aws:sqs", queues["SettleQueue.Arn"])
    assert got["attributes"]["ApproximateReceiveCount"] == "1"
    assert got["messageId"]
    assert got["receiptHandle"]
    assert drain([poller], timeout=1)


def test_only_the_reported_failure_comes_back(sqs, queues, source):
    # Given two queued messages, the function failing the first only
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=queues["SettleQueue"], MessageBody=body)
    seen: list[str] = []

    def fail_first(event: dict[str, Any]) -> dict[str, Any]:
        seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] == "first"]}  # fmt: skip

    poller = _poller(sqs, queues, source, fail_first)
    # When it polls twice
    poller.poll_once()
    poller.poll_once()
    # Then the second message was handled once and deleted; the first came back
    assert seen.count("second") == 1
    assert seen.count("first") == 2


def test_a_function_that_raises_fails_the_whole_batch(sqs, queues, source):
    # Given a queued message and a function that raises
    sqs.send_message(QueueUrl=queues["SettleQueue"], MessageBody="x")

    def crash(event: dict[str, Any]) -> None:
        raise RuntimeError("crash")

    poller = _poller(sqs, queues, source, crash)
    # When it polls
    poller.poll_once()
    # Then the message is not deleted: it is back in the queue
    assert _count(sqs, queues["SettleQueue"]) == 1


def test_a_message_failing_five_times_goes_to_the_dead_letter_queue(sqs, queues, source):
    # Given a message that its function fails every time
    sqs.send_message(QueueUrl=queues["SettleQueue"], MessageBody='{"merchant_id": "mer_a"}')
    poller = _poller(sqs, queues, source, _report_all_failed)
    # When the poller has received it five times and polls again
    received = [poller.poll_once() for _ in range(6)]
    # Then the function saw it five times, and it now rests in the dead-letter queue
    assert received == [1, 1, 1, 1, 1, 0]
    assert _count(sqs, queues["SettleDeadLetterQueue"]) == 1
    assert drain([poller], timeout=1)
