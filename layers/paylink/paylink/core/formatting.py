"""Display formatting for buyer pages: money, digits and dates in Persian and English.

Amounts are integer rials everywhere (DESIGN.md section 6); pages show toman (rials / 10). No
floats are ever involved: an amount that is not a whole number of toman is shown in rials.
Persian pages use Persian digits and the Jalali calendar, converted here (`jalali`) rather than
with jdatetime, which the click path would otherwise import for one date conversion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_TZ",
    "format_date",
    "format_datetime",
    "format_number",
    "format_toman",
    "jalali",
    "to_persian_digits",
]

DEFAULT_TZ = "Asia/Tehran"

_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_PERSIAN_THOUSANDS = "\u066c"  # ARABIC THOUSANDS SEPARATOR "٬"

_UNITS = {
    "fa": {"toman": "تومان", "rial": "ریال"},
    "en": {"toman": "Toman", "rial": "Rial"},
}


# The years (Jalali) at which the 33-year leap cycle of the astronomical calendar breaks, as in
# Borkowski's tables (the arithmetic jdatetime and the jalaali libraries use): valid for 1-3177.
_BREAKS = (-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262,
           2324, 2394, 2456, 3178)  # fmt: skip


def _jalali_year(jy: int) -> tuple[int, int]:
    """(leap, march): `leap` is 0 in a Jalali leap year, and Farvardin 1 of `jy` is March `march`
    of the Gregorian year jy + 621."""
    if not _BREAKS[0] <= jy < _BREAKS[-1]:
        raise ValueError(f"Jalali year {jy} is out of range")
    leap_j, start, jump = -14, _BREAKS[0], 0
    for end in _BREAKS[1:]:
        jump = end - start
        if jy < end:
            break
        leap_j += jump // 33 * 8 + jump % 33 // 4
        start = end
    n = jy - start
    leap_j += n // 33 * 8 + (n % 33 + 3) // 4
    if jump % 33 == 4 and jump - n == 4:
        leap_j += 1
    gy = jy + 621
    leap_g = gy // 4 - (gy // 100 + 1) * 3 // 4 - 150
    if jump - n < 6:
        n = n - jump + (jump + 4) // 33 * 33
    leap = (n + 1) % 33 - 1
    return (4 if leap == -1 else leap % 4), 20 + leap_j - leap_g


def jalali(day: date) -> tuple[int, int, int]:
    """The Jalali (year, month, day) of a Gregorian date; tests/unit/test_jalali.py checks it
    against jdatetime for every day of two centuries."""
    jy = day.year - 621
    leap, march = _jalali_year(jy)
    k = day.toordinal() - date(day.year, 3, march).toordinal()
    if k >= 0:
        if k <= 185:
            return jy, 1 + k // 31, k % 31 + 1
        k -= 186
    else:
        jy -= 1
        k += 179
        if leap == 1:
            k += 1
    return jy, 7 + k // 30, k % 30 + 1


def _jalali_text(day: date) -> str:
    year, month, dom = jalali(day)
    return f"{year:04d}/{month:02d}/{dom:02d}"


def _is_fa(lang: str) -> bool:
    return lang != "en"


def to_persian_digits(text: str) -> str:
    """Replace ASCII digits 0-9 with Persian digits ۰-۹; everything else is left as is."""
    return text.translate(_PERSIAN_DIGITS)


def format_number(value: int, lang: str) -> str:
    """An integer with thousands separators: "1,234" (en) or "۱٬۲۳۴" (fa)."""
    grouped = f"{value:,}"
    if not _is_fa(lang):
        return grouped
    return to_persian_digits(grouped.replace(",", _PERSIAN_THOUSANDS))


def format_toman(rials: int, lang: str) -> str:
    """An amount of integer rials for display.

    Shown in toman (rials // 10) when the amount is a whole number of toman, otherwise in rials
    with the rial unit, so no fraction is ever displayed or rounded away.
    """
    if isinstance(rials, bool) or not isinstance(rials, int):
        raise TypeError(f"amounts are integer rials, got {type(rials).__name__}")
    units = _UNITS["fa" if _is_fa(lang) else "en"]
    if rials % 10 == 0:
        return f"{format_number(rials // 10, lang)} {units['toman']}"
    return f"{format_number(rials, lang)} {units['rial']}"


def _to_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if value.tzinfo is None:
        # Stored timestamps are UTC; a naive value is taken to be UTC.
        value = value.replace(tzinfo=UTC)
    return value


def format_datetime(value: datetime | str, lang: str, tz: str = DEFAULT_TZ) -> str:
    """A timestamp in ``tz``: "۱۴۰۵/۰۹/۰۲ ساعت ۱۴:۳۰" (fa, Jalali) or "2026-11-23 14:30" (en).

    ISO 8601 strings are accepted; naive values are taken to be UTC.
    """
    local = _to_datetime(value).astimezone(ZoneInfo(tz))
    if not _is_fa(lang):
        return local.strftime("%Y-%m-%d %H:%M")
    text = f"{_jalali_text(local.date())} ساعت {local.hour:02d}:{local.minute:02d}"
    return to_persian_digits(text)


def format_date(value: date | str, lang: str, tz: str = DEFAULT_TZ) -> str:
    """A calendar date: "۱۴۰۵/۰۹/۰۲" (fa, Jalali) or "2026-11-23" (en).

    Accepts a date or an ISO date string; a datetime (or an ISO timestamp) is first converted
    to ``tz`` so the day shown is the local one.
    """
    if isinstance(value, str):
        text = value.strip()
        value = date.fromisoformat(text) if len(text) == 10 else _to_datetime(text)
    if isinstance(value, datetime):
        value = _to_datetime(value).astimezone(ZoneInfo(tz)).date()
    if not _is_fa(lang):
        return value.isoformat()
    return to_persian_digits(_jalali_text(value))
