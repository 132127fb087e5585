"""paylink.settlement.daily.business_day_of: which day a settle event asks for."""

from __future__ import annotations

from datetime import date

import pytest

from paylink.settlement.daily import business_day_of

TEHRAN = "Asia/Tehran"


def test_manual_event_settles_the_given_date():
    # Given an operator's event naming a day
    # When the day is read
    # Then it is that day, whatever the time zone
    assert business_day_of({"date": "2026-11-22"}, TEHRAN) == date(2026, 11, 22)


def test_manual_date_wins_over_the_schedule_time():
    # Given both a date and a scheduled time
    event = {"date": "2026-11-22", "scheduled_time": "2026-11-23T05:30:00Z"}
    # Then the explicit date is used
    assert business_day_of(event, TEHRAN) == date(2026, 11, 22)


def test_scheduler_time_is_read_in_tehran():
    # Given the scheduler's 09:00 Tehran firing (05:30 UTC)
    # When the day is read
    # Then it is that Tehran day
    assert business_day_of({"scheduled_time": "2026-11-23T05:30:00Z"}, TEHRAN) == date(2026, 11, 23)


def test_eventbridge_time_after_tehran_midnight_is_the_next_day():
    # Given an EventBridge event at 21:00 UTC, i.e. 00:30 next day in Tehran (UTC+3:30)
    # When the day is read
    # Then it is the Tehran date, not the UTC date
    assert business_day_of({"time": "2026-11-22T21:00:00Z"}, TEHRAN) == date(2026, 11, 23)


def test_eventbridge_time_before_tehran_midnight_is_the_same_day():
    # Given 20:00 UTC, i.e. 23:30 in Tehran
    # Then the day is still the UTC date
    assert business_day_of({"time": "2026-11-22T20:00:00Z"}, TEHRAN) == date(2026, 11, 22)


def test_time_with_an_explicit_offset_is_honoured():
    # Given a scheduled time with a +03:30 offset at 00:10 local
    # Then the Tehran day is that local day
    assert business_day_of({"scheduled_time": "2026-11-23T00:10:00+03:30"}, TEHRAN) == date(2026, 11, 23)


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday", "2026/11/22"])
def test_invalid_date_raises_value_error(bad):
    # Given a manual event with an impossible or malformed date
    # When the day is read
    # Then it raises ValueError
    with pytest.raises(ValueError, match=r"isoformat|out of range"):
        business_day_of({"date": bad}, TEHRAN)


def test_invalid_scheduled_time_raises_value_error():
    # Given a scheduler placeholder that was never substituted
    # When the day is read
    # Then it raises ValueError rather than settling some other day
    with pytest.raises(ValueError, match="isoformat"):
        business_day_of({"scheduled_time": "<aws.scheduler.scheduled-time>"}, TEHRAN)
