"""The panel's page of a large CSV export (`GET /dashboard/exports/{id}`), and the panel's CSV download
that sends a large export there instead of answering the API's export job JSON.

The page reads the job as `GET /v1/exports/{id}` does (paylink.exports.jobs.export_status): another
merchant's job, an expired one and none answer the same 404 page. While the job runs the page
waits a few seconds for it before answering, then offers a Refresh link (no timed refresh: a page
that reloads itself is what WCAG 2.2.1 and axe-core's meta-refresh rule refuse; no JavaScript); once
done it links a fresh short-lived download.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from paylink.core.models import Merchant
from paylink.panel import sessions
from paylink.panel.pages import page, signed_in
from paylink.store import get_store
from paylink.web.http import redirect

# How long the page waits for a job under way before answering "being prepared" (GetItems every
# half second): most exports are written by then, and the merchant gets the link at once.
WAIT_SECONDS = 4.0
POLL_SECONDS = 0.5


def export_path(export_id: str, lang: str) -> str:
    return f"/dashboard/exports/{quote(export_id)}" + ("?lang=en" if lang == "en" else "")


def csv_download(make: Callable[[], Response[str]], merchant: Merchant | None, lang: str) -> Response[str]:
    """The CSV answer of `make()` as the panel gives it: inline when small; a large export (the
    API's `202` job) becomes a `303` to the job's page; one this deployment cannot make, a page."""
    from paylink.exports.jobs import ExportTooLarge

    try:
        answer = make()
    except ExportTooLarge:
        return page(
            422,
            "panel/message.html",
            lang,
            title="export.title",
            message="export.too_large",
            merchant=merchant,
        )
    if answer.status_code == 202:
        job = json.loads(str(answer.body))
        return redirect(export_path(str(job["id"]), lang))
    return answer


def _pause(seconds: float) -> None:
    time.sleep(seconds)


@signed_in
def export_page(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, export_id: str
) -> Response[str]:
    """`GET /dashboard/exports/{id}`: being prepared (after a short wait), the download link, or failed."""
    from paylink.exports.jobs import export_status

    job = export_status(get_store(), merchant.id, export_id)  # NotFound: the 404 page
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        if job["status"] not in ("pending", "running"):
            break
        _pause(POLL_SECONDS)
        job = export_status(get_store(), merchant.id, export_id)
    too_large = job["status"] == "failed" and "rows" in str(job.get("error") or "")
    return page(
        200, "panel/export.html", lang, merchant=merchant, nav="payments", job=job,
        too_large=too_large,
    )  # fmt: skip
