"""CSV exports: no cell, nor any part of one a spreadsheet may split off, starts a formula."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

import pytest

from paylink.web.exports import inline_csv
from paylink.web.merchant_api import _csv_cell

FORMULA_START = ("=", "+", "-", "@")
# Where a spreadsheet may start a new cell inside ours: a `;` or tab separator, a line break, and
# the Arabic semicolon `؛`, the list separator (so the CSV separator of Excel) of a Persian Windows.
PART_BREAK = re.compile(r"[;\u061b\t\r\n]")
ATTACKS = [
    "=1+1",
    "x;=1+1",
    "x\t=1+1",
    "\uff1d1+1",  # full-width equals sign
    "\u200b=1+1",  # zero-width space first
    "x;\u200b\uff0bcmd|' /C calc'!A0",
    "\ufeff@SUM(A1)",
    " =1+1",
    "\u202e=1+1",  # right-to-left override
    "\u00ad-2+3",  # soft hyphen
    'a\n=HYPERLINK("http://evil.example")',
    "\t=1+1",
    "\r=1+1",
    "x;;=1",
    "x\u061b=1+1",  # Arabic semicolon: a Persian (fa-IR) Windows' list separator
    "\u0645\u062a\u0646\u061b@SUM(A1)",
]


def _visible(text: str) -> str:
    """The text as a spreadsheet reads it: invisible characters dropped, compatibility forms folded."""
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Zs", "Zl", "Zp"))
    return unicodedata.normalize("NFKC", kept)


def _parts(cell: str) -> list[str]:
    return [cell, *PART_BREAK.split(cell)]


@pytest.mark.parametrize("value", ATTACKS, ids=repr)
def test_no_part_of_a_cell_starts_a_formula(value):
    # When a value a buyer or merchant typed is written to a CSV cell
    cell = _csv_cell(value)
    # Then neither the cell nor any part after a separator starts a formula once invisibles are dropped
    for part in _parts(cell):
        assert not _visible(part).startswith(FORMULA_START), (value, cell, part)


@pytest.mark.parametrize(
    "value", ["Ali Rezaei", "علی رضایی", "می\u200cخواهم", "12345", "pay_abc", "2026-01-01", "a;b", ""]
)
def test_ordinary_text_is_written_as_it_is(value):
    # Persian text keeps its zero-width non-joiner; nothing that starts no formula is changed
    assert _csv_cell(value) == value


def test_an_export_of_an_attack_reads_back_safe():
    # Given a CSV document with every attack in a cell
    document = inline_csv(["v"], ({"v": _csv_cell(v)} for v in ATTACKS), limit=1_000_000)
    assert document is not None
    # When it is read back with a `;` or `؛` separator, as a spreadsheet in such a locale does
    for separator in (";", "\u061b"):
        for row in csv.reader(io.StringIO(document), delimiter=separator):
            for cell in row:
                assert not _visible(cell).startswith(FORMULA_START), row
