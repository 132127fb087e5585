"""CSV export jobs: one ExportQueue message per job, written to the export bucket in parts.

A job that fails is reported alone in `batchItemFailures` and comes back after the queue's
visibility timeout (it aborts what its last attempt left and writes the same object again); after
its last try it is marked failed and its message goes to the dead-letter queue.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import begin_record, logged, traced
from paylink.exports.worker import run_queued

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _export_record(record: SQSRecord) -> None:
    begin_record(record.message_id)
    # SQS counts the deliveries: the last one marks a failing job failed before it is dead-lettered.
    run_queued(record.body, int(record.attributes.get("ApproximateReceiveCount") or 1))


@logged()
@traced
def worker_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=_export_record, processor=processor, context=context
    )
