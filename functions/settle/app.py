"""Daily settlement: `{"date": "YYYY-MM-DD"}` by hand, or the schedule's own time (Asia/Tehran).

`lambda_handler` queues one message per merchant when SETTLE_QUEUE_URL is set (else it settles
every merchant itself); `worker_handler` settles the merchants of one SQS batch, reporting each
failed message alone so only that merchant is retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import begin_record, logged, traced
from paylink.core.settings import get_settings
from paylink.settlement.daily import business_day_of
from paylink.settlement.jobs import run_day, settle_queued

# One merchant failing is that merchant's retry, not the worker's error: a batch whose every message
# failed (a batch of one, often) is reported item by item, as the notify worker does, so
# SettleWorkerErrorsAlarm stays for crashes and timeouts.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logged()
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    try:
        day = business_day_of(event or {}, settings.timezone)
    except ValueError:
        return {
            "error": {
                "code": "validation_error",
                "message": "date must be YYYY-MM-DD",
                "fields": {"date": "expected YYYY-MM-DD"},
            }
        }
    return run_day(day)


def _settle_record(record: SQSRecord) -> None:
    begin_record(record.message_id)
    settle_queued(record.body)


@logged()
@traced
def worker_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=_settle_record, processor=processor, context=context
    )
