"""paylink.settlement.business_calendar: Iranian rest days and holidays, Tehran midnight in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import holidays
import pytest

from paylink.settlement.business_calendar import (
    is_business_day,
    local_date,
    next_business_day,
    start_of_day_utc,
)

FRIDAY = date(2026, 11, 20)
SATURDAY = date(2026, 11, 21)
NOWRUZ = [date(2026, 3, 21), date(2026, 3, 22), date(2026, 3, 23), date(2026, 3, 24)]


def test_friday_is_not_a_business_day_in_iran():
    # Given an ordinary Friday (not an official holiday)
    assert FRIDAY.weekday() == 4
    assert FRIDAY not in holidays.country_holidays("IR", years=2026)
    # Then it does not settle
    assert not is_business_day(FRIDAY, "IR")


def test_ordinary_saturday_is_a_business_day_in_iran():
    # Given an ordinary Saturday (the first working day of the Iranian week)
    assert SATURDAY not in holidays.country_holidays("IR", years=2026)
    # Then it settles
    assert is_business_day(SATURDAY, "IR")


@pytest.mark.parametrize("day", NOWRUZ, ids=str)
def test_nowruz_is_not_a_business_day(day):
    # Given a Nowruz day, an official holiday (and not a Friday)
    assert day in holidays.country_holidays("IR", years=2026)
    assert day.weekday() != 4
    # Then it does not settle
    assert not is_business_day(day, "IR")


def test_next_business_day_skips_friday():
    # Given an ordinary Thursday before an ordinary Friday
    thursday = date(2026, 11, 19)
    # When the next business day is asked
    # Then it is Saturday
    assert next_business_day(thursday, "IR") == SATURDAY


def test_next_business_day_skips_friday_and_the_nowruz_holidays():
    # Given Thursday 2026-03-19, followed by a holiday Friday and four days of Nowruz
    # When the next business day is asked
    # Then it is Wednesday 2026-03-25
    assert next_business_day(date(2026, 3, 19), "IR") == date(2026, 3, 25)


def test_next_business_day_is_strictly_after():
    # Given a business day
    # When the next one is asked
    # Then it is the following day, not the same one
    assert next_business_day(SATURDAY, "IR") == date(2026, 11, 22)


def test_start_of_tehran_day_in_utc():
    # Given 2026-11-23 in Tehran (UTC+3:30, no daylight saving since 2022)
    # When its midnight is expressed in UTC
    moment = start_of_day_utc(date(2026, 11, 23), "Asia/Tehran")
    # Then it is 20:30 UTC the day before
    assert moment == datetime(2026, 11, 22, 20, 30, tzinfo=UTC)
    assert moment.utcoffset() == UTC.utcoffset(None)


def test_local_date_just_after_tehran_midnight_is_the_next_day():
    # Given 20:30 UTC, which is 00:00 in Tehran
    # Then the Tehran date is already the next day
    assert local_date(datetime(2026, 11, 22, 20, 30, tzinfo=UTC), "Asia/Tehran") == date(2026, 11, 23)


def test_local_date_just_before_tehran_midnight_is_the_same_day():
    # Given 20:29 UTC, which is 23:59 in Tehran
    # Then the Tehran date is still the same day
    assert local_date(datetime(2026, 11, 22, 20, 29, tzinfo=UTC), "Asia/Tehran") == date(2026, 11, 22)


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 11, 22)], ids=["saturday", "sunday"])
def test_germany_rests_on_saturday_and_sunday(day):
    # Given a weekend day in Germany
    # Then it is not a business day there
    assert not is_business_day(day, "DE")


def test_friday_is_a_business_day_in_germany():
    # Given an ordinary Friday
    # Then Germany works on it
    assert is_business_day(FRIDAY, "DE")


def test_german_official_holiday_is_not_a_business_day():
    # Given German Unity Day 2024 (a Thursday)
    day = date(2024, 10, 3)
    assert day.weekday() == 3
    # Then it is not a business day in Germany
    assert not is_business_day(day, "DE")
