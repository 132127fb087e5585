"""Every handler runs from the built artifact in a bare interpreter, as Lambda would run it.

The interpreter is a fresh Python 3.13 venv holding only the boto3 the Lambda python3.13 runtime
ships (Makefile LAMBDA_BOTO3); PYTHONPATH is the function's folder and the built layer (`make
bare-artifact`: the arm64 layer's recipe, built for this machine's x86_64), nothing else; the
environment is the function's own from template.yaml. moto (DynamoDB, SQS, SSM, SES) and a
sandbox gateway run in this test's process. An import the layer lacks, a layer that shadows the
runtime's botocore, or a setting the template does not give a function fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.queues import sqs_event
from local.run import function_environment, http_event, put_secrets
from local.template import (
    ROOT,
    conditions,
    create_queues,
    create_tables,
    functions,
    load_template,
    parameter_defaults,
)

BARE = ROOT / ".aws-sam" / "bare"
LAYER = BARE / "layer" / "python"
PYTHON = BARE / "venv" / "bin" / "python"
REGION = "us-east-1"
API_KEY = "plk_bare_artifact_key"
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")

# Runs in the bare interpreter: imports the handler as Lambda does (`app.<handler>` from the
# function's folder) and prints its answer with where botocore came from.
INVOKE = """
import importlib, json, sys
spec = json.loads(sys.stdin.read())

class Context:
    function_name = spec["function"]
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + spec["function"]
    aws_request_id = "bare-artifact"
    log_group_name = "/aws/lambda/" + spec["function"]
    log_stream_name = "bare"
    def get_remaining_time_in_millis(self):
        return 30000

handler = getattr(importlib.import_module("app"), spec["handler"])
result = handler(spec["event"], Context())
import boto3, botocore
print(json.dumps({"result": result, "botocore": botocore.__file__, "boto3": boto3.__version__}, default=str))
"""


@dataclass
class Stack:
    refs: dict[str, str]
    plumbing: dict[str, str]
    code: str
    merchant_id: str


@pytest.fixture(scope="module")
def built() -> None:
    """The bare artifact, built once (make stamps it; a rebuild follows requirement changes)."""
    subprocess.run(["make", "--no-print-directory", "bare-artifact"], cwd=ROOT, check=True, timeout=600)


@pytest.fixture(scope="module")
def stack(built: None) -> Iterator[Stack]:
    from local.dynamodb import AtomicMotoServer
    from local.run import free_port
    from local.sandbox import Sandbox

    port = free_port()
    moto = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    sandbox = Sandbox(instances={"a": "zibal"}, port=0)
    sandbox.start()
    saved = dict(os.environ)
    try:
        os.environ.update(
            {"AWS_ACCESS_KEY_ID": "bare", "AWS_SECRET_ACCESS_KEY": "bare", "AWS_DEFAULT_REGION": REGION}
        )
        template = load_template()
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        tables = create_tables(client, template, prefix="bare")
        queues = create_queues(
            boto3.client("sqs", endpoint_url=endpoint, region_name=REGION), template, "bare"
        )
        ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
        credentials = {"sandbox-a": {"merchant_id": sandbox.merchant}}
        names = put_secrets(ssm, {"GatewayCredentialsParameter": json.dumps(credentials)}, stage="bare")
        boto3.client("ses", endpoint_url=endpoint, region_name=REGION).verify_email_identity(
            EmailAddress="invoices@paylink.example"
        )
        gateways = [{"name": "sandbox-a", "protocol": "zibal", "base_url": f"{sandbox.url}/a"}]
        refs = {
            **parameter_defaults(template),
            **tables,
            **queues,
            **names,
            "PublicBaseUrl": "https://pay.example",
            "GatewaysConfig": json.dumps(gateways),
            "EmailSender": "invoices@paylink.example",
            # prod-payout's explicit choices (no defaults): a test stage may pay out via the sandbox.
            "PayoutProvider": "sandbox",
            "Stage": "test",
            "ExportBucket": "bare-exports",
            "ExportBucket.Arn": "arn:aws:s3:::bare-exports",
            "ArchiveBucket": "bare-archive",
            "ArchiveBucket.Arn": "arn:aws:s3:::bare-archive",
            "HttpApi": "bare",
            "AWS::Region": REGION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        refs.update(conditions(template, refs))
        plumbing = {
            "AWS_ACCESS_KEY_ID": "bare",
            "AWS_SECRET_ACCESS_KEY": "bare",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "DYNAMODB_ENDPOINT_URL": endpoint,
            "SQS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_SSM": endpoint,
            "PAYLINK_NOTIFY_ENDPOINT_URL": endpoint,
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        code, merchant_id = _seed(endpoint, tables["PaylinkTable"])
        yield Stack(refs, plumbing, code, merchant_id)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sandbox.stop()
        moto.stop()


def _seed(endpoint: str, table: str) -> tuple[str, str]:
    """A merchant and a link, written by the layer's own code from this process."""
    from paylink.core.models import LinkCreate
    from paylink.merchants.accounts import create_merchant
    from paylink.merchants.links import create_link
    from paylink.store import Store

    client = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION).meta.client
    store = Store(table, client)
    merchant, _ = create_merchant(
        store, username="bare", name="Bare Shop", iban="IR062960000000100324200001", api_key=API_KEY
    )
    link = create_link(store, merchant, LinkCreate(title="Scarf", amount=1_200_000))
    return link.code, merchant.id


