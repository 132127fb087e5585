"""schemathesis against the local runner: every generated request answered as /v1/openapi.json says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Per operation, in positive and negative mode: ~30 s for the 15 operations on 2 cores (moto is slow).
MAX_EXAMPLES = 30
SEED = 20261201  # the same cases on every run, so a failure is reproduced by running it again


def _merchant_with_a_settled_payment(runner: Runner) -> str:
    """A merchant whose lists are not empty: a link, its paid and settled payment, a coupon."""
    key = runner.create_merchant("e2e_schema", gateways="sandbox-a")
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=15, follow_redirects=False) as http:
        created = http.post(f"{runner.url}/v1/links", json={"title": "Mug", "amount": 250_000}, headers=auth)
        code = created.json()["code"]
        started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09121234567"})
        back = act(http, open_gateway(http, started), "pay")
        assert back is not None
        back.deliver(http)
        day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
        http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day})
        http.post(
            f"{runner.url}/v1/coupons", json={"code": "WELCOME", "kind": "percent", "value": 10}, headers=auth
        )
        settlements = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"]
    assert [s["payment_count"] for s in settlements] == [1]
    return key


def _schemathesis(runner: Runner, key: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCHEMATHESIS), "run", f"{runner.url}/v1/openapi.json",
         "--checks", ",".join(CHECKS),
         "--header", f"Authorization: Bearer {key}",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
         "--phases", "examples,coverage,fuzzing",
         "--workers", "1", "--generation-database", "none", "--no-color"],
        cwd=workdir, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_every_generated_request_is_answered_as_the_openapi_document_says(runner: Runner, tmp_path: Path):
    # Given a merchant with a link, a paid and settled payment and a coupon
    key = _merchant_with_a_settled_payment(runner)
    # When schemathesis sends generated requests (valid and invalid) to every operation of the document
    done = _schemathesis(runner, key, tmp_path)  # its crash cache stays out of the repo
    # Then no answer is a 5xx, and each has a documented status, content type, headers and body
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    # And every operation was tested
    document = httpx.get(f"{runner.url}/v1/openapi.json").json()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert operations >= 15
    assert f"Tested: {operations}" in done.stdout, done.stdout[-5_000:]


def test_openapi_document_is_public_json_and_cacheable(runner: Runner):
    # When the document is asked for without an API key
    answer = httpx.get(f"{runner.url}/v1/openapi.json")
    # Then it is the merchant API's OpenAPI 3.1 document, which a cache may keep
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"].startswith("public")
    body = json.loads(answer.text)
    assert body["openapi"].startswith("3.1")
    assert "/v1/links" in body["paths"]
