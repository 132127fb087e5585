"""SQS: the only module that sends to a queue. The client is made on first use, then reused."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from paylink.core.settings import get_settings


@cache
def sqs_client() -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=get_settings().sqs_endpoint_url)


class SqsQueue:
    """One standard SQS queue; a body is sent as compact JSON with sorted keys."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.url = url
        self._client = client

    def send(self, body: dict[str, Any]) -> None:
        client = self._client or sqs_client()
        client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, sort_keys=True, separators=(",", ":"))
        )


def settle_queue() -> SqsQueue | None:
    """The queue of per-merchant settle messages, or None when settlement runs in one function."""
    url = get_settings().settle_queue_url
    return SqsQueue(url) if url else None


class RawQueue(SqsQueue):
    """A queue whose message body is sent exactly as given (a webhook's signed bytes)."""

    def send_text(self, body: str, attributes: dict[str, str] | None = None) -> None:
        client = self._client or sqs_client()
        client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in (attributes or {}).items()
            },
        )

    def hide_for(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after `seconds` (its next try)."""
        client = self._client or sqs_client()
        client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
        )


def notify_queue() -> RawQueue | None:
    """The queue of merchant notifications, or None when notifications are off."""
    url = get_settings().notify_queue_url
    return RawQueue(url) if url else None


def notify_dead_letter_queue() -> RawQueue | None:
    url = get_settings().notify_dead_letter_queue_url
    return RawQueue(url) if url else None
