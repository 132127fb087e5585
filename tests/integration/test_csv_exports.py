"""CSV exports: small ones inline; larger ones an export job that the export worker writes to S3 and
`GET /v1/exports/{id}` hands over as a short-lived link (paylink/web/exports.py, paylink/exports/)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from local.queues import QueuePoller
from local.template import create_queues, load_template, queue_sources
from paylink.web.api_schema import ExportJob
from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import ApiClient, reset_caches
from tests.settlement_data import add_paid_payment

BUCKET = "paylink-test-exports"


@pytest.fixture
def worker(aws, monkeypatch) -> QueuePoller:  # type: ignore[no-untyped-def]
    """The export bucket and queue, an inline limit of 2,000 bytes (about ten rows), and the export
    worker's event source (one poll: one batch) invoking its handler in-process."""
    from functions.export.app import worker_handler
    from local.run import LambdaContext
    from local.template import functions

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    sqs = boto3.client("sqs", region_name="us-east-1")
    template = load_template()
    # A failed message comes back at once (the template's visibility timeout is half an hour).
    refs = create_queues(sqs, template, prefix="test", visibility_timeout=0)
    monkeypatch.setenv("EXPORT_BUCKET", BUCKET)
    monkeypatch.setenv("EXPORT_QUEUE_URL", refs["ExportQueue"])
    monkeypatch.setenv("PAYLINK_CSV_INLINE_MAX_BYTES", "2000")
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    reset_caches()
    source = next(s for s in queue_sources(template) if s.function_id == "ExportFunction")
    context = LambdaContext(functions(template)["ExportFunction"])
    return QueuePoller(
        sqs,
        source,
        refs["ExportQueue"],
        refs["ExportQueue.Arn"],
        lambda event: worker_handler(event, context),
    )


def _pay(store, merchant, count: int, prefix: str = "pay") -> list[str]:  # type: ignore[no-untyped-def]
    moments = [f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}.000000Z" for n in range(count)]
    return [
        add_paid_payment(store, merchant, f"{prefix}_{n:05d}", 1_000_000 + n, paid_at=moment).id
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


def _exported(api: ApiClient, worker: QueuePoller, target: str = "/v1/payments?format=csv") -> dict[str, Any]:
    """Ask for an export that becomes a job, let the worker run it, and read the job back."""
    started = api.get(target, key=TEST_API_KEY)
    assert started.status == 202, started.text
    assert worker.poll_once() == 1
    done = api.get(started.location, key=TEST_API_KEY)
    assert done.status == 200, done.text
    job: dict[str, Any] = done.json()
    return job


def _objects(merchant_id: str) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET, Prefix="exports/")
    return [o["Key"] for o in listed.get("Contents", []) if o["Key"].startswith(f"exports/{merchant_id}/")]


def test_a_small_export_stays_inline(api, store, merchant, worker):
    ids = _pay(store, merchant, 3)
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="payments.csv"'
    assert sorted(_ids(answer.text)) == ids


def test_an_export_past_the_inline_limit_answers_202_with_a_pending_job_and_its_location(
    api, store, merchant, worker
):
    # Given more payments than fit the inline limit
    _pay(store, merchant, 60)
    # When the merchant exports them
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    # Then the answer is 202 with a pending export job, and where to read it
    assert answer.status == 202, answer.text
    job = answer.json()
    assert job["status"] == "pending"
    assert set(job) == {"id", "status", "rows", "bytes", "created_at"}
    ExportJob.model_validate(job)  # as the OpenAPI document declares it
    assert answer.location == f"/v1/exports/{job['id']}"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_worker_writes_the_job_and_its_status_hands_over_a_fresh_short_lived_link(
    api, store, merchant, worker
):
    # Given an export job of 60 payments
    ids = _pay(store, merchant, 60)
    # When the worker has run it and the merchant reads the job
    job = _exported(api, worker)
    # Then it is done with every payment, behind a link signed for five minutes only
    assert job["status"] == "done"
    ExportJob.model_validate(job)
    assert job["rows"] == 60
    text, query = _stored(job["url"])
    assert sorted(_ids(text)) == ids
    assert len(text.encode()) == job["bytes"] > 2000
    assert query["X-Amz-Expires"] == ["300"]
    assert "attachment" in query["response-content-disposition"][0]
    assert _key(job["url"]) == f"exports/{merchant.id}/{job['id']}/payments.csv"


