"""What an export holds: its kind, its filters, its columns and its rows (cells made safe), read in
pages of EXPORT_PAGE_SIZE. The merchant API (inline answers) and the export worker read the same way.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from paylink.core.models import Payment, Settlement
from paylink.exports.model import Kind
from paylink.payments import archive
from paylink.store.table import EXPORT_PAGE_SIZE

if TYPE_CHECKING:
    from paylink.store import Store

MAX_ROWS = 100_000


class ExportOutOfTime(Exception):
    """The rows were not all read before the caller's deadline (the inline answer gives way to a job)."""


CSV_COLUMNS = [
    "id", "created_at", "paid_at", "status", "link_code", "link_title", "amount", "quantity", "fee", "net",
    "gateway", "gateway_reference", "card_mask", "payer_name", "payer_phone", "payer_email", "reference",
    "metadata", "coupon", "discount", "settlement_id", "failure_reason",
]  # fmt: skip
SETTLEMENT_CSV_COLUMNS = [
    "id", "date", "status", "payment_count", "gross", "fee", "net", "iban", "payout_reference",
    "payout_attempts", "held_reason", "failure_reason", "created_at", "submitted_at", "paid_at",
]  # fmt: skip

FORMULA_START = frozenset("=+-@")
# `;` or `؛` (Excel's CSV separator where it is the list separator: many European locales, and
# the Arabic semicolon of Arabic-script Windows locales), a tab, a line break. Kept by split: the
# breaks are written back as they were.
CELL_BREAK = re.compile(r"([;\u061b\t\r\n])")
# Unicode categories a spreadsheet does not show before a formula: format (zero-width, bidi),
# control, and space/separator characters.
INVISIBLE = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


def csv_cell(value: Any) -> str:
    """Text for a spreadsheet cell; formulas are neutralised (CSV injection).

    A spreadsheet may split a cell at `;` (its separator in many locales), a tab or a line break, and
    reads past invisible characters and full-width forms (`＝`), so every part is checked as it
    reads and one that would start a formula gets a leading `'`. Nothing else is changed (Persian
    text keeps its zero-width non-joiners).
    """
    text = "" if value is None else str(value)
    return "".join(
        part if CELL_BREAK.fullmatch(part) else _unformula(part) for part in CELL_BREAK.split(text)
    )


def _unformula(part: str) -> str:
    shown = unicodedata.normalize(
        "NFKC", "".join(c for c in part if unicodedata.category(c) not in INVISIBLE)
    )
    return "'" + part if shown[:1] in FORMULA_START else part


def payment_row(payment: Payment) -> dict[str, str]:
    from paylink.refunds.service import shown_status

    data = payment.model_dump(mode="json")
    data["status"] = shown_status(payment).value  # `refunded` as the API shows it
    for key in ("name", "phone", "email"):
        data[f"payer_{key}"] = payment.payer.get(key)
    if payment.metadata:
        data["metadata"] = json.dumps(payment.metadata, ensure_ascii=False, sort_keys=True)
    return {column: csv_cell(data.get(column)) for column in CSV_COLUMNS}


def settlement_row(settlement: Settlement) -> dict[str, str]:
    data = settlement.model_dump(mode="json", exclude={"merchant_id"})
    return {column: csv_cell(data.get(column)) for column in SETTLEMENT_CSV_COLUMNS}


def payments_page(
    store: Store, merchant_id: str, filters: dict[str, Any], cursor: str | None, page_size: int | None = None
) -> tuple[list[Payment], str | None]:
    """One page of a merchant's payments matching `filters` (link, status, since, until), newest first."""
    return store.payments_of_merchant(
        merchant_id,
        cursor,
        status=filters.get("status"),
        link=filters.get("link"),
        page_size=page_size,
        since=filters.get("since"),
        until=filters.get("until"),
    )


def export_rows(
    store: Store, kind: Kind, merchant_id: str, filters: dict[str, Any], *, deadline: float | None = None
) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The columns of an export and its rows, read lazily (the caller checked the filters and owner).

    With a `deadline` (time.monotonic()), reading the payments raises ExportOutOfTime once it is
    passed between two pages: a filter that matches few of many payments yields no row for page
    after page, so a check per row alone would never come.
    """
    if kind == "settlements":
        return SETTLEMENT_CSV_COLUMNS, _settlement_rows(store, merchant_id)
    if kind == "settlement_payments":
        payments = store.payments_of_settlement(filters["settlement_id"])
        if archive_bucket():  # the ones already archived come from the settlement's archive object
            payments = [*payments, *archive.archived_of_settlement(filters["settlement_id"])]
        return CSV_COLUMNS, (payment_row(p) for p in payments if p.merchant_id == merchant_id)
    return CSV_COLUMNS, _payment_rows(store, merchant_id, filters, deadline)


def _payment_rows(
    store: Store, merchant_id: str, filters: dict[str, Any], deadline: float | None = None
) -> Iterator[dict[str, str]]:
    cursor = None
    while True:
        items, cursor = payments_page(store, merchant_id, filters, cursor, EXPORT_PAGE_SIZE)
        yield from (payment_row(payment) for payment in items)
        if not cursor:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise ExportOutOfTime
    if archive_bucket():  # then the archived ones (older than any still in the table)
        yield from (
            payment_row(p)
            for p in archive.archived_payments(merchant_id, filters.get("since"))
            if _matches(p, filters)
        )


def archive_bucket() -> str:
    from paylink.core.settings import get_settings

    return get_settings().archive_bucket


def _matches(payment: Payment, filters: dict[str, Any]) -> bool:
    """The filters payments_page applies, for an archived payment (times compare as ISO text); the
    status is the one shown (a payment refunded whole is `refunded`, no longer `paid`/`settled`)."""
    from paylink.refunds.service import shown_status

    since, until = filters.get("since"), filters.get("until")
    return (
        (not filters.get("link") or payment.link_code == filters["link"])
        and (not filters.get("status") or shown_status(payment).value == filters["status"])
        and (not since or payment.created_at >= since)
        and (not until or payment.created_at <= until + "\uffff")
    )


def _settlement_rows(store: Store, merchant_id: str) -> Iterator[dict[str, str]]:
    cursor = None
    while True:
        items, cursor = store.settlements_of(merchant_id, cursor, page_size=EXPORT_PAGE_SIZE)
        yield from (settlement_row(settlement) for settlement in items)
        if not cursor:
            return
