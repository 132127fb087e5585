"""End to end, a stack deployed with the template's defaults: no email sender, big exports as jobs."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import DEMO_KEY, Runner, start_runner

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """A runner without an email sender whose exports are jobs past 100 bytes (a CSV header is more)."""
    folder = tmp_path_factory.mktemp("bare")
    with start_runner(folder, PAYLINK_EMAIL_SENDER="", PAYLINK_CSV_INLINE_MAX_BYTES="100") as running:
        yield running


def test_sending_an_invoice_by_email_without_a_sender_is_a_400_naming_email(bare: Runner):
    with httpx.Client(timeout=30) as http:
        body = {"title": "Design", "kind": "invoice", "amount": 4_500_000,
                "payer": {"name": "Sara", "phone": "09121234567", "email": "sara@example.com"}}  # fmt: skip
        created = http.post(f"{bare.url}/v1/links", json=body, headers=AUTH)
        assert created.status_code == 201, created.text
        answer = http.post(
            f"{bare.url}/v1/links/{created.json()['code']}/send", json={"via": ["email"]}, headers=AUTH
        )
    assert answer.status_code == 400, answer.text
    assert "email is not offered" in answer.json()["error"]["fields"]["via"]


@pytest.mark.parametrize(("path", "first_column"), [("/v1/payments", "id"), ("/v1/settlements", "id")])
def test_a_large_export_is_a_job_the_worker_writes_and_a_link_that_serves_the_csv(
    bare: Runner, path: str, first_column: str
):
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        # When the merchant exports past the inline limit
        answer = http.get(f"{bare.url}{path}?format=csv", headers=AUTH)
        # Then the answer is 202 with an export job, not a CSV body
        assert answer.status_code == 202, answer.text
        location = answer.headers["location"]
        assert location == f"/v1/exports/{answer.json()['id']}"
        # and the runner's ExportFunction (fed by ExportQueue) makes it done
        deadline = time.monotonic() + 30
        job = answer.json()
        while job["status"] in ("pending", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = http.get(f"{bare.url}{location}", headers=AUTH).json()
        assert job["status"] == "done", job
        # and its link serves the CSV document, without the API key
        document = http.get(job["url"])
    assert document.status_code == 200, document.text
    assert document.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(document.text)))
    assert header[0] == first_column
    assert len(document.content) == job["bytes"]
