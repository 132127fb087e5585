"""Server-rendered buyer pages (Jinja2 templates in ``templates/``).

``render("link.html", lang="fa", link=..., ...)`` returns the HTML of a page. Every template gets
``lang``, ``dir`` and ``other_lang`` in its context, the filters ``money`` (integer rials shown in
toman), ``digits`` (Persian digits on Persian pages), ``datetime`` and ``date`` (Jalali on
Persian pages), and the global ``t(key, **fmt)`` that translates in the page's language.

The layer build (`sam build`, layers/paylink/Makefile) compiles the templates to Python modules in
``compiled/`` (``python -m paylink.web.pages.compile``); where that folder exists the pages load
from it (Jinja's ModuleLoader), so a cold start neither lexes nor compiles a template. A source tree
has no such folder (it is never committed: a stale copy would hide template edits), so the local
runner and the tests read ``templates/`` directly; tests/unit/test_compiled_templates.py renders
every page both ways and compares.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2

from paylink.core.formatting import (
    format_date,
    format_datetime,
    format_number,
    format_toman,
    to_persian_digits,
)
from paylink.web.pages.i18n import translate

__all__ = ["COMPILED_DIR", "TEMPLATES_DIR", "environment", "make_environment", "normalize_lang", "render"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
COMPILED_DIR = Path(__file__).resolve().parent / "compiled"


def normalize_lang(value: str | None) -> str:
    """The page language: "en" when asked for exactly, Persian ("fa") otherwise."""
    return "en" if value == "en" else "fa"


def _lang(ctx: jinja2.runtime.Context) -> str:
    return normalize_lang(ctx.get("lang"))


@jinja2.pass_context
def _t(ctx: jinja2.runtime.Context, key: str, **fmt: Any) -> str:
    return translate(key, _lang(ctx), **fmt)


@jinja2.pass_context
def _money(ctx: jinja2.runtime.Context, rials: int | None) -> str:
    if rials is None:
        return ""
    return format_toman(rials, _lang(ctx))


@jinja2.pass_context
def _number(ctx: jinja2.runtime.Context, value: int | None) -> str:
    if value is None:
        return ""
    return format_number(value, _lang(ctx))


@jinja2.pass_context
def _digits(ctx: jinja2.runtime.Context, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return to_persian_digits(text) if _lang(ctx) == "fa" else text


@jinja2.pass_context
def _datetime(ctx: jinja2.runtime.Context, value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    return format_datetime(value, _lang(ctx))


@jinja2.pass_context
def _date(ctx: jinja2.runtime.Context, value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    return format_date(value, _lang(ctx))


@functools.cache
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment (built once per process): the build's compiled templates when
    the layer holds them, else the source templates."""
    if COMPILED_DIR.is_dir():
        return make_environment(jinja2.ModuleLoader(COMPILED_DIR))
    return make_environment(jinja2.FileSystemLoader(TEMPLATES_DIR))


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """An environment of the buyer pages over `loader`: its settings are those the templates are
    compiled with, so a compiled page renders exactly as its source."""
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
        auto_reload=False,
    )
    env.filters["money"] = _money
    env.filters["number"] = _number
    env.filters["digits"] = _digits
    env.filters["datetime"] = _datetime
    env.filters["date"] = _date
    env.globals["t"] = _t
    return env


def render(template: str, *, lang: str, **context: Any) -> str:
    """Render ``template`` in ``lang`` ("fa" unless "en") with ``context``."""
    lang = normalize_lang(lang)
    return (
        environment()
        .get_template(template)
        .render(
            lang=lang,
            dir="ltr" if lang == "en" else "rtl",
            other_lang="fa" if lang == "en" else "en",
            **context,
        )
    )
