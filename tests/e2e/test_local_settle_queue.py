"""End to end: the local runner's settle fan-out goes through its emulated SQS queue."""

from __future__ import annotations

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e


def test_settle_invocation_queues_and_answers_once_the_queue_is_drained(runner: Runner):
    # Given the local runner, whose settle function has the template's queue
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    with httpx.Client(timeout=60) as http:
        # When the next business day is settled by hand
        answer = http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day})
        # Then the function queued per-merchant messages, and the runner answered once they were done
        assert answer.status_code == 200, answer.text
        assert answer.json()["business_day"] is True
        assert isinstance(answer.json()["queued"], int)
        assert answer.headers["X-Paylink-Queues-Drained"] == "true"
        # And a drain now finds nothing left
        assert http.post(f"{runner.url}/_local/drain").json() == {"drained": True}
