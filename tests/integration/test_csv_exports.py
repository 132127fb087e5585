"""CSV exports: small ones inline, large ones stored in S3 and answered with a short-lived link."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import reset_caches
from tests.settlement_data import add_paid_payment

BUCKET = "paylink-test-exports"


@pytest.fixture
def bucket(aws, monkeypatch):  # type: ignore[no-untyped-def]
    """The export bucket, and an inline limit of 2,000 bytes (about ten rows)."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("EXPORT_BUCKET", BUCKET)
    monkeypatch.setenv("PAYLINK_CSV_INLINE_MAX_BYTES", "2000")
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    reset_caches()
    return BUCKET


def _pay(store, merchant, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    moments = [f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}.000000Z" for n in range(count)]
    return [
        add_paid_payment(store, merchant, f"pay_{n:05d}", 1_000_000 + n, paid_at=moment).id
        for n, moment in enumerate(moments)
    ]


def _key(url: str) -> str:
    """The object key of a presigned URL, virtual-hosted (bucket.s3...) or path-style (/bucket/...)."""
    parts = urlsplit(url)
    path = unquote(parts.path.lstrip("/"))
    return path.removeprefix(f"{BUCKET}/") if not parts.netloc.startswith(BUCKET) else path


def _stored(url: str) -> tuple[str, dict[str, list[str]]]:
    """The stored document a presigned URL points at, and the URL's query."""
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=_key(url))["Body"].read()
    return body.decode("utf-8"), parse_qs(urlsplit(url).query)


def _ids(text: str) -> list[str]:
    return [row["id"] for row in csv.DictReader(io.StringIO(text))]


def test_a_small_export_stays_inline(api, store, merchant, bucket):
    ids = _pay(store, merchant, 3)
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert sorted(_ids(answer.text)) == ids


def test_an_export_past_the_inline_limit_is_stored_and_answered_with_a_short_lived_link(
    api, store, merchant, bucket
):
    # Given more payments than fit the inline limit
    ids = _pay(store, merchant, 60)
    # When the merchant exports them
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    # Then the answer is 303 to a presigned URL, with the same facts as JSON
    assert answer.status == 303, answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["Location"] == body["url"]
    assert body["rows"] == 60
    assert body["filename"] == "payments.csv"
    assert answer.headers["Cache-Control"] == "no-store"
    # and the URL holds every payment, signed for five minutes only
    text, query = _stored(body["url"])
    assert sorted(_ids(text)) == ids
    assert len(text.encode()) == body["bytes"] > 2000
    assert query["X-Amz-Expires"] == ["300"]
    assert "attachment" in query["response-content-disposition"][0]


def test_the_settlements_export_takes_the_same_way(api, store, merchant, bucket, monkeypatch):
    monkeypatch.setenv("PAYLINK_CSV_INLINE_MAX_BYTES", "100")  # the header alone is ~170 bytes
    reset_caches()
    answer = api.get("/v1/settlements?format=csv", key=TEST_API_KEY)
    assert answer.status == 303, answer.text
    text, _ = _stored(answer.json()["url"])
    assert text.startswith("id,date,status")


def test_a_large_export_is_streamed_to_s3_in_parts(api, store, merchant, bucket, monkeypatch):
    import moto.s3.models

    from paylink.web import exports

    # Given parts of 3,000 bytes (S3's 5 MiB minimum lowered alike in moto)
    monkeypatch.setattr(exports, "PART_BYTES", 3_000)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    ids = _pay(store, merchant, 120)
    # When the merchant exports the payments
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    # Then the stored document is whole, sent in several parts
    assert answer.status == 303, answer.text
    text, _ = _stored(answer.json()["url"])
    assert sorted(_ids(text)) == ids
    s3 = boto3.client("s3", region_name="us-east-1")
    head = s3.head_object(Bucket=BUCKET, Key=_key(answer.json()["url"]), PartNumber=1)
    assert int(head["PartsCount"]) >= 4


def test_an_export_reads_pages_of_a_thousand_not_the_apis_fifty(api, store, merchant, bucket):
    # Given 120 payments (three JSON pages)
    _pay(store, merchant, 120)
    from paylink.store import get_store

    client = get_store().client  # the store the handler uses
    calls: list[dict[str, Any]] = []
    event = "provide-client-params.dynamodb.Query"
    client.meta.events.register(event, lambda params, **_: calls.append(params))
    # When they are exported
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    # Then one query read them all
    assert answer.status == 303
    assert len(calls) == 1
    assert calls[0]["Limit"] == 1000


def test_without_a_bucket_a_large_export_is_a_clear_422_not_a_500(api, store, merchant, monkeypatch):
    monkeypatch.delenv("EXPORT_BUCKET", raising=False)
    monkeypatch.setenv("PAYLINK_CSV_INLINE_MAX_BYTES", "2000")
    reset_caches()
    _pay(store, merchant, 60)
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    assert answer.status == 422
    assert answer.json()["error"]["code"] == "export_too_large"


def test_an_export_out_of_time_stops_with_a_422_and_leaves_no_upload(store, merchant, bucket, monkeypatch):
    from paylink.web import exports, merchant_api

    monkeypatch.setattr(exports, "PART_BYTES", 3_000)
    _pay(store, merchant, 60)
    # When the request has no time left for the export
    with pytest.raises(exports.ExportTooLarge):
        merchant_api.list_payments(merchant, {"format": "csv"}, seconds_left=0.0)
    # Then nothing is left half-uploaded
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
