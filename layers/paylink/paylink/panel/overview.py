"""The panel home's figures: sales per day (today and the last 30 days), money waiting for
settlement and the day it is paid, the latest payments. Reads through the same store queries the
merchant API uses; amounts stay in rials until a page shows them in toman."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from paylink.core.models import Merchant, Payment, PaymentStatus, iso, utcnow
from paylink.core.settings import get_settings
from paylink.settlement.business_calendar import start_of_day_utc
from paylink.settlement.daily import expected_settlement_date
from paylink.store import get_store

DAYS = 30
SCAN_LIMIT = 5000  # payments read for the chart at most (a small shop makes far fewer in a month)
SOLD = {PaymentStatus.PAID, PaymentStatus.SETTLED}


@dataclass(frozen=True)
class Overview:
    today: int  # rials sold today (market time zone)
    today_count: int
    month: int  # rials sold over the last DAYS days, today included
    days: list[tuple[date, int]]  # oldest first, one entry per day
    waiting: int  # rials paid and not yet settled (net of nothing: the fee is taken at settlement)
    waiting_count: int
    next_settlement: str | None  # ISO date of the business day the oldest waiting payment is paid
    latest: list[Payment]
    # When more payments were made in the 30 days than home reads (SCAN_LIMIT, abandoned checkouts
    # included: anyone may start one), the local day of the oldest one read; None when all were.
    counted_from: date | None = None


def _local_day(moment: str, tz: str) -> date:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(ZoneInfo(tz)).date()


def overview(merchant: Merchant, now: datetime | None = None) -> Overview:
    settings = get_settings()
    tz = settings.timezone
    now = now or utcnow()
    today = _local_day(iso(now), tz)
    first = today - timedelta(days=DAYS - 1)
    store = get_store()
    sold: Counter[date] = Counter()
    counts: Counter[date] = Counter()
    latest: list[Payment] = []
    cursor: str | None = None
    seen = 0
    counted_from: date | None = None
    while True:
        items, cursor = store.payments_of_merchant(
            merchant.id, cursor, page_size=min(500, SCAN_LIMIT - seen), since=iso(start_of_day_utc(first, tz))
        )
        for payment in items:
            if len(latest) < 5:
                latest.append(payment)
            if payment.status in SOLD and payment.paid_at:
                day = _local_day(payment.paid_at, tz)
                sold[day] += payment.amount
                counts[day] += 1
        seen += len(items)
        if cursor and seen >= SCAN_LIMIT:
            counted_from = _local_day(items[-1].created_at, tz) if items else today
        if not cursor or seen >= SCAN_LIMIT:
            break
    if not latest:
        latest, _ = store.payments_of_merchant(merchant.id, None, page_size=5)
    waiting = [p for p in store.unsettled_payments(merchant.id) if p.status is PaymentStatus.PAID]
    next_day = None
    if waiting and waiting[0].paid_at:
        next_day = expected_settlement_date(waiting[0].paid_at, tz=tz, country=settings.country)
    days = [(first + timedelta(days=i), sold[first + timedelta(days=i)]) for i in range(DAYS)]
    return Overview(
        today=sold[today],
        today_count=counts[today],
        month=sum(sold.values()),
        days=days,
        waiting=sum(p.amount for p in waiting),
        waiting_count=len(waiting),
        next_settlement=next_day,
        latest=latest[:5],
        counted_from=counted_from,
    )


def chart(days: list[tuple[date, int]], width: int = 320, height: int = 120) -> list[dict[str, float]]:
    """Bars of an inline SVG chart: x, y, w, h per day, scaled to the biggest day."""
    top = max((amount for _, amount in days), default=0) or 1
    step = width / max(len(days), 1)
    bars = []
    for i, (_, amount) in enumerate(days):
        h = round(amount / top * (height - 4), 1) if amount else 0.0
        bars.append({"x": round(i * step + 1, 1), "y": round(height - h, 1), "w": round(step - 2, 1), "h": h})
    return bars
