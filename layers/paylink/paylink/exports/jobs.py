"""Export jobs: started by the merchant API when an export is too large to answer inline, run by
the export worker (ExportFunction, fed by ExportQueue), read back with `GET /v1/exports/{id}`.

A job writes one object whose key comes from its id, so a retry (SQS delivers again after a crash or
a timeout) overwrites the same object after aborting the upload the earlier attempt left; a job
that is done is never redone. The same export asked again within the same minute is the same job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from paylink.core.errors import NotFound, PaylinkError
from paylink.core.ids import BASE62
from paylink.core.models import iso, utcnow
from paylink.core.observability import logger
from paylink.core.settings import get_settings
from paylink.exports.model import ExportJob, ExportStatus, Kind
from paylink.exports.rows import MAX_ROWS, export_rows
from paylink.exports.upload import MultipartObject, abort_upload, presigned_url
from paylink.store import Store

JOB_TTL_SECONDS = 86_400  # the bucket expires its objects after a day (template.yaml)
# ExportQueue's maxReceiveCount: the attempt that fails the last time marks the job failed.
MAX_ATTEMPTS = 3
# Past this a job still pending or running was lost (its messages dead-lettered): it reads as failed.
STALE_SECONDS = MAX_ATTEMPTS * 1800 + 600
NARROW = "narrow it with from and to"
EXPORT_ID = re.compile(r"exp_[0-9A-Za-z]{1,40}")  # anything else is no job (and no oversized key)


class ExportTooLarge(PaylinkError):
    """An export this deployment cannot make: it has no export bucket or queue for a large one."""

    status = 422
    code = "export_too_large"


class TooManyRows(Exception):
    """More rows match than one export holds."""


def job_id(merchant_id: str, kind: Kind, filters: dict[str, str], minute: int) -> str:
    """The same export of the same merchant within one minute: one job (a client asking twice)."""
    seed = json.dumps([merchant_id, kind, filters, minute], sort_keys=True).encode()
    number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "exp_" + "".join(chars)


def start_export(
    store: Store, merchant_id: str, kind: Kind, filters: dict[str, str], filename: str
) -> ExportJob:
    """A pending job for this export (a new one queued, or the same minute's), for the worker to run."""
    settings = get_settings()
    if not settings.export_bucket or not settings.export_queue_url:
        raise ExportTooLarge(f"the export is too large for one answer: {NARROW}")
    now = utcnow()
    job = ExportJob(
        id=job_id(merchant_id, kind, filters, int(now.timestamp()) // 60),
        merchant_id=merchant_id,
        kind=kind,
        filters=filters,
        filename=filename,
        created_at=iso(now),
        ttl=int(now.timestamp()) + JOB_TTL_SECONDS,
    )
    job, created = store.add_export_job(job)
    if created:
        from paylink.notify.queues import SqsQueue

        try:
            SqsQueue(settings.export_queue_url).send({"id": job.id})
        except Exception:
            # Not queued, so never run: say so rather than leave it pending.
            store.claim_export_job(job.id)
            store.finish_export_job(job.id, ExportStatus.FAILED, rows=0, size=0, at=iso(utcnow()),
                                    error="the export could not be queued: ask again")  # fmt: skip
            raise
        logger.info("export queued", extra={"export_id": job.id, "kind": kind})
    return job


def public_job(job: ExportJob) -> dict[str, Any]:
    """A job as the merchant API shows it; a done one with a fresh short-lived link to its document."""
    settings = get_settings()
    status = job.status
    stale = utcnow().timestamp() - _epoch(job.created_at) > STALE_SECONDS
    if status in (ExportStatus.PENDING, ExportStatus.RUNNING) and stale:
        status = ExportStatus.FAILED
    body: dict[str, Any] = {"id": job.id, "status": status.value, "rows": job.rows, "bytes": job.bytes}
    body["created_at"] = job.created_at
    if status is ExportStatus.DONE:
        seconds = settings.export_url_seconds
        body["url"] = presigned_url(settings.export_bucket, job.key, job.filename, seconds)
        body["expires_at"] = iso(utcnow() + timedelta(seconds=seconds))
    if status is ExportStatus.FAILED:
        body["error"] = job.error or "the export could not be made: ask again"
    return body


def export_status(store: Store, merchant_id: str, export_id: str) -> dict[str, Any]:
    """`GET /v1/exports/{id}`: another merchant's job, an expired one and none answer alike."""
    job = store.get_export_job(export_id) if EXPORT_ID.fullmatch(export_id) else None
    if job is None or job.merchant_id != merchant_id or job.ttl <= utcnow().timestamp():
        raise NotFound("no such export")
    return public_job(job)


def run_queued(store: Store, body: str, receive_count: int) -> None:
    """Run the job of one ExportQueue message; raises when the message is to be tried again."""
    try:
        export_id = json.loads(body)["id"]
    except (ValueError, KeyError, TypeError):
        logger.warning("export message without a job id dropped")
        return
    run_job(store, str(export_id), last_attempt=receive_count >= MAX_ATTEMPTS)


def run_job(store: Store, export_id: str, *, last_attempt: bool = False) -> ExportJob | None:
    """Write a job's CSV to the export bucket and mark it done (or failed); a done job is left as it is."""
    settings = get_settings()
    job = store.get_export_job(export_id)
    if job is None or job.status in (ExportStatus.DONE, ExportStatus.FAILED):
        return job
    claimed = store.claim_export_job(export_id)
    if claimed is None:
        return store.get_export_job(export_id)
    if claimed.upload_id:  # an earlier attempt died mid-upload: its parts go, the object is written anew
        abort_upload(settings.export_bucket, claimed.key, claimed.upload_id)
    try:
        rows, size = _write(store, claimed)
    except TooManyRows:
        error = f"more than {MAX_ROWS:,} rows: {NARROW}"
        return store.finish_export_job(
            export_id, ExportStatus.FAILED, rows=0, size=0, at=iso(utcnow()), error=error
        )
    except Exception:
        if last_attempt:
            store.finish_export_job(export_id, ExportStatus.FAILED, rows=0, size=0, at=iso(utcnow()),
                                    error="the export could not be made: ask again")  # fmt: skip
        raise
    logger.info("export stored", extra={"export_id": export_id, "rows": rows, "bytes": size})
    return store.finish_export_job(export_id, ExportStatus.DONE, rows=rows, size=size, at=iso(utcnow()))


def _write(store: Store, job: ExportJob) -> tuple[int, int]:
    """Stream the job's rows, pages of 1,000 from DynamoDB, into parts of the object; (rows, bytes)."""
    from paylink.exports import upload as s3

    columns, rows = export_rows(store, job.kind, job.merchant_id, job.filters)
    target = MultipartObject(
        get_settings().export_bucket,
        job.key,
        on_begin=lambda upload_id: store.note_export_progress(job.id, upload_id=upload_id, rows=0, size=0),
    )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    count = size = 0
    try:
        for row in _at_most(rows, MAX_ROWS):
            writer.writerow(row)
            count += 1
            if buffer.tell() < s3.PART_BYTES:  # characters: never more than the bytes they encode to
                continue
            data = buffer.getvalue().encode("utf-8")
            target.part(data)
            size += len(data)
            buffer.seek(0)
            buffer.truncate()
            store.note_export_progress(job.id, upload_id=None, rows=count, size=size)
        data = buffer.getvalue().encode("utf-8")
        target.finish(data)
    except BaseException:
        target.abort()
        raise
    return count, size + len(data)


def _at_most(rows: Iterable[dict[str, str]], limit: int) -> Iterable[dict[str, str]]:
    for n, row in enumerate(rows):
        if n == limit:
            raise TooManyRows
        yield row


def _epoch(moment: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
