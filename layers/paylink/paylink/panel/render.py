"""The panel's Jinja environment: its own templates first, the buyer pages' base and helpers after.

Filters are the buyer pages' own (money in toman, Persian digits, Jalali dates); `t` looks the
panel's strings up first (paylink.panel.strings).
"""

from __future__ import annotations

import functools
import re
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from paylink.notify.messages import EASTERN_DIGITS

TEMPLATES = Path(__file__).resolve().parent / "templates"


@jinja2.pass_context
def _t(ctx: jinja2.runtime.Context, key: str, **fmt: Any) -> str:
    from paylink.panel.strings import translate

    return translate(key, "en" if ctx.get("lang") == "en" else "fa", **fmt)


@functools.cache
def environment() -> jinja2.Environment:
    from paylink.web.pages import TEMPLATES_DIR
    from paylink.web.pages import environment as buyer_environment

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(TEMPLATES), jinja2.FileSystemLoader(TEMPLATES_DIR)]
        ),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "svg"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
        auto_reload=False,
    )
    env.filters.update(buyer_environment().filters)
    env.globals["t"] = _t
    return env


def render(template: str, *, lang: str, **context: Any) -> str:
    lang = "en" if lang == "en" else "fa"
    return (
        environment()
        .get_template(template)
        .render(
            lang=lang,
            dir="ltr" if lang == "en" else "rtl",
            other_lang="fa" if lang == "en" else "en",
            lq="?lang=en" if lang == "en" else "",
            # between the parts of a line: a middle dot reads as a Persian zero in Persian text
            sep="، " if lang == "fa" else " · ",
            **context,
        )
    )


def parse_toman(text: str) -> int | None:
    """Toman typed by a merchant (Persian or Latin digits, thousands separators) as rials; None if
    it is not a whole positive number."""
    cleaned = re.sub(r"[\s,٬،']", "", (text or "").translate(EASTERN_DIGITS))
    if not re.fullmatch(r"[0-9]{1,12}", cleaned):
        return None
    toman = int(cleaned)
    return toman * 10 if toman > 0 else None


def jalali_day(text: str) -> date | None:
    """A Jalali yyyy/mm/dd (or yyyy-mm-dd, Persian or Latin digits) as a Gregorian date, or None."""
    import jdatetime

    match = re.fullmatch(
        r"(1[2-4][0-9]{2})[/\-.]([0-9]{1,2})[/\-.]([0-9]{1,2})", text.strip().translate(EASTERN_DIGITS)
    )
    if not match:
        return None
    try:
        return jdatetime.date(*(int(part) for part in match.groups())).togregorian()
    except ValueError:
        return None
