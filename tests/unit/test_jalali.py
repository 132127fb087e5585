"""The pages' own Gregorian -> Jalali conversion (paylink.core.formatting.jalali) agrees with jdatetime."""

from __future__ import annotations

from datetime import date, timedelta

import jdatetime
import pytest

from paylink.core.formatting import format_date, jalali


def test_every_day_of_two_centuries_converts_as_jdatetime_does():
    # Given every day from 1900-01-01 to 2100-12-31 (leap years of both calendars, every Nowruz)
    day, last, wrong = date(1900, 1, 1), date(2100, 12, 31), []
    while day <= last:
        # When both convert it
        expected = jdatetime.date.fromgregorian(date=day)
        if jalali(day) != (expected.year, expected.month, expected.day):
            wrong.append(day)
        day += timedelta(days=1)
    # Then they agree on every one
    assert wrong == []


@pytest.mark.parametrize(
    ("gregorian", "expected"),
    [
        (date(2026, 3, 21), (1405, 1, 1)),  # Nowruz 1405
        (date(2026, 3, 20), (1404, 12, 29)),
        (date(2025, 3, 20), (1403, 12, 30)),  # 1403 is a leap year: Esfand has 30 days
        (date(2026, 11, 23), (1405, 9, 2)),
    ],
)
def test_known_days_convert_to_their_jalali_dates(gregorian: date, expected: tuple[int, int, int]):
    assert jalali(gregorian) == expected


def test_a_persian_page_shows_the_jalali_date_in_persian_digits():
    assert format_date(date(2026, 11, 23), "fa") == "۱۴۰۵/۰۹/۰۲"
