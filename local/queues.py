"""Lambda's SQS event source mapping, locally: poll a queue, invoke the function, delete what it did.

A poller receives up to BatchSize messages, invokes the mapped function with the SQS event Lambda
would send, and deletes every message except those the function reports in `batchItemFailures`
(all of them when the function raises). What is not deleted becomes visible again after the
queue's visibility timeout, and moto moves it to the dead-letter queue after `maxReceiveCount`
receives, as SQS does.

It short-polls (WaitTimeSeconds 0) and sleeps between empty polls: the local moto server applies
one request at a time (local/dynamodb.py), so a long poll would hold up every DynamoDB call.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from local.iam import acting_as
from local.template import QueueSource

PENDING_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends a function for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in (message.get("MessageAttributes") or {}).items()
                    if value.get("DataType")  # moto echoes system attribute names with empty values
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class QueuePoller:
    """One SQS event source of template.yaml: its queue, its function, its batch size."""

    def __init__(
        self,
        client: Any,
        source: QueueSource,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        *,
        region: str = "us-east-1",
        idle_seconds: float = 0.1,
    ) -> None:
        self.client = client
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.region = region
        self.idle_seconds = idle_seconds

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages it received."""
        # Lambda polls with the function's role: the event source needs its grants on the queue.
        with self._as_function():
            answer = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max(1, min(self.source.batch_size, 10)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = answer.get("Messages") or []
        if not messages:
            return 0
        try:
            with self._as_function():  # its calls held to its role (local/iam.py)
                result = self.invoke(sqs_event(messages, self.queue_arn, self.region))
        except Exception:
            # Lambda counts the whole batch as failed: every message comes back after the timeout.
            traceback.print_exc()
            return len(messages)
        failed = self._failed_ids(result, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            with self._as_function():
                self.client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
                )
        if failed:
            print(f"[queue] {self.source.function_id}: {len(failed)} message(s) will be retried", flush=True)
        return len(messages)

    def _as_function(self) -> contextlib.AbstractContextManager[None]:
        """Held to the function's role, knowing its queue (the event source names it by ARN)."""
        return acting_as(self.source.function_id, refs={self.source.queue_id: self.queue_url})

    def _failed_ids(self, result: Any, received: set[str]) -> set[str]:
        if not self.source.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failed = {str(item.get("itemIdentifier") or "") for item in result.get("batchItemFailures") or []}
        # Lambda treats an identifier it did not send (or an empty one) as the whole batch failing.
        return received if failed - received else failed

    def pending(self) -> int:
        """Messages waiting, in flight or delayed: zero once everything sent has been handled."""
        attributes = self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])
        return sum(int(attributes["Attributes"].get(name, 0)) for name in PENDING_COUNTS)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                received = self.poll_once()
            except Exception:
                traceback.print_exc()
                received = 0
            if not received:
                stop.wait(self.idle_seconds)


def drain(pollers: Sequence[QueuePoller], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Wait until every polled queue is empty with nothing in flight; False if `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while True:
        if all(poller.pending() == 0 for poller in pollers):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
