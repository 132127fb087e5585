"""CSV exports over HTTP: one rule. A document of at most `csv_inline_max_bytes` (1 MB) is answered
inline, `200 text/csv`; a larger one is an export job (paylink.exports.jobs), answered `202` with the
job and `Location: /v1/exports/{id}`, where its status and, once done, a short-lived link are read.

Lambda answers at most 6 MB and API Gateway waits 30 s: 100,000 rows (~23 MB, ~10 s of work) fit
neither, so anything past the inline size (or past this request's time) is the worker's.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable

from aws_lambda_powertools.event_handler import Response

from paylink.core.settings import get_settings
from paylink.exports.jobs import ExportTooLarge, public_job, start_export
from paylink.exports.model import Kind
from paylink.exports.rows import MAX_ROWS, ExportOutOfTime, export_rows
from paylink.exports.upload import PART_BYTES, s3_client
from paylink.store import get_store
from paylink.web.http import NON_PAGE_HEADERS, json_response

__all__ = ["MAX_ROWS", "PART_BYTES", "ExportTooLarge", "csv_export", "inline_csv", "s3_client"]
MARGIN_SECONDS = 3.0  # left to answer (and to start a job) when the inline attempt runs out of time


def csv_export(
    kind: Kind, filters: dict[str, str], *, merchant_id: str, filename: str, seconds_left: float | None = None
) -> Response[str]:
    """The export inline when it fits, else a `202` export job. The caller checked filters and owner."""
    deadline = None if seconds_left is None else time.monotonic() + max(0.0, seconds_left - MARGIN_SECONDS)
    columns, rows = export_rows(get_store(), kind, merchant_id, filters, deadline=deadline)
    try:
        text = inline_csv(columns, rows, limit=get_settings().csv_inline_max_bytes, deadline=deadline)
    except ExportOutOfTime:
        text = None
    if text is not None:
        return _inline(text, filename)
    job = start_export(get_store(), merchant_id, kind, filters, filename)
    return json_response(202, public_job(job), {"Location": f"/v1/exports/{job.id}"})


def inline_csv(
    columns: list[str], rows: Iterable[dict[str, str]], *, limit: int, deadline: float | None = None
) -> str | None:
    """The whole CSV document when it takes at most `limit` bytes (and is read before `deadline`),
    else None, having read no more than that. `rows` are written as given (cells already safe)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        # characters: never more than the bytes they encode to
        if buffer.tell() > limit or (deadline is not None and time.monotonic() > deadline):
            return None
    text = buffer.getvalue()
    return text if len(text.encode("utf-8")) <= limit else None


def _inline(text: str, filename: str) -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=text,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            **NON_PAGE_HEADERS,
        },
    )
