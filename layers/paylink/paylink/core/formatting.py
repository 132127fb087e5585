"""Display formatting for buyer pages: money, digits and dates in Persian and English.

Amounts are integer rials everywhere (DESIGN.md section 6); pages show toman (rials / 10). No
floats are ever involved: an amount that is not a whole number of toman is shown in rials.
Persian pages use Persian digits and the Jalali calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import jdatetime

__all__ = [
    "DEFAULT_TZ",
    "format_date",
    "format_datetime",
    "format_number",
    "format_toman",
    "to_persian_digits",
]

DEFAULT_TZ = "Asia/Tehran"

_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_PERSIAN_THOUSANDS = "\u066c"  # ARABIC THOUSANDS SEPARATOR "٬"

_UNITS = {
    "fa": {"toman": "تومان", "rial": "ریال"},
    "en": {"toman": "Toman", "rial": "Rial"},
}


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
    jalali = jdatetime.date.fromgregorian(date=local.date())
    text = f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d} ساعت {local.hour:02d}:{local.minute:02d}"
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
    jalali = jdatetime.date.fromgregorian(date=value)
    return to_persian_digits(f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d}")
