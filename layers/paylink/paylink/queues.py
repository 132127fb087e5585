"""SQS: the only module that sends to a queue. The client is made on first use, then reused."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from paylink.settings import get_settings


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
