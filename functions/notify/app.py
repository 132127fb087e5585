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
from paylink.notify.jobs import deliver_queued

# A batch whose every message is retried is an answer, not an error: each keeps its own schedule.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _deliver_record(record: SQSRecord) -> None:
    begin_record(record.message_id)
    deliver_queued(record.body, receipt_handle=record.receipt_handle)


@logged()
@traced
def worker_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=_deliver_record, processor=processor, context=context
    )
