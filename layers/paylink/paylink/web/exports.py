"""CSV exports: small ones answered inline, large ones streamed to S3 and handed over as a link.

A Lambda answer holds at most 6 MB, so a document larger than `csv_inline_max_bytes` is written to
the export bucket (in parts of PART_BYTES once it outgrows one part, so memory stays flat) and the
answer is `303` to a presigned URL valid `export_url_seconds`, with the same facts as JSON. The
bucket expires objects after a day (template.yaml). boto3 is imported on the first large export.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import PaylinkError
from paylink.core.models import iso, utcnow
from paylink.core.observability import logger
from paylink.core.settings import get_settings
from paylink.web.http import NON_PAGE_HEADERS

# S3 takes parts of at least 5 MiB (all but the last); 8 MiB keeps ~12 parts for 100,000 rows.
PART_BYTES = 8 * 1024 * 1024
MAX_ROWS = 100_000
NARROW = "narrow it with from and to"


class ExportTooLarge(PaylinkError):
    """The export cannot be answered in one request: no bucket for a large one, or out of time."""

    status = 422
    code = "export_too_large"


class _Upload:
    """One S3 object written as a multipart upload, begun when the first part is full."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def part(self, data: bytes) -> None:
        if self.upload_id is None:
            begun = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="text/csv; charset=utf-8"
            )
            self.upload_id = begun["UploadId"]
        number = len(self.parts) + 1
        sent = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def finish(self, data: bytes) -> None:
        """The last bytes: one plain put when nothing was sent in parts yet."""
        if self.upload_id is None:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=data, ContentType="text/csv; charset=utf-8"
            )
            return
        if data:
            self.part(data)
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


@cache
def s3_client() -> Any:
    """The process-wide S3 client (made on the first large export)."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    # Path-style for a local endpoint (an IP has no bucket subdomains); SigV4 for presigned URLs.
    config = Config(
        signature_version="s3v4", s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"}
    )
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def csv_export(
    columns: list[str],
    rows: Iterable[dict[str, str]],
    *,
    filename: str,
    owner: str,
    seconds_left: float | None = None,
) -> Response[str]:
    """One CSV document of at most MAX_ROWS rows: inline when small, else a link to it in S3.

    `rows` are written as given (their cells already made safe). `seconds_left` is the time this
    request may still take: past it (less a margin to answer), a large export stops with a clear
    422 instead of the gateway's timeout.
    """
    settings = get_settings()
    deadline = None if seconds_left is None else time.monotonic() + max(0.0, seconds_left - 3.0)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    upload: _Upload | None = None
    count = size = 0
    try:
        for row in itertools.islice(rows, MAX_ROWS):
            writer.writerow(row)
            count += 1
            if deadline is not None and time.monotonic() > deadline:
                raise ExportTooLarge(f"the export takes longer than one request may: {NARROW}")
            if buffer.tell() < PART_BYTES:  # characters: never more than the bytes they encode to
                continue
            upload = upload or _upload_for(owner, filename)
            data = buffer.getvalue().encode("utf-8")
            upload.part(data)
            size += len(data)
            buffer.seek(0)
            buffer.truncate()
        data = buffer.getvalue().encode("utf-8")
        if upload is None and len(data) <= settings.csv_inline_max_bytes:
            return _inline(data.decode("utf-8"), filename)
        upload = upload or _upload_for(owner, filename)
        upload.finish(data)
        size += len(data)
    except BaseException:
        if upload is not None:
            upload.abort()
        raise
    return _link(upload, filename, rows=count, size=size)


def _upload_for(owner: str, filename: str) -> _Upload:
    bucket = get_settings().export_bucket
    if not bucket:
        raise ExportTooLarge(f"the export is too large for one answer: {NARROW}")
    # The owner's id and a random part: no export can be found or overwritten by another's name.
    return _Upload(s3_client(), bucket, f"exports/{owner}/{uuid.uuid4().hex}/{filename}")


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


def _link(upload: _Upload, filename: str, *, rows: int, size: int) -> Response[str]:
    """`303` to the stored document, its presigned URL also in a JSON body (for clients that do
    not follow redirects); the URL is the only key to it, so it is never logged."""
    seconds = get_settings().export_url_seconds
    url = upload.client.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": upload.bucket,
            "Key": upload.key,
            "ResponseContentType": "text/csv; charset=utf-8",
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        },
        ExpiresIn=seconds,
    )
    expires_at = iso(utcnow() + timedelta(seconds=seconds))
    logger.info("csv export stored", extra={"rows": rows, "bytes": size, "parts": len(upload.parts)})
    body = {"url": url, "expires_at": expires_at, "rows": rows, "bytes": size, "filename": filename}
    return Response(
        status_code=303,
        content_type="application/json",
        body=json.dumps(body),
        headers={"Location": url, "Cache-Control": "no-store", **NON_PAGE_HEADERS},
    )
