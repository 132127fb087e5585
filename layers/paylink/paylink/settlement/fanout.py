"""Settlement at scale: the daily run queues one message per merchant; a worker settles each one.

The messages carry only `{"merchant_id", "date"}`. Settling a merchant's day is idempotent (a
deterministic settlement key and conditional writes), so a duplicate delivery or a retry after a
crash finishes what was started and creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from paylink.core.models import Settlement, iso
from paylink.core.observability import logger
from paylink.settlement.business_calendar import is_business_day, start_of_day_utc
from paylink.settlement.daily import settle_merchant
from paylink.settlement.payouts import PayoutProvider
from paylink.store import Store


class SettleQueue(Protocol):
    def send(self, body: dict[str, Any]) -> None:
        """Queue one message; raises if the queue did not take it."""
        ...


class SettleMessage(BaseModel):
    """One merchant's settlement of one business day."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    merchant_id: str = Field(min_length=1, max_length=64)
    date: date


@dataclass
class QueuedReport:
    date: str
    business_day: bool
    queued: int = 0


def fan_out(store: Store, day: date, queue: SettleQueue, *, country: str) -> int:
    """Queue one settle message per merchant with unsettled money; none on a rest day or holiday."""
    if not is_business_day(day, country):
        logger.info("not a business day; nothing queued", extra={"date": day.isoformat()})
        return 0
    queued = 0
    for merchant_id in store.merchants_with_unsettled_money():
        queue.send(SettleMessage(merchant_id=merchant_id, date=day).model_dump(mode="json"))
        queued += 1
    logger.info("settle messages queued", extra={"date": day.isoformat(), "queued": queued})
    return queued


def queue_day(store: Store, day: date, queue: SettleQueue, *, country: str) -> QueuedReport:
    """The settle function's answer when a queue is configured: what it queued for `day`."""
    report = QueuedReport(date=day.isoformat(), business_day=is_business_day(day, country))
    if report.business_day:
        report.queued = fan_out(store, day, queue, country=country)
    return report


def settle_from_message(
    store: Store, body: dict[str, Any] | str, payout: PayoutProvider, *, tz: str, country: str
) -> Settlement | None:
    """Settle the merchant and day a message names; raises ValueError on a malformed body."""
    message = (
        SettleMessage.model_validate_json(body)
        if isinstance(body, str)
        else SettleMessage.model_validate(body)
    )
    logger.append_keys(merchant_id=message.merchant_id, settle_date=message.date.isoformat())
    if not is_business_day(message.date, country):
        # Only a hand-made message can name a rest day; its money waits for the next business day.
        logger.warning("settle message for a non-business day ignored")
        return None
    # The same cutoff settle_day uses: everything paid before `day` 00:00 in the market's zone.
    cutoff = iso(start_of_day_utc(message.date, tz))
    return settle_merchant(store, message.merchant_id, message.date, cutoff, payout)