def invoke(stack: Stack, function_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """One cold invocation of a template function in the bare interpreter; its printed answer."""
    function = functions(load_template())[function_id]
    folder = ROOT / Path(*function.module.split(".")[:-1])
    env = {
        **function_environment(function, stack.refs, stack.plumbing),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{folder}{os.pathsep}{LAYER}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    spec = {"function": function_id, "handler": function.handler, "event": event}
    done = subprocess.run(
        [str(PYTHON), "-c", INVOKE],
        input=json.dumps(spec),
        cwd=BARE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The runtime's botocore, never a copy in the layer
    assert "/venv/" in answer["botocore"], answer["botocore"]
    return answer["result"]  # type: ignore[no-any-return]


def _http(method: str, path: str, params: dict[str, str], route: str, **extra: Any) -> dict[str, Any]:
    headers = {"host": "pay.example", **extra.get("headers", {})}
    event = http_event(method, path, headers, extra.get("body", b""), None, params, "198.51.100.7")
    event["routeKey"] = event["requestContext"]["routeKey"] = route
    return event


def _scheduled() -> dict[str, Any]:
    return {"scheduled_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_the_built_layer_carries_no_runtime_sdk(built):  # type: ignore[no-untyped-def]
    # Given the layer as built, Then boto3, botocore and their companions are the runtime's alone
    assert (LAYER / "paylink" / "__init__.py").is_file()
    assert [name for name in RUNTIME_SDK if (LAYER / name).exists()] == []


def test_the_merchant_api_creates_a_link(stack):  # type: ignore[no-untyped-def]
    event = _http(
        "POST",
        "/v1/links",
        {},
        "POST /v1/links",
        headers={"authorization": f"Bearer {API_KEY}", "content-type": "application/json"},
        body=json.dumps({"title": "Scarf", "amount": 1_200_000}).encode(),
    )
    assert invoke(stack, "CreateLinkFunction", event)["statusCode"] == 201


def test_the_link_page_is_served(stack):  # type: ignore[no-untyped-def]
    event = _http("GET", f"/{stack.code}", {"code": stack.code}, "GET /{code}")
    assert invoke(stack, "CheckoutFunction", event)["statusCode"] == 200


def test_a_payment_starts_at_the_gateway_with_credentials_from_ssm(stack):  # type: ignore[no-untyped-def]
    event = _http(
        "POST",
        f"/{stack.code}",
        {"code": stack.code},
        "POST /{code}",
        headers={"content-type": "application/x-www-form-urlencoded", "origin": "https://pay.example"},
        body=b"name=Ali&phone=09121234567",
    )
    answer = invoke(stack, "CheckoutFunction", event)
    assert answer["statusCode"] == 303, answer.get("body")


def test_an_unknown_receipt_is_a_404(stack):  # type: ignore[no-untyped-def]
    event = _http("GET", "/r/nothing", {"payment_id": "nothing"}, "GET /r/{payment_id}")
    assert invoke(stack, "CallbackFunction", event)["statusCode"] == 404


@pytest.mark.parametrize("function_id", ["ReconcileFunction", "ProbeFunction", "RemindFunction"])
def test_a_scheduled_function_runs(stack, function_id):  # type: ignore[no-untyped-def]
    assert isinstance(invoke(stack, function_id, _scheduled()), dict | type(None))


def test_the_daily_settlement_runs(stack):  # type: ignore[no-untyped-def]
    assert isinstance(invoke(stack, "SettleFunction", {"date": "2026-11-22"}), dict)


def _batch(body: str) -> dict[str, Any]:
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}
    return sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:q", REGION)


def test_the_settle_worker_settles_a_queued_merchant(stack):  # type: ignore[no-untyped-def]
    body = json.dumps({"merchant_id": stack.merchant_id, "date": "2026-11-22"})
    assert invoke(stack, "SettleWorkerFunction", _batch(body)) == {"batchItemFailures": []}


def test_the_notify_worker_answers_for_a_message_naming_nothing(stack):  # type: ignore[no-untyped-def]
    assert set(invoke(stack, "NotifyWorkerFunction", _batch("{}"))) == {"batchItemFailures"}


def test_the_export_worker_leaves_a_job_that_is_gone(stack):  # type: ignore[no-untyped-def]
    body = json.dumps({"id": "exp_" + "Z" * 22})
    assert invoke(stack, "ExportFunction", _batch(body)) == {"batchItemFailures": []}
