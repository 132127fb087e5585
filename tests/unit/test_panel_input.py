"""What a merchant types in the panel: toman amounts and Jalali birth dates, in either digits."""

from __future__ import annotations

from datetime import date

import pytest

from paylink.panel.render import parse_toman
from paylink.panel.signup import parse_birth_date


@pytest.mark.parametrize(
    ("typed", "rials"),
    [
        ("120000", 1_200_000),
        ("120,000", 1_200_000),
        ("۱۲۰٬۰۰۰", 1_200_000),
        ("١٢٠٠٠٠", 1_200_000),
        (" 5 ", 50),
    ],
)
def test_toman_in_persian_or_latin_digits_become_rials(typed, rials):
    assert parse_toman(typed) == rials


@pytest.mark.parametrize("typed", ["", "0", "12.5", "-5", "abc", "1e6", "9" * 13])
def test_anything_but_a_whole_positive_toman_amount_is_refused(typed):
    assert parse_toman(typed) is None


@pytest.mark.parametrize(
    ("typed", "day"),
    [("1370/01/31", date(1991, 4, 20)), ("۱۳۷۰/۰۱/۳۱", date(1991, 4, 20)), ("1370-1-31", date(1991, 4, 20))],
)
def test_a_jalali_birth_date_is_read_as_its_gregorian_day(typed, day):
    assert parse_birth_date(typed) == day


@pytest.mark.parametrize("typed", ["1370/13/01", "1370/12/31x", "1991/04/20", "1500/01/01", "", "31/01/1370"])
def test_a_date_that_is_not_a_past_jalali_day_is_refused(typed):
    assert parse_birth_date(typed) is None
