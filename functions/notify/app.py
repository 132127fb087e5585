"""Merchant notifications: one queued event per SQS record, delivered as a signed webhook.

A refused delivery hides its message until the next try of the schedule (paylink.notify.webhooks) and is
reported alone in `batchItemFailures`; after the last try it goes to the dead-letter queue.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import begin_record, logged, traced
from paylink.core.settings import get_settings
from paylink.notify.notifications import deliver
from paylink.notify.queues import notify_dead_letter_queue, notify_queue
from paylink.store import get_store

# A batch whose every message is retried is an answer, not an error: each keeps its own schedule.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _deliver_record(record: SQSRecord) -> None:
    begin_record(record.message_id)
    queue = notify_queue()
    if queue is None:
        raise RuntimeError("NOTIFY_QUEUE_URL is not set")
    deliver(
        get_store(),
        record.body,
        receipt_handle=record.receipt_handle,
        queue=queue,
        dead_letters=notify_dead_letter_queue(),
        retry_scale=get_settings().webhook_retry_scale,
    )


@logged()
@traced
def worker_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=_deliver_record, processor=processor, context=context
    )