@pytest.mark.parametrize(
    ("target", "header"),
    [("/v1/settlements?format=csv", "id,date,status"), ("{settlement}", "id,created_at")],
)
def test_settlements_and_a_settlements_payments_take_the_same_way(
    api, store, merchant, worker, monkeypatch, target, header
):
    from paylink.settlement.daily import settle_day
    from paylink.settlement.payouts import SandboxPayout
    from tests.integration.test_merchant_isolation import DAYS

    monkeypatch.setenv("PAYLINK_CSV_INLINE_MAX_BYTES", "100")  # the header alone is more
    reset_caches()
    add_paid_payment(store, merchant, "pay_stl_001", 1_000_000, paid_at=DAYS[0][0])
    settle_day(store, DAYS[0][1], tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))
    settlement = api.get("/v1/settlements", key=TEST_API_KEY).json()["items"][0]["id"]
    job = _exported(api, worker, target.format(settlement=f"/v1/settlements/{settlement}?format=csv"))
    assert job["status"] == "done", job
    text, _ = _stored(job["url"])
    assert text.startswith(header)
    assert job["rows"] == 1


def test_the_worker_streams_pages_of_a_thousand_into_a_multipart_upload(
    api, store, merchant, worker, monkeypatch
):
    import moto.s3.models

    from paylink.exports import upload
    from paylink.store import get_store

    # Given parts of 3,000 bytes (S3's 5 MiB minimum lowered alike in moto) and 120 payments
    monkeypatch.setattr(upload, "PART_BYTES", 3_000)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    ids = _pay(store, merchant, 120)
    started = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    calls: list[dict[str, Any]] = []
    get_store().client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: calls.append(params)
    )
    # When the worker runs the job
    assert worker.poll_once() == 1
    job = api.get(started.location, key=TEST_API_KEY).json()
    # Then one query of a thousand read them all, and the document is whole, sent in several parts
    assert [c["Limit"] for c in calls] == [1000]
    text, _ = _stored(job["url"])
    assert sorted(_ids(text)) == ids
    head = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=BUCKET, Key=_key(job["url"]), PartNumber=1
    )
    assert int(head["PartsCount"]) >= 4


def test_a_retry_after_a_crash_mid_upload_writes_one_whole_object_and_leaves_no_upload(
    api, store, merchant, worker, monkeypatch
):
    import moto.s3.models

    from paylink.exports import upload

    monkeypatch.setattr(upload, "PART_BYTES", 3_000)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    ids = _pay(store, merchant, 120)
    started = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    # Given a worker killed (a timeout: no chance to abort) after its second part
    real_part = upload.MultipartObject.part
    with monkeypatch.context() as crash:

        def dies_after_two(self: Any, data: bytes) -> None:
            if len(self.parts) == 2:
                raise TimeoutError("Task timed out")
            real_part(self, data)

        crash.setattr(upload.MultipartObject, "part", dies_after_two)
        crash.setattr(upload.MultipartObject, "abort", lambda self: None)
        assert worker.poll_once() == 1
    s3 = boto3.client("s3", region_name="us-east-1")
    assert len(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])) == 1
    assert api.get(started.location, key=TEST_API_KEY).json()["status"] == "running"
    # When SQS delivers the message again
    assert worker.poll_once() == 1
    # Then the job is done: one object, every payment once, and the dead attempt's upload is gone
    job = api.get(started.location, key=TEST_API_KEY).json()
    assert job["status"] == "done"
    assert _objects(merchant.id) == [_key(job["url"])]
    text, _ = _stored(job["url"])
    assert sorted(_ids(text)) == ids
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert worker.pending() == 0


def test_a_job_already_done_is_not_redone(api, store, merchant, worker):
    from paylink.exports.jobs import run_job

    _pay(store, merchant, 60)
    job = _exported(api, worker)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.delete_object(Bucket=BUCKET, Key=_key(job["url"]))
    # When its message is delivered again
    again = run_job(store, job["id"])
    # Then nothing is written: the job stays done as it was
    assert again is not None
    assert again.status == "done"
    assert _objects(merchant.id) == []


