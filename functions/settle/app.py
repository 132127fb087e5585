"""Daily settlement: `{"date": "YYYY-MM-DD"}` by hand, or the schedule's own time (Asia/Tehran).

`lambda_handler` queues one message per merchant when SETTLE_QUEUE_URL is set (else it settles
every merchant itself); `worker_handler` settles the merchants of one SQS batch, reporting each
failed message alone so only that merchant is retried.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import begin_record, logged, traced
from paylink.core.settings import get_settings
from paylink.notify.queues import settle_queue
from paylink.settlement.daily import business_day_of, settle_day
from paylink.settlement.fanout import queue_day, settle_from_message
from paylink.settlement.payouts import payout_provider
from paylink.store import get_store

processor = BatchProcessor(event_type=EventType.SQS)


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
    store = get_store()
    queue = settle_queue()
    if queue is not None:
        return asdict(queue_day(store, day, queue, country=settings.country))
    report = settle_day(
        store,
        day,
        tz=settings.timezone,
        country=settings.country,
        payout=payout_provider(settings.payout_provider, store),
    )
    return asdict(report)


def _settle_record(record: SQSRecord) -> None:
    begin_record(record.message_id)
    settings = get_settings()
    store = get_store()
    settle_from_message(
        store,
        record.body,
        payout_provider(settings.payout_provider, store),
        tz=settings.timezone,
        country=settings.country,
    )


@logged()
@traced
def worker_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=_settle_record, processor=processor, context=context
    )
