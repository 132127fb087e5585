"""When a template schedule fires next: EventBridge `cron(...)` and `rate(...)` expressions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
CRON = re.compile(r"^cron\((.+)\)$")


def _to_unix_cron(fields: str) -> str:
    """AWS cron (min hour dom month dow year; dow 1=SUN) as a five-field Unix cron (dow 0=SUN)."""
    minute, hour, dom, month, dow, _year = fields.split()
    dom = "*" if dom == "?" else dom
    if dow == "?":
        dow = "*"
    elif "L" in dow:
        raise ValueError(f"unsupported day of week {dow!r} in the local runner")
    elif re.fullmatch(r"[0-9,\-]+|[0-9]#[1-5]", dow):
        # Only the weekday numbers move (AWS 1=SUN -> Unix 0=SUN); the n of `d#n` stays.
        weekday, _, nth = dow.partition("#")
        dow = re.sub(r"\d", lambda m: str((int(m.group()) - 1) % 7), weekday) + (f"#{nth}" if nth else "")
    return f"{minute} {hour} {dom} {month} {dow}"


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first firing of `expression` (in `timezone`) strictly after the aware `after`."""
    rate = RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        return after + timedelta(**{f"{unit}s": amount})
    cron = CRON.match(expression)
    if not cron:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    from croniter import croniter

    local = after.astimezone(ZoneInfo(timezone))
    following = croniter(_to_unix_cron(cron.group(1)), local).get_next(datetime)
    return following.astimezone(after.tzinfo)
