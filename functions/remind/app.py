"""Daily invoice reminders (10:00 Asia/Tehran): before and after each invoice's due date."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.invoices import remind_now
from paylink.observability import logged, traced


@logged()
@traced
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    return remind_now(event)