def test_the_last_failed_attempt_marks_the_job_failed_and_reports_its_message(
    api, store, merchant, worker, monkeypatch
):
    from paylink.exports import jobs

    _pay(store, merchant, 60)
    started = api.get("/v1/payments?format=csv", key=TEST_API_KEY)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("S3 is down")

    monkeypatch.setattr(jobs, "_write", broken)
    # When every attempt fails (the queue's maxReceiveCount of them)
    for _ in range(jobs.MAX_ATTEMPTS):
        assert worker.poll_once() == 1
    # Then the merchant reads it failed, with a reason, and the message went to the dead-letter queue
    job = api.get(started.location, key=TEST_API_KEY).json()
    assert job["status"] == "failed"
    assert "ask again" in job["error"]
    ExportJob.model_validate(job)
    # (SQS moves it at the receive after the last)
    assert worker.poll_once() == 0
    sqs = boto3.client("sqs", region_name="us-east-1")
    dead = sqs.get_queue_url(QueueName="test-ExportDeadLetterQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_more_rows_than_an_export_holds_fail_the_job_with_a_reason(api, store, merchant, worker, monkeypatch):
    from paylink.exports import jobs

    monkeypatch.setattr(jobs, "MAX_ROWS", 50)
    _pay(store, merchant, 60)
    job = _exported(api, worker)
    assert job["status"] == "failed"
    assert "narrow it with from and to" in job["error"]
    assert _objects(merchant.id) == []


def test_another_merchants_export_answers_404_exactly_like_a_missing_one(
    api, store, merchant, other_merchant, worker
):
    _pay(store, merchant, 60)
    job = _exported(api, worker)
    foreign = api.get(f"/v1/exports/{job['id']}", key=OTHER_API_KEY)
    missing = api.get("/v1/exports/exp_" + "Z" * 22, key=OTHER_API_KEY)
    assert foreign.status == missing.status == 404
    assert (foreign.body, foreign.headers["Content-Type"]) == (missing.body, missing.headers["Content-Type"])
    assert job["id"] not in foreign.text


@pytest.mark.parametrize("export_id", ["exp_" + "a" * 3000, "exp_a-b%20c", "pay_" + "Z" * 22, "EXPORT"])
def test_an_export_id_that_is_no_job_id_is_a_404_not_a_500(api, store, merchant, worker, export_id):
    answer = api.get(f"/v1/exports/{export_id}", key=TEST_API_KEY)
    assert answer.status == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found"


def test_an_export_job_expires_after_a_day(api, store, merchant, worker, monkeypatch):
    from paylink.exports import jobs

    _pay(store, merchant, 60)
    job = _exported(api, worker)
    later = jobs.utcnow() + timedelta(seconds=jobs.JOB_TTL_SECONDS + 1)
    monkeypatch.setattr(jobs, "utcnow", lambda: later)
    # Then the next day it answers like a missing one (its object is gone with the bucket's expiry)
    assert api.get(f"/v1/exports/{job['id']}", key=TEST_API_KEY).status == 404


def test_the_same_export_asked_twice_within_a_minute_is_one_job(api, store, merchant, worker):
    _pay(store, merchant, 60)
    first = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    second = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    other = api.get("/v1/payments?format=csv&status=paid", key=TEST_API_KEY)
    assert first.location == second.location != other.location
    assert worker.poll_once() + worker.poll_once() + worker.poll_once() == 2


def test_an_export_out_of_time_for_its_inline_answer_becomes_a_job(store, merchant, worker):
    from paylink.web import merchant_api

    _pay(store, merchant, 3)
    answer = merchant_api.list_payments(merchant, {"format": "csv"}, seconds_left=0.0)
    assert answer.status_code == 202


def test_a_filter_matching_nothing_for_page_after_page_still_gives_way_to_a_job_in_time(
    store, merchant, worker, monkeypatch
):
    import paylink.exports.rows as rows
    import paylink.store.table as table
    from paylink.web import merchant_api

    # Given many pages of payments none of which a filter matches (pages of 2, 2 keys a page)
    monkeypatch.setattr(rows, "EXPORT_PAGE_SIZE", 2)
    monkeypatch.setattr(table, "FILTERED_INDEX_PAGE", 2)
    monkeypatch.setattr(table, "FILTER_SCAN_KEYS", 2)
    _pay(store, merchant, 7)
    # When the inline answer is already out of time
    answer = merchant_api.list_payments(merchant, {"format": "csv", "status": "refunded"}, seconds_left=0.0)
    # Then it becomes a job after the first page instead of reading every page (no row came to check)
    assert answer.status_code == 202
    # And with time enough the same export answers inline: only the header
    inline = merchant_api.list_payments(merchant, {"format": "csv", "status": "refunded"}, seconds_left=30.0)
    assert inline.status_code == 200
    assert _ids(str(inline.body)) == []


def test_without_export_jobs_a_large_export_is_a_clear_422_not_a_500(
    api, store, merchant, worker, monkeypatch
):
    monkeypatch.delenv("EXPORT_QUEUE_URL")
    reset_caches()
    _pay(store, merchant, 60)
    answer = api.get("/v1/payments?format=csv", key=TEST_API_KEY)
    assert answer.status == 422
    assert answer.json()["error"]["code"] == "export_too_large"
