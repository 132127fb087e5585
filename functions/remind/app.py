"""Daily invoice reminders (10:00 Asia/Tehran): before and after each invoice's due date."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import logged, traced
from paylink.merchants.invoices import remind_now


@logged()
@traced
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    return remind_now(event)
