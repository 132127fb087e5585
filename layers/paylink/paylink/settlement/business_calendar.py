"""Business calendar: which days settle, in the market's own time zone and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

# Weekly rest days per country (Monday=0 ... Sunday=6). Iran rests on Friday.
WEEKLY_REST_DAYS: dict[str, frozenset[int]] = {"IR": frozenset({4})}
DEFAULT_REST_DAYS = frozenset({5, 6})


@cache
def _official_holidays(country: str, year: int) -> frozenset[date]:
    import holidays  # imported lazily: only settlement needs it

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def is_business_day(day: date, country: str) -> bool:
    """False on the weekly rest day and on official holidays of `country`."""
    if day.weekday() in WEEKLY_REST_DAYS.get(country, DEFAULT_REST_DAYS):
        return False
    return day not in _official_holidays(country, day.year)


def next_business_day(day: date, country: str) -> date:
    """The first business day strictly after `day`."""
    candidate = day + timedelta(days=1)
    while not is_business_day(candidate, country):
        candidate += timedelta(days=1)
    return candidate


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of an aware `moment` in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).date()


def start_of_day_utc(day: date, tz: str) -> datetime:
    """Midnight at the start of `day` in `tz`, as an aware UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)).astimezone(UTC)
