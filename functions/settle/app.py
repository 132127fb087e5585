"""Daily settlement: `{"date": "YYYY-MM-DD"}` by hand, or the schedule's own time (Asia/Tehran)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.observability import logger
from paylink.payouts import payout_provider
from paylink.settings import get_settings
from paylink.settlement import business_day_of, settle_day
from paylink.store import get_store


@logger.inject_lambda_context(clear_state=True)
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
    report = settle_day(
        store,
        day,
        tz=settings.timezone,
        country=settings.country,
        payout=payout_provider(settings.payout_provider, store),
    )
    return asdict(report)
