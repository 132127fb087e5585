"""What the settle function runs, with this process's store, settings and payout provider.

A day is queued one message per merchant when SETTLE_QUEUE_URL is set, else settled here at once;
a queued message settles its one merchant.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from paylink.core.settings import get_settings
from paylink.notify.queues import settle_queue
from paylink.settlement.daily import settle_day
from paylink.settlement.fanout import queue_day, settle_from_message
from paylink.settlement.payouts import check_payout_provider, payout_provider
from paylink.store import get_store


def run_day(day: date) -> dict[str, Any]:
    """Queue or settle `day`; the report as plain values (what the handler answers)."""
    settings = get_settings()
    store = get_store()
    # Refused before anything is queued: a stack with no real payout provider settles nothing.
    check_payout_provider(settings.payout_provider, stage=settings.stage)
    queue = settle_queue()
    if queue is not None:
        return asdict(queue_day(store, day, queue, country=settings.country))
    report = settle_day(
        store,
        day,
        tz=settings.timezone,
        country=settings.country,
        payout=payout_provider(settings.payout_provider, store, stage=settings.stage),
    )
    return asdict(report)


def settle_queued(body: str) -> None:
    """Settle the merchant of one settle-queue message (raises when it is to be retried)."""
    settings = get_settings()
    store = get_store()
    settle_from_message(
        store,
        body,
        payout_provider(settings.payout_provider, store, stage=settings.stage),
        tz=settings.timezone,
        country=settings.country,
    )
