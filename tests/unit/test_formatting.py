"""Display formatting: toman amounts, Persian digits, Jalali dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink.core.formatting import (
    format_date,
    format_datetime,
    format_number,
    format_toman,
    to_persian_digits,
)

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def test_to_persian_digits_replaces_every_ascii_digit_and_keeps_other_text():
    # Given text mixing ASCII digits, letters and punctuation
    text = "Order 0123456789, code A-42"
    # When converting to Persian digits
    result = to_persian_digits(text)
    # Then only the digits change
    assert result == "Order ۰۱۲۳۴۵۶۷۸۹, code A-۴۲"


@pytest.mark.parametrize(
    ("rials", "lang", "expected"),
    [
        (1_200_000, "fa", "۱۲۰٬۰۰۰ تومان"),
        (1_200_000, "en", "120,000 Toman"),
        (10, "en", "1 Toman"),
        (0, "fa", "۰ تومان"),
        (10_000_000, "en", "1,000,000 Toman"),
    ],
)
def test_format_toman_shows_whole_toman_with_separators(rials, lang, expected):
    # Given an amount in rials that is a whole number of toman
    # When formatting it for a page in lang
    # Then it is shown in toman with the language's separators, digits and unit
    assert format_toman(rials, lang) == expected


def test_format_toman_shows_rials_when_the_amount_is_not_whole_toman():
    # Given an amount whose last rial digit is not zero
    rials = 1_234_567
    # When formatting it
    # Then it is shown in rials with the rial unit, never as a fraction of a toman
    assert format_toman(rials, "en") == "1,234,567 Rial"
    assert format_toman(rials, "fa") == "۱٬۲۳۴٬۵۶۷ ریال"


def test_format_toman_uses_persian_separator_u066c_on_persian_pages():
    # Given a large amount
    # When formatted for Persian
    result = format_toman(123_456_780, "fa")
    # Then the Arabic thousands separator is used and no ASCII comma or digit remains
    assert "\u066c" in result
    assert not re.search(r"[0-9,]", result)


def test_format_toman_treats_any_language_other_than_en_as_persian():
    # Given an unknown language code
    # When formatting
    # Then the Persian form (the default page language) is used
    assert format_toman(50_000, "de") == format_toman(50_000, "fa")


@pytest.mark.parametrize("bad", [12.5, "100", True, None])
def test_format_toman_refuses_anything_but_an_integer(bad):
    # Given a value that is not an integer number of rials
    # When formatting it
    # Then a TypeError is raised instead of silently rounding
    with pytest.raises(TypeError):
        format_toman(bad, "en")


@given(st.integers(min_value=0, max_value=10**15))
def test_english_amount_parses_back_to_toman_or_rials(rials):
    # Given any non-negative integer amount of rials
    # When formatting it in English and removing separators and unit
    text = format_toman(rials, "en")
    number, unit = text.split(" ")
    parsed = int(number.replace(",", ""))
    # Then the number is rials // 10 in toman when divisible by 10, else the rials themselves
    if rials % 10 == 0:
        assert unit == "Toman"
        assert parsed == rials // 10
    else:
        assert unit == "Rial"
        assert parsed == rials


@given(st.integers(min_value=0, max_value=10**15))
def test_persian_amount_has_only_persian_digits_and_matches_english(rials):
    # Given any non-negative integer amount of rials
    # When formatting it in Persian
    fa_number, _ = format_toman(rials, "fa").split(" ")
    en_number, _ = format_toman(rials, "en").split(" ")
    # Then it is the English number with Persian digits and separator
    assert set(fa_number) <= set(PERSIAN_DIGITS + "\u066c")
    assert fa_number == to_persian_digits(en_number).replace(",", "\u066c")


def test_format_number_groups_thousands():
    # Given an integer
    # When formatting it as a plain number
    # Then thousands are grouped per language
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"


def test_format_datetime_converts_utc_iso_string_to_tehran_jalali_on_persian_pages():
    # Given a UTC ISO timestamp (11:00 UTC is 14:30 in Tehran)
    value = "2026-11-23T11:00:00Z"
    # When formatting it for a Persian page
    result = format_datetime(value, "fa")
    # Then it is the Jalali date and Tehran time in Persian digits
    assert result == "۱۴۰۵/۰۹/۰۲ ساعت ۱۴:۳۰"


def test_format_datetime_shows_gregorian_tehran_time_on_english_pages():
    # Given an aware datetime in UTC
    value = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    # When formatting it for an English page
    # Then it is the Gregorian date and the Tehran wall clock time
    assert format_datetime(value, "en") == "2026-11-23 14:30"


def test_format_datetime_takes_naive_values_as_utc_and_honours_other_offsets():
    # Given the same instant as a naive UTC value and as a +01:00 value
    naive = datetime(2026, 11, 23, 11, 0)
    offset = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    # When formatting both
    # Then they show the same Tehran time
    assert format_datetime(naive, "en") == format_datetime(offset, "en") == "2026-11-23 14:30"


def test_format_datetime_accepts_another_timezone():
    # Given a UTC timestamp
    # When formatting it in UTC instead of Tehran
    # Then the UTC wall clock is shown
    assert format_datetime("2026-11-23T11:00:00+00:00", "en", tz="UTC") == "2026-11-23 11:00"


def test_format_datetime_crosses_the_date_line_into_the_next_tehran_day():
    # Given 21:00 UTC on the last day of the Jalali year 1404 (Nowruz starts 2026-03-21 in Tehran)
    value = "2026-03-20T21:00:00Z"
    # When formatting it in both languages
    # Then the Tehran day (already the new year) is shown
    assert format_datetime(value, "en") == "2026-03-21 00:30"
    assert format_datetime(value, "fa") == "۱۴۰۵/۰۱/۰۱ ساعت ۰۰:۳۰"


def test_format_date_is_jalali_on_persian_pages_and_iso_on_english_pages():
    # Given a Gregorian date
    value = date(2026, 11, 23)
    # When formatting it
    # Then Persian pages see the Jalali date, English pages the ISO date
    assert format_date(value, "fa") == "۱۴۰۵/۰۹/۰۲"
    assert format_date(value, "en") == "2026-11-23"
    assert format_date("2026-11-23", "fa") == "۱۴۰۵/۰۹/۰۲"


def test_format_date_of_a_timestamp_uses_the_tehran_day():
    # Given a UTC timestamp late in the evening (already the next day in Tehran)
    # When formatting it as a date
    # Then the Tehran calendar day is shown
    assert format_date("2026-11-22T21:00:00Z", "en") == "2026-11-23"
    assert format_date(datetime(2026, 11, 22, 21, 0, tzinfo=UTC), "fa") == "۱۴۰۵/۰۹/۰۲"
