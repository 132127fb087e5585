"""The export bucket: one CSV object written as a multipart upload, and presigned links to it.

boto3 is imported on first use (the merchant API's small exports never need it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cache
from typing import Any

from paylink.core.settings import get_settings

CSV_TYPE = "text/csv; charset=utf-8"
# S3 takes parts of at least 5 MiB (all but the last); 8 MiB keeps ~3 parts for 100,000 rows.
PART_BYTES = 8 * 1024 * 1024


@cache
def s3_client() -> Any:
    """The process-wide S3 client (made on first use)."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    # Path-style for a local endpoint (an IP has no bucket subdomains); SigV4 for presigned URLs.
    config = Config(
        signature_version="s3v4", s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"}
    )
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


class MultipartObject:
    """One S3 object written in parts; `on_begin` learns the upload id (so a retry can abort it)."""

    def __init__(
        self, bucket: str, key: str, *, client: Any = None, on_begin: Callable[[str], None] | None = None
    ) -> None:
        self.client = client or s3_client()
        self.bucket, self.key = bucket, key
        self.on_begin = on_begin
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def part(self, data: bytes) -> None:
        if self.upload_id is None:
            begun = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=CSV_TYPE
            )
            self.upload_id = begun["UploadId"]
            if self.on_begin:
                self.on_begin(self.upload_id)
        number = len(self.parts) + 1
        sent = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def finish(self, data: bytes) -> None:
        """The last bytes: one plain put when nothing was sent in parts yet."""
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=data, ContentType=CSV_TYPE)
            return
        if data:
            self.part(data)
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            abort_upload(self.bucket, self.key, self.upload_id, client=self.client)


def abort_upload(bucket: str, key: str, upload_id: str, *, client: Any = None) -> None:
    """Abort an upload an earlier attempt left (gone already is fine: aborted or completed)."""
    client = client or s3_client()
    with contextlib.suppress(client.exceptions.NoSuchUpload):
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def presigned_url(bucket: str, key: str, filename: str, seconds: int) -> str:
    """A link that downloads the object for `seconds`: the only key to it, so it is never logged."""
    return str(
        s3_client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentType": CSV_TYPE,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=seconds,
        )
    )
