"""Daily archive: settled payments past the refund window move from the table to S3.

`{"date": "YYYY-MM-DD"}` by hand, or the schedule's own day; see paylink.payments.archive.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.models import utcnow
from paylink.core.observability import logged, traced
from paylink.payments import archive


@logged()
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    given = (event or {}).get("date")
    try:
        today = date.fromisoformat(given) if isinstance(given, str) else utcnow().date()
    except ValueError:
        return {"error": {"code": "validation_error", "message": "date must be YYYY-MM-DD"}}
    return archive.run_here(today)
