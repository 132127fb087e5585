"""DynamoDB calls, capacity and AWS cost of each buyer and back-office flow, per paid payment.

The real handlers run in-process on the API Gateway (HTTP API v2) and SQS events template.yaml
routes to them, against moto DynamoDB and SQS (in-process) and the sandbox gateway over HTTP:

  click     GET /{code}                      the hosted page (one read, no write, no gateway)
  checkout  POST /{code} -> 303              reserve, ask the gateway, redirect
  callback  GET /callback/{gw} -> 303        the buyer's return: verify, mark paid, queue the event
  receipt   GET /r/{id}                      the page the callback redirects to
  notify    NotifyWorkerFunction             the paid event delivered as a webhook (SQS batch of 1)
  unpaid    GET /callback/{gw}, GET /r/{id}, NotifyWorkerFunction
                                             a checkout the buyer cancels at the gateway, from its
                                             return on: cancelled, its failure page, its webhook
  settle    SettleFunction + worker          per payment: a merchant's day settled through the queue
  reconcile ReconcileFunction                every 5 minutes; a paid payment gives it nothing to do
  probe     ProbeFunction                    every minute; gateway health (not per payment)

For every DynamoDB call it records the operation, the items read and written, and the request
units DynamoDB would bill, computed from the real item sizes (moto's own ConsumedCapacity is a
constant and is printed beside them only for comparison). A handler's duration is the CPU time of
the thread that runs it (moto's work stays in, the wait on the gateway does not: --gateway-ms adds
it). It then prices 1 million paid payments with the public us-east-1 prices listed in PRICES and
the assumptions given by the flags.

    .venv/bin/python bench/flows.py            # figures and the cost table
    .venv/bin/python bench/flows.py --check    # exit 1 when a call-count limit is broken
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import importlib
import json
import math
import os
import platform
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: bench/click.py would stand in for the `click` package httpx imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]

KB = 1024
GB = 1024**3
HOOK_URL = "https://merchant.example/paylink-hook"
HOOK_ADDRESS = "93.184.215.14"  # a public address for the webhook's host (nothing connects to it)
BUYER = {"name": "Ali", "phone": "09121234567"}
API_KEY = "plk_bench_flows_key"
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
# Lambda's own START, END and REPORT lines per invocation (about 350 bytes together), sent unless
# the function's LoggingConfig says JSON with a SystemLogLevel above INFO (System.platform_log_bytes).
PLATFORM_LOG_BYTES = 350
# Lambda samples traced invocations with a fixed rule no sampling rule changes: the first each
# second (the reservoir), then 5% (docs: "Using AWS Lambda with AWS X-Ray").
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05
# Per-item storage overhead DynamoDB bills (docs: "DynamoDB item sizes and formats").
ITEM_OVERHEAD_BYTES = 100
YEAR_SECONDS = 365 * 86_400
ARCHIVE_BUCKET = "bench-archive"
# The goal of issue 18: what 1 million paid payments may cost at most (bench/flows.py --check).
COST_LIMIT_USD = 35.0
# Since 1 Aug 2025 Lambda bills the INIT phase of ZIP functions on managed runtimes too; AWS's own
# analysis: "INITs (cold starts) typically occur in under 1% of invocations" (AWS Compute Blog,
# "AWS Lambda standardizes billing for INIT phase"). Lambda gives a function one vCPU at 1,769 MB
# and a share in proportion below it, so an init measured here on a full core takes 1769/MB longer.
COLD_SHARE = 0.01
ONE_VCPU_MB = 1769
MEASURED_AS_MB = 512  # the memory size this machine's warm CPU figures stand for (cpu_scale)
UNPAID_RUNS = 4  # checkouts measured to their cancelled end


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


AS_OF = "as of 2026-11-23"
PRICES = {
    "rru": Price(
        0.125 / 1e6,
        "per read request unit ($0.125 per million, after the 1 Nov 2024 cut)",
        f"aws.amazon.com/dynamodb/pricing/on-demand {AS_OF}; confirmed in airbyte.com's 2025 pricing guide",
    ),
    "wru": Price(
        0.625 / 1e6,
        "per write request unit ($0.625 per million, after the 1 Nov 2024 cut)",
        f"aws.amazon.com/dynamodb/pricing/on-demand {AS_OF}; confirmed in airbyte.com's 2025 pricing guide",
    ),
    "storage": Price(
        0.25,
        "per GB-month of table storage (first 25 GB free, ignored here)",
        f"aws.amazon.com/dynamodb/pricing {AS_OF} (confirmed on that page)",
    ),
    # "DynamoDB charges for PITR based on the size of each DynamoDB table, including table data and
    # local secondary indexes" (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    # PointInTimeRecovery_Howitworks.html): global secondary indexes are not in it, so index entries
    # pay storage alone (storage_usd).
    "pitr": Price(
        0.20,
        "per GB-month of point-in-time recovery of the items, not their GSI entries (on in template.yaml)",
        f"aws.amazon.com/dynamodb/pricing/on-demand {AS_OF} (not re-confirmed)",
    ),
    "lambda_request": Price(
        0.20 / 1e6,
        "per Lambda request ($0.20 per million)",
        f"aws.amazon.com/lambda/pricing {AS_OF}; confirmed in cloudchipr.com's guide",
    ),
    "lambda_gbs": Price(
        0.0000133334,
        "per GB-second, arm64, first 7.5 billion GB-s a month",
        f"aws.amazon.com/lambda/pricing {AS_OF}; confirmed in cloudchipr.com's guide",
    ),
    "http_api": Price(
        1.00 / 1e6,
        "per HTTP API request ($1.00 per million, first 300 million)",
        f"aws.amazon.com/api-gateway/pricing {AS_OF}; confirmed in awsforengineers.com (2025)",
    ),
    "sqs": Price(
        0.40 / 1e6,
        "per SQS standard request, 64 KB chunks ($0.40 per million)",
        f"aws.amazon.com/sqs/pricing {AS_OF}; confirmed in cloudburn.io (Mar 2026)",
    ),
    "logs": Price(
        0.50 / GB,
        "per byte of CloudWatch Logs ingestion ($0.50 per GB, first Lambda tier)",
        f"aws.amazon.com/cloudwatch/pricing {AS_OF}; confirmed in duckbillgroup.com (May 2025 tiers)",
    ),
    "xray": Price(
        5.00 / 1e6,
        "per X-Ray trace recorded ($5.00 per million, 100,000 a month free)",
        f"aws.amazon.com/xray/pricing {AS_OF} (confirmed on that page)",
    ),
    "s3_storage": Price(
        0.023 / GB,
        "per byte-month of S3 Standard (the payment archive; $0.023 per GB-month, first 50 TB)",
        f"aws.amazon.com/s3/pricing {AS_OF} (not re-confirmed)",
    ),
    "s3_put": Price(
        0.005 / 1000,
        "per S3 PUT, COPY, POST or LIST request ($0.005 per 1,000)",
        f"aws.amazon.com/s3/pricing {AS_OF} (not re-confirmed)",
    ),
    "s3_get": Price(
        0.0004 / 1000,
        "per S3 GET or other read request ($0.0004 per 1,000)",
        f"aws.amazon.com/s3/pricing {AS_OF} (not re-confirmed)",
    ),
    "scheduler": Price(
        1.00 / 1e6,
        "per EventBridge Scheduler invocation (14 million a month free)",
        f"aws.amazon.com/eventbridge/pricing {AS_OF}; confirmed in cloudburn.io (Mar 2026)",
    ),
}


# ---- item sizes and request units (DynamoDB's published rules) ----------------------------------


_real_getaddrinfo = socket.getaddrinfo


def _resolve_hook_host(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    """getaddrinfo that answers the webhook's host with a public address, anything else as before."""
    if host == "merchant.example":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (HOOK_ADDRESS, int(port or 0)))]
    return _real_getaddrinfo(host, port, *args, **kwargs)


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return 1 + math.ceil(len(digits) / 2)


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire format ({"S": ...}, {"N": ...}, ...)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(_number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in raw)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of an item: its attribute names plus values."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(sizes: list[int], *, consistent: bool, per_item: bool = True) -> float:
    """Read request units: 4 KB steps (per item for Get/BatchGet, of the total for Query)."""
    steps = (
        sum(math.ceil(max(s, 1) / (4 * KB)) for s in sizes) if per_item else math.ceil(sum(sizes) / (4 * KB))
    )
    return steps * (1.0 if consistent else 0.5)


def write_units(size: int) -> int:
    return math.ceil(max(size, 1) / KB)


@dataclass(frozen=True)
class Index:
    """A GSI as template.yaml declares it: its keys and what it projects."""

    pk: str
    sk: str
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...] = ()

    def entry(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item's entry in this index (the attributes it projects), None when not in it."""
        if not item or self.pk not in item or self.sk not in item:
            return None
        if self.projection == "ALL":
            return item
        kept = {"pk", "sk", self.pk, self.sk, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}

    @classmethod
    def from_template(cls, gsi: dict[str, Any]) -> Index:
        projection = gsi.get("Projection", {})
        return cls(
            gsi["KeySchema"][0]["AttributeName"],
            gsi["KeySchema"][1]["AttributeName"],
            projection.get("ProjectionType", "ALL"),
            tuple(projection.get("NonKeyAttributes", ())),
        )


@dataclass
class Call:
    operation: str
    items_read: int = 0
    items_written: int = 0
    rru: float = 0.0
    wru: float = 0.0
    index_writes: int = 0
    moto_capacity: float = 0.0


class DynamoMeter:
    """Counts every call a boto3 DynamoDB client sends, and what DynamoDB would bill for it.

    Item sizes before and after each write are read with a separate, uncounted client; each GSI
    the item enters or leaves, or whose entry changes (its keys, or an attribute it projects, as
    template.yaml declares it), costs a write of its own.
    """

    def __init__(self, raw_client: Any, indexes: dict[str, Index]) -> None:
        self.raw = raw_client
        self.indexes = indexes
        self.calls: list[Call] = []
        self._before: dict[int, list[tuple[str, dict[str, Any], dict[str, Any] | None, str]]] = {}

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call.dynamodb", self._before_call, unique_id="bench-flows-before")
        events.register("after-call.dynamodb", self._after_call, unique_id="bench-flows-after")

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-call.dynamodb", unique_id="bench-flows-before")
        client.meta.events.unregister("after-call.dynamodb", unique_id="bench-flows-after")

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return found

    @staticmethod
    def _key(item: dict[str, Any]) -> dict[str, Any]:
        return {"pk": item["pk"], "sk": item["sk"]}

    def _targets(self, operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, kind) of every item a write request touches; kind is put/update/delete/check."""
        if operation == "PutItem":
            return [(body["TableName"], self._key(body["Item"]), "put")]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(body["TableName"], body["Key"], operation[:6].lower())]
        targets = []
        if operation == "TransactWriteItems":
            for entry in body["TransactItems"]:
                (kind, op), *_ = entry.items()
                key = self._key(op["Item"]) if kind == "Put" else op["Key"]
                name = {"Put": "put", "Update": "update", "Delete": "delete", "ConditionCheck": "check"}[kind]
                targets.append((op["TableName"], key, name))
        if operation == "BatchWriteItem":
            for table, requests in body["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append((table, self._key(request["PutRequest"]["Item"]), "put"))
                    else:
                        targets.append((table, request["DeleteRequest"]["Key"], "delete"))
        return targets

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"] or b"{}")
        if model.name in READS | WRITES:
            body["ReturnConsumedCapacity"] = "TOTAL"  # moto answers a constant; printed beside ours
            params["body"] = json.dumps(body).encode()
        context["bench_body"] = body
        if model.name in WRITES:
            context["bench_before"] = [
                (table, key, self._current(table, key), kind)
                for table, key, kind in self._targets(model.name, body)
            ]

    def _index_writes(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[int]:
        """Sizes of the index entries a change of one item writes (a moved entry is two writes; an
        entry whose keys and projected attributes stay as they were is not written)."""
        sizes = []
        for index in self.indexes.values():
            old, new = index.entry(before), index.entry(after)
            if old is None and new is None:
                continue
            if (
                old is not None
                and new is not None
                and (old[index.pk], old[index.sk]) == (new[index.pk], new[index.sk])
            ):
                if old != new:
                    sizes.append(item_size(new))
                continue
            if old is not None:
                sizes.append(item_size(old))
            if new is not None:
                sizes.append(item_size(new))
        return sizes

    def _after_call(
        self, http_response: Any, parsed: Any, model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        operation = model.name
        body = context.pop("bench_body", {})
        call = Call(operation)
        answer = json.loads(http_response.content or b"{}") if http_response.status_code < 300 else {}
        moto = answer.get("ConsumedCapacity")
        if isinstance(moto, dict):
            call.moto_capacity = float(moto.get("CapacityUnits", 0))
        elif isinstance(moto, list):
            call.moto_capacity = sum(float(c.get("CapacityUnits", 0)) for c in moto)
        if operation == "GetItem":
            sizes = [item_size(answer.get("Item"))] if answer.get("Item") else [0]
            call.items_read = int(bool(answer.get("Item")))
            call.rru = read_units(sizes, consistent=bool(body.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, items in answer.get("Responses", {}).items():
                consistent = bool(body["RequestItems"][table].get("ConsistentRead"))
                call.items_read += len(items)
                call.rru += read_units([item_size(i) for i in items], consistent=consistent)
        elif operation in ("Query", "Scan"):
            items = answer.get("Items", [])
            call.items_read = len(items)
            call.rru = max(
                0.5,
                read_units(
                    [item_size(i) for i in items], consistent=bool(body.get("ConsistentRead")), per_item=False
                ),
            )
        elif operation == "TransactGetItems":
            items = [r.get("Item") for r in answer.get("Responses", []) if r.get("Item")]
            call.items_read = len(items)
            call.rru = 2 * read_units([item_size(i) for i in items], consistent=True)
        if operation in WRITES:
            factor = 2 if operation == "TransactWriteItems" else 1
            for table, key, before, kind in context.pop("bench_before", []):
                after = self._current(table, key)
                # A write bills the larger of the item before and after; a condition check bills as
                # a transactional write of the item it checks.
                call.wru += factor * write_units(max(item_size(before), item_size(after)))
                if kind == "check" or (before == after and http_response.status_code >= 300):
                    continue
                call.items_written += 1
                for size in self._index_writes(before, after):
                    call.index_writes += 1
                    call.wru += write_units(size)
        self.calls.append(call)


# ---- the system under measurement ---------------------------------------------------------------


@dataclass
class Flow:
    """What one run of a flow cost."""

    name: str
    calls: list[Call] = field(default_factory=list)
    invocations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    log_bytes: int = 0
    http_api_requests: int = 0
    sqs_requests: Counter[str] = field(default_factory=Counter)
    s3_requests: Counter[str] = field(default_factory=Counter)
    gateway_calls: int = 0
    gateway_waits: Counter[str] = field(default_factory=Counter)  # gateway calls by the function making them
    item_bytes: float = 0.0  # kept a year: the items (billed storage and PITR)
    index_bytes: float = 0.0  # and their GSI entries (billed storage only)
    archive_bytes: int = 0
    runs: int = 1
    run_operations: list[list[str]] = field(default_factory=list)  # the calls of each run
    # the calls of each invocation, by route key (or function id when not called through the HTTP API)
    steps: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def stored_bytes(self) -> float:
        return self.item_bytes + self.index_bytes

    @property
    def operations(self) -> list[str]:
        """The calls of its longest run."""
        return max(self.run_operations, key=len, default=[])

    @property
    def most_calls(self) -> int:
        return len(self.operations)

    def total(self, attribute: str) -> float:
        return sum(getattr(c, attribute) for c in self.calls) / self.runs

    def reads(self) -> float:
        return sum(1 for c in self.calls if c.operation in READS) / self.runs

    def writes(self) -> float:
        return sum(1 for c in self.calls if c.operation in WRITES) / self.runs


class StdoutBytes:
    """Counts what the process writes to file descriptor 1 (Powertools logs, EMF metrics, prints)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the bench
        self.saved = -1

    def __enter__(self) -> StdoutBytes:
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(self.file.fileno(), 1)
        return self

    def __exit__(self, *_: object) -> None:
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)

    def size(self) -> int:
        sys.stdout.flush()
        return os.fstat(self.file.fileno()).st_size


def _restore_environment(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


class System:
    """moto (in-process) with the template's table and queues, the sandbox gateway, one merchant."""

    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}
        self.current: Flow | None = None
        self.archived = 0  # payments the archive run took out of the table
        self.archived_settlements = 0  # the settlements (S3 objects) they came from
        self.inits: dict[str, float] = {}  # function id -> its init measured here (measure_inits)

    def __enter__(self) -> System:
        import boto3
        from moto import mock_aws

        from local.run import log_environment
        from local.sandbox import Sandbox
        from local.template import (
            create_queues,
            create_tables,
            dynamodb_tables,
            functions,
            load_template,
            routes,
        )

        self.stack = contextlib.ExitStack()
        saved = dict(os.environ)
        self.stack.callback(_restore_environment, saved)
        self.sandbox = self.stack.enter_context(Sandbox(instances={"a": "zibal"}, port=0, slow_seconds=2.0))
        gateways = [
            {
                "name": "sandbox-a",
                "protocol": "zibal",
                "base_url": f"{self.sandbox.url}/a",
                "merchant_id": self.sandbox.merchant,
                "timeout_seconds": 2.0,
            }
        ]
        self.template = load_template()
        self.functions = functions(self.template)
        self.routes = routes(self.template)
        for function in self.functions.values():  # the template's literal settings (not its !Refs)
            for name, value in function.environment.items():
                if isinstance(value, str | int | float):
                    os.environ[name] = str(value)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "PUBLIC_BASE_URL": "https://pay.example",
                "PAYLINK_GATEWAYS": json.dumps(gateways),
                "PAYLINK_TIMEZONE": "Asia/Tehran",
                "PAYLINK_COUNTRY": "IR",
                "PAYLINK_PAYOUT_PROVIDER": "sandbox",
                "PAYLINK_STAGE": "test",  # sandbox payouts run only in a test stage
                "POWERTOOLS_SERVICE_NAME": "paylink",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            }
        )
        # What Lambda sets from the template's LoggingConfig (the format, the application level).
        logging_config = self.template["Globals"]["Function"].get("LoggingConfig", {})
        os.environ.update(log_environment(logging_config, {"LogLevel": os.environ["POWERTOOLS_LOG_LEVEL"]}))
        for name in ("DYNAMODB_ENDPOINT_URL", "SQS_ENDPOINT_URL", "PAYLINK_TELEGRAM_BOT_TOKEN"):
            os.environ.pop(name, None)
        self.stack.enter_context(mock_aws())
        # The webhook's host resolves to a public address (webhooks go to public addresses only);
        # respx answers the request itself, so nothing leaves the machine.
        self.stack.enter_context(mock.patch("socket.getaddrinfo", _resolve_hook_host))
        client = boto3.client("dynamodb", region_name="us-east-1")
        self.table = create_tables(client, self.template, prefix="bench")["PaylinkTable"]
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=ARCHIVE_BUCKET)
        os.environ["ARCHIVE_BUCKET"] = ARCHIVE_BUCKET
        os.environ.pop("S3_ENDPOINT_URL", None)
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.queues = create_queues(self.sqs, self.template, prefix="bench", visibility_timeout=0)
        os.environ.update(
            {
                "TABLE_NAME": self.table,
                "SETTLE_QUEUE_URL": self.queues["SettleQueue"],
                "NOTIFY_QUEUE_URL": self.queues["NotifyQueue"],
                "NOTIFY_DEAD_LETTER_QUEUE_URL": self.queues["NotifyDeadLetterQueue"],
            }
        )
        self._reset_caches()
        spec = dynamodb_tables(self.template)["PaylinkTable"]
        indexes = {
            gsi["IndexName"]: Index.from_template(gsi) for gsi in spec.get("GlobalSecondaryIndexes", [])
        }
        self.raw = boto3.client("dynamodb", region_name="us-east-1")
        self.meter = DynamoMeter(self.raw, indexes)
        from paylink.notify.queues import sqs_client
        from paylink.store import get_store

        self.store = get_store()
        self.meter.attach(self.store.client)
        self.stack.callback(self.meter.detach, self.store.client)
        # The click path reads with a plain client of its own (paylink.web.click, issue 18).
        from paylink.web import click

        self.meter.attach(click.reader()[0])
        self.stack.callback(self.meter.detach, click.reader()[0])
        for sqs in (sqs_client(), self.sqs):
            sqs.meta.events.register("before-call.sqs", self._count_sqs, unique_id="bench-flows-sqs")
        self._count_gateway_calls()
        from paylink.exports.upload import s3_client

        s3_client().meta.events.register("before-call.s3", self._count_s3, unique_id="bench-flows-s3")
        self.stdout = self.stack.enter_context(StdoutBytes())
        self.stack.callback(self._reset_caches)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    @staticmethod
    def _reset_caches() -> None:
        from paylink.core.settings import get_settings
        from paylink.exports.upload import s3_client
        from paylink.notify.notifications import http_client as webhook_client
        from paylink.notify.queues import sqs_client
        from paylink.payments.routing import adapters, http_client
        from paylink.store import get_store

        for cached in (get_settings, get_store, adapters, http_client, sqs_client, webhook_client, s3_client):
            cached.cache_clear()

    def _count_sqs(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.current is not None:
            body = params.get("body") or b""
            size = len(body) if isinstance(body, bytes) else len(str(body))
            self.current.sqs_requests[model.name] += max(1, math.ceil(size / (64 * KB)))

    def _count_s3(self, model: Any, **_: Any) -> None:
        if self.current is not None:
            self.current.s3_requests[model.name] += 1

    def archive_bytes(self) -> int:
        """Bytes of the archive bucket's objects (what S3 bills for storage)."""
        s3 = __import__("boto3").client("s3", region_name="us-east-1")
        return sum(o["Size"] for o in s3.list_objects_v2(Bucket=ARCHIVE_BUCKET).get("Contents", []))

    def _count_gateway_calls(self) -> None:
        from paylink.payments.routing import http_client

        def count(_: Any) -> None:
            if self.current is not None:
                self.current.gateway_calls += 1

        http_client().event_hooks["request"].append(count)

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[Flow]:
        """Everything done inside is charged to flow `name` (runs add up)."""
        flow = self.flows.setdefault(name, Flow(name))
        if flow.calls or flow.invocations:
            flow.runs += 1
        self.current, first = flow, len(self.meter.calls)
        (items, entries), logged = self.stored_bytes(), self.stdout.size()
        try:
            yield flow
        finally:
            self.current = None
            flow.calls.extend(self.meter.calls[first:])
            flow.run_operations.append([c.operation for c in self.meter.calls[first:]])
            flow.log_bytes += self.stdout.size() - logged
            items_after, entries_after = self.stored_bytes()
            flow.item_bytes += items_after - items
            flow.index_bytes += entries_after - entries

    def stored_bytes(self) -> tuple[float, float]:
        """Billed bytes of the items that stay, and of the index entries they make; an item with a
        ttl counts, with its entries, for the share of the year it stays (the storage line prices a
        year)."""
        items, entries, request = 0.0, 0.0, dict[str, Any](TableName=self.table)
        now = time.time()
        while True:
            page = self.raw.scan(**request)
            for item in page["Items"]:
                share = 1.0
                if "ttl" in item:
                    share = min(max(float(item["ttl"]["N"]) - now, 0.0), YEAR_SECONDS) / YEAR_SECONDS
                items += share * (item_size(item) + ITEM_OVERHEAD_BYTES)
                for index in self.meter.indexes.values():
                    entry = index.entry(item)
                    if entry is not None:
                        entries += share * (item_size(entry) + ITEM_OVERHEAD_BYTES)
            if "LastEvaluatedKey" not in page:
                return items, entries
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def invoke(self, function_id: str, event: dict[str, Any], step: str | None = None) -> Any:
        """Run a handler; a measured flow gets its duration and its calls (as `step`, or the function id).

        The duration is the CPU time of this thread: the handler's own work and moto's (in-process,
        standing in for DynamoDB), not the waits on the sandbox gateway over loopback HTTP, which
        --gateway-ms prices per gateway call instead, nor time off the CPU while other processes run.
        """
        from local.run import LambdaContext

        function = self.functions[function_id]
        handler = getattr(importlib.import_module(function.module), function.handler)
        first = len(self.meter.calls) if self.current is not None else 0
        gateway_calls = self.current.gateway_calls if self.current is not None else 0
        # A full collection of the bench's own heap (all flows' objects, 200-340 ms) falling into
        # one measured invocation is not that handler's cost: none runs while it is measured (one
        # due then runs after it, outside the measure).
        gc.disable()
        try:
            started = time.thread_time()
            result = handler(event, LambdaContext(function))
            spent = time.thread_time() - started
        finally:
            gc.enable()
        if self.current is not None:
            self.current.invocations[function_id].append(spent)
            self.current.gateway_waits[function_id] += self.current.gateway_calls - gateway_calls
            self.current.steps[step or function_id].append([c.operation for c in self.meter.calls[first:]])
        return result

    def http(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        """One request through the HTTP API: (status, headers, body)."""
        from local.run import http_event

        path = urlsplit(target).path
        route = next(r for r in self.routes if r.method == method and r.pattern.match(path))
        match = route.pattern.match(path)
        assert match is not None
        all_headers = {"host": "pay.example", "user-agent": "bench", **(headers or {})}
        event = http_event(method, target, all_headers, body, route, match.groupdict(), "203.0.113.9")
        if self.current is not None:
            self.current.http_api_requests += 1
        result = self.invoke(route.function_id, event, route.route_key)
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return int(result["statusCode"]), dict(result.get("headers") or {}), data

    def drain_queue(self, queue_id: str, function_id: str) -> int:
        """Lambda's SQS event source: receive a batch, invoke, delete what succeeded. Returns batches."""
        from local.queues import sqs_event

        url, arn, batches = self.queues[queue_id], self.queues[f"{queue_id}.Arn"], 0
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                # Lambda's pollers make the empty receives, counted per month in the fixed lines
                # (fixed_monthly), not per payment: this one is not the flow's.
                if self.current is not None:
                    self.current.sqs_requests["ReceiveMessage"] -= 1
                return batches
            batches += 1
            result = self.invoke(function_id, sqs_event(messages, arn, "us-east-1"))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            assert not failed, result
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def memory_mb(self, function_id: str) -> int:
        resource = self.template["Resources"][function_id]["Properties"]
        return int(resource.get("MemorySize") or self.template["Globals"]["Function"].get("MemorySize", 128))

    def traced(self, function_id: str) -> bool:
        """Lambda samples the function's invocations itself (Tracing Active in template.yaml); with
        PassThrough it records only a caller's sampled trace, and the HTTP API sends none."""
        return self.functions[function_id].tracing == "Active"

    def platform_log_bytes(self, function_id: str) -> int:
        """Bytes of Lambda's own lines an invocation: START, END and REPORT are INFO system logs,
        which a JSON-format function with SystemLogLevel WARN does not send."""
        config = self.functions[function_id].logging
        if config.get("LogFormat") == "JSON" and config.get("SystemLogLevel", "INFO") == "WARN":
            return 0
        return PLATFORM_LOG_BYTES


# ---- the flows ----------------------------------------------------------------------------------


def _merchant(system: System, username: str, key: str | None = None) -> str:
    from paylink.merchants.accounts import create_merchant, set_webhook

    _, shown = create_merchant(
        system.store,
        username=username,
        name=f"Shop {username}",
        iban="IR062960000000100324200001",
        api_key=key,
    )
    set_webhook(system.store, username, HOOK_URL)
    return shown


def _link(system: System, key: str) -> str:
    body = json.dumps({"title": "Scarf", "amount": 1_200_000}).encode()
    status, _, data = system.http(
        "POST", "/v1/links", body, {"content-type": "application/json", "authorization": f"Bearer {key}"}
    )
    assert status == 201, data
    return str(json.loads(data)["code"])


def _pay(system: System, code: str, *, measured: bool) -> str:
    """checkout, the buyer at the gateway, callback and receipt; returns the payment id."""
    from tests.helpers import act_at_gateway, local_target

    def step(name: str) -> contextlib.AbstractContextManager[Any]:
        return system.measure(name) if measured else contextlib.nullcontext()

    form = urlencode(BUYER).encode()
    with step("checkout"):
        status, headers, data = system.http(
            "POST", f"/{code}", form, {"content-type": "application/x-www-form-urlencoded"}
        )
    assert status == 303, data
    callback = local_target(act_at_gateway(headers["Location"]))
    with step("callback"):
        status, headers, data = system.http("GET", callback)
    assert status == 303, data
    receipt = local_target(headers["Location"])
    with step("receipt"):
        status, _, data = system.http("GET", receipt)
    assert status == 200, data
    return receipt.rsplit("/", 1)[-1].split("?")[0]


def _unpaid(system: System, code: str, *, measured: bool) -> str:
    """A checkout whose buyer cancels at the gateway; returns the payment id. Measured, only its end
    is flow "unpaid" (flow "checkout" already counts every checkout): the cancelled return, the
    failure page it redirects to, the payment.cancelled webhook."""
    from tests.helpers import act_at_gateway, local_target

    form = urlencode(BUYER).encode()
    status, headers, data = system.http(
        "POST", f"/{code}", form, {"content-type": "application/x-www-form-urlencoded"}
    )
    assert status == 303, data
    callback = local_target(act_at_gateway(headers["Location"], "cancel"))
    with system.measure("unpaid") if measured else contextlib.nullcontext():
        status, headers, data = system.http("GET", callback)
        assert status == 303, data
        page = local_target(headers["Location"])
        status, _, data = system.http("GET", page)
        assert status == 200, data
        system.drain_queue("NotifyQueue", "NotifyWorkerFunction")
    return page.rsplit("/", 1)[-1].split("?")[0]


def _business_day() -> str:
    from paylink.core.models import utcnow
    from paylink.settlement.business_calendar import local_date, next_business_day

    return next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()


def run_flows(system: System, *, small: int, large: int) -> dict[str, Any]:
    """Run every flow; settlement at two sizes gives its fixed and per-payment parts."""
    import respx

    key = _merchant(system, "bench", API_KEY)
    code = _link(system, key)
    with respx.mock(assert_all_called=False) as hooks:  # warm every handler once: figures are warm starts
        hooks.post(HOOK_URL).respond(200)
        hooks.route(host="127.0.0.1").pass_through()
        system.http("GET", f"/{code}")
        _pay(system, _link(system, key), measured=False)
        system.drain_queue("NotifyQueue", "NotifyWorkerFunction")
        _unpaid(system, _link(system, key), measured=False)
    with system.measure("click"):
        status, _, data = system.http("GET", f"/{code}")
    assert status == 200, data
    from paylink.payments.health import SUCCESS_SAMPLE

    # A success on a quiet gateway is counted in its health bucket one checkout in SUCCESS_SAMPLE
    # (at random): that many measured payments, one of them counted, give the expected figures.
    weights = [SUCCESS_SAMPLE] + [0] * (SUCCESS_SAMPLE - 1)
    with respx.mock(assert_all_called=False) as hooks:
        hooks.post(HOOK_URL).respond(200)
        hooks.route(host="127.0.0.1").pass_through()
        with mock.patch("paylink.store.gateways.sampled_success_weight", side_effect=weights):
            for _ in range(SUCCESS_SAMPLE):
                _pay(system, code, measured=True)
                with system.measure("notify"):
                    system.drain_queue("NotifyQueue", "NotifyWorkerFunction")
        assert hooks.calls.call_count >= 1
        delivered = hooks.calls.call_count
        unpaid = [_unpaid(system, code, measured=True) for _ in range(UNPAID_RUNS)]
        unpaid_events = [
            json.loads(call.request.content)["type"]
            for call in hooks.calls[delivered:]
            if str(call.request.url) == HOOK_URL  # not the gateway's calls respx passes through
        ]
        with system.measure("reconcile"):
            system.invoke(
                "ReconcileFunction", {"scheduled_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            )
        with system.measure("probe"):
            system.invoke(
                "ProbeFunction", {"scheduled_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            )
        # Settlement: one merchant with `small` payments, one with `large`, settled through the queue.
        sizes = {}
        for username, count in (("few", small), ("many", large)):
            merchant_key = _merchant(system, username)
            merchant_code = _link(system, merchant_key)
            for _ in range(count):
                _pay(system, merchant_code, measured=False)
            sizes[username] = count
        system.drain_queue("NotifyQueue", "NotifyWorkerFunction")
    day = _business_day()
    # The first merchant's own paid payment settles too: three merchants are queued.
    with system.measure("settle_fanout"):
        answer = system.invoke("SettleFunction", {"date": day})
    assert answer.get("queued") == 3, answer
    per_merchant: dict[str, Flow] = {}
    url = system.queues["SettleQueue"]
    from local.queues import sqs_event

    messages: list[dict[str, Any]] = []
    while len(messages) < 3:
        messages += system.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
    ids = {json.loads(m["Body"])["merchant_id"]: m for m in messages}
    usernames = {system.store.merchant_id_for_username(u): u for u in ("bench", *sizes)}
    for merchant_id, message in ids.items():
        name = f"settle_{usernames[merchant_id]}"
        with system.measure(name) as flow:
            flow.sqs_requests["ReceiveMessage"] += 1  # the event source's receive (done above, uncounted)
            system.invoke(
                "SettleWorkerFunction", sqs_event([message], system.queues["SettleQueue.Arn"], "us-east-1")
            )
            system.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        per_merchant[usernames[merchant_id]] = flow
    archived = _archive(system, day)
    return {
        "sizes": sizes,
        "per_merchant": per_merchant,
        "archived": archived,
        "unpaid": unpaid,
        "unpaid_events": unpaid_events,
    }


def _archive(system: System, day: str) -> int:
    """The archive function on the day the settlements fall due: every settled payment leaves."""
    from datetime import UTC, date, datetime

    from paylink.payments import archive

    due = date.fromisoformat(day) + archive.ARCHIVE_AFTER
    with system.measure("archive") as flow:
        started = time.thread_time()  # CPU time, as System.invoke measures a handler
        result = archive.run(system.store, due, now=datetime.combine(due, datetime.min.time(), UTC))
        flow.invocations["ArchiveFunction"].append(time.thread_time() - started)
    assert result["failed"] == 0, result
    assert result["payments"] > 0, result
    flow.archive_bytes = system.archive_bytes()
    system.archived = int(result["payments"])
    system.archived_settlements = int(result["settlements"])
    return system.archived


# ---- figures, limits, cost ----------------------------------------------------------------------


@dataclass
class SettleFigures:
    """Settlement per payment: a fixed part per merchant-day and a part per payment."""

    fixed: dict[str, float]
    marginal: dict[str, float]

    def at(self, payments: float) -> dict[str, float]:
        return {k: self.marginal[k] + self.fixed[k] / payments for k in self.marginal}


SETTLE_KEYS = (
    "calls",
    "reads",
    "writes",
    "items_written",
    "rru",
    "wru",
    "sqs",
    "log_bytes",
    "duration",
    "item_bytes",
    "index_bytes",
)


def _flow_figures(flow: Flow) -> dict[str, float]:
    return {
        "calls": len(flow.calls) / flow.runs,
        "reads": flow.reads(),
        "writes": flow.writes(),
        "items_written": flow.total("items_written"),
        "rru": flow.total("rru"),
        "wru": flow.total("wru"),
        "sqs": sum(flow.sqs_requests.values()) / flow.runs,
        "log_bytes": flow.log_bytes / flow.runs,
        "duration": sum(sum(v) for v in flow.invocations.values()) / flow.runs,
        "item_bytes": flow.item_bytes / flow.runs,
        "index_bytes": flow.index_bytes / flow.runs,
    }


def settle_figures(system: System, result: dict[str, Any]) -> SettleFigures:
    sizes, flows = result["sizes"], result["per_merchant"]
    few, many = _flow_figures(flows["few"]), _flow_figures(flows["many"])
    fanout = _flow_figures(system.flows["settle_fanout"])
    merchants = 3
    span = sizes["many"] - sizes["few"]
    marginal = {k: (many[k] - few[k]) / span for k in SETTLE_KEYS}
    fixed = {k: few[k] - marginal[k] * sizes["few"] + fanout[k] / merchants for k in SETTLE_KEYS}
    return SettleFigures(fixed, marginal)


def _runs(flow: Flow) -> str:
    """The distinct call sequences of a flow's runs."""
    return " | ".join(dict.fromkeys(" ".join(ops) for ops in flow.run_operations))


RETURN, PAGE = "GET /callback/{gateway}", "GET /r/{payment_id}"  # the routes of a buyer's return


def limits(system: System, settle: SettleFigures) -> list[tuple[str, bool, str]]:
    flows = system.flows
    click, checkout, callback, unpaid = flows["click"], flows["checkout"], flows["callback"], flows["unpaid"]
    return [
        (
            "click: 1 read, no write",
            click.reads() == 1 and click.writes() == 0 and click.most_calls == 1,
            " ".join(click.operations),
        ),
        ("checkout: at most 3 DynamoDB calls", checkout.most_calls <= 3, _runs(checkout)),
        ("callback: at most 3 DynamoDB calls", callback.most_calls <= 3, _runs(callback)),
        (
            "unpaid: the cancelled return at most 3 DynamoDB calls, its page 1 read",
            max(map(len, unpaid.steps[RETURN]), default=0) <= 3
            and all(ops == ["GetItem"] for ops in unpaid.steps[PAGE]),
            " | ".join(dict.fromkeys(" ".join(ops) for ops in unpaid.steps[RETURN] + unpaid.steps[PAGE])),
        ),
        (
            "settle: at most 2 writes per payment",
            settle.marginal["items_written"] <= 2,
            f"{settle.marginal['items_written']:.2f} items written per payment "
            f"({settle.marginal['writes']:.3f} write calls) "
            f"+ {settle.fixed['items_written']:.1f} per merchant-day",
        ),
        (
            "reconcile: nothing written for a paid payment",
            flows["reconcile"].writes() == 0,
            " ".join(flows["reconcile"].operations) or "no call",
        ),
    ]


def _per_paid(args: argparse.Namespace) -> dict[str, float]:
    """Runs of each buyer-side flow per paid payment."""
    return {
        "click": args.clicks,
        "checkout": args.checkouts,
        "callback": 1.0,
        "receipt": 1.0,
        "notify": args.webhook_share,
        # the checkouts not paid: each ends cancelled at the gateway (their checkout is in "checkout")
        "unpaid": max(args.checkouts - 1.0, 0.0),
    }


def traced_per_payment(system: System, args: argparse.Namespace) -> float:
    """Invocations of functions with active tracing per paid payment (the buyer-side flows)."""
    total = 0.0
    for name, weight in _per_paid(args).items():
        flow = system.flows[name]
        for function_id, durations in flow.invocations.items():
            if system.traced(function_id):
                total += weight * len(durations) / flow.runs
    return total


def measure_inits(function_ids: set[str], rounds: int = 3) -> dict[str, float]:
    """Each function's init (importing its handler module) in fresh interpreters here, median of
    `rounds`, the way bench/coldstart.py measures it (the layer as built: pages compiled)."""
    import importlib.util
    import statistics

    spec = importlib.util.spec_from_file_location("bench_coldstart", ROOT / "bench" / "coldstart.py")
    assert spec is not None
    assert spec.loader is not None
    coldstart = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = coldstart  # its dataclasses look their module up
    spec.loader.exec_module(coldstart)
    with tempfile.TemporaryDirectory(prefix="flows-layer-") as built:
        coldstart.LAYER = coldstart.build_layer(Path(built))
        wanted = [h for h in coldstart.handlers() if set(h.functions) & function_ids]
        coldstart.measure_imports(wanted, rounds)
    return {f: statistics.median(h.runs) for h in wanted for f in h.functions if f in function_ids}


def init_usd_per_invocation(system: System, function_id: str, args: argparse.Namespace) -> float:
    """The init an average invocation pays: the cold share x the init at the function's CPU share."""
    seconds = system.inits.get(function_id, 0.0) * max(1.0, ONE_VCPU_MB / system.memory_mb(function_id))
    return args.cold_share * seconds * system.memory_mb(function_id) / 1024 * PRICES["lambda_gbs"].usd


def cpu_scale(memory_mb: int) -> float:
    """How much longer than measured here a handler's CPU takes at `memory_mb`. The figure measured
    here is taken as the 512 MB one (moto's in-process time stands in for our code's slowdown at
    512 MB's 0.29 vCPU, see docs/BENCHMARKS.md's fourth pass); at other sizes it follows Lambda's CPU
    share (one vCPU at 1,769 MB), so a smaller function's CPU-bound work costs the same GB-seconds
    and only its waits get cheaper."""
    return max(1.0, ONE_VCPU_MB / memory_mb) / (ONE_VCPU_MB / MEASURED_AS_MB)


def warm_seconds(flow: Flow, function_id: str, gateway_ms: float, memory_mb: int = MEASURED_AS_MB) -> float:
    """Seconds a run of `flow` bills `function_id` warm: its CPU time at `memory_mb` plus the
    gateway latency of the gateway calls it made itself (a flow can run several functions)."""
    waits = flow.gateway_waits[function_id] * gateway_ms / 1000
    return (sum(flow.invocations[function_id]) * cpu_scale(memory_mb) + waits) / flow.runs


def storage_usd(item_bytes: float, index_bytes: float, months: float) -> float:
    """Dollars for keeping items and their GSI entries `months` months: items pay storage and PITR,
    index entries storage alone (PITR is billed on the table's data and its LSIs, see PRICES)."""
    storage, pitr = PRICES["storage"].usd, PRICES["pitr"].usd
    return (item_bytes * (storage + pitr) + index_bytes * storage) / GB * months


def cost_per_million(
    system: System, settle: SettleFigures, args: argparse.Namespace
) -> list[tuple[str, float, str]]:
    """Dollars per 1 million paid payments, per service, with how each line was made."""
    per_paid = _per_paid(args)
    settle_each = settle.at(args.payments_per_merchant_day)
    lines: dict[str, float] = defaultdict(float)
    notes: dict[str, str] = {}
    million = 1e6
    inits = 0.0
    for name, weight in per_paid.items():
        flow = system.flows[name]
        lines["DynamoDB reads"] += weight * flow.total("rru") * million * PRICES["rru"].usd
        lines["DynamoDB writes"] += weight * flow.total("wru") * million * PRICES["wru"].usd
        lines["HTTP API"] += weight * flow.http_api_requests / flow.runs * million * PRICES["http_api"].usd
        lines["SQS"] += weight * sum(flow.sqs_requests.values()) / flow.runs * million * PRICES["sqs"].usd
        lines["CloudWatch Logs"] += weight * flow.log_bytes / flow.runs * million * PRICES["logs"].usd
        for function_id, durations in flow.invocations.items():
            count = len(durations) / flow.runs
            memory_mb = system.memory_mb(function_id)
            seconds = warm_seconds(flow, function_id, args.gateway_ms, memory_mb)
            gb = memory_mb / 1024
            lines["Lambda requests"] += weight * count * million * PRICES["lambda_request"].usd
            lines["Lambda duration"] += weight * seconds * gb * million * PRICES["lambda_gbs"].usd
            init = weight * count * million * init_usd_per_invocation(system, function_id, args)
            lines["Lambda duration"] += init
            inits += init
            platform = system.platform_log_bytes(function_id)
            lines["CloudWatch Logs"] += weight * count * platform * million * PRICES["logs"].usd
            if system.traced(function_id):
                lines["X-Ray"] += weight * count * args.xray_sampling * million * PRICES["xray"].usd
        lines["DynamoDB storage + PITR, 1st year"] += (
            weight * storage_usd(flow.item_bytes / flow.runs, flow.index_bytes / flow.runs, 12) * million
        )
    lines["DynamoDB reads"] += settle_each["rru"] * million * PRICES["rru"].usd
    lines["DynamoDB writes"] += settle_each["wru"] * million * PRICES["wru"].usd
    lines["SQS"] += settle_each["sqs"] * million * PRICES["sqs"].usd
    lines["CloudWatch Logs"] += settle_each["log_bytes"] * million * PRICES["logs"].usd
    lines["DynamoDB storage + PITR, 1st year"] += (
        storage_usd(settle_each["item_bytes"], settle_each["index_bytes"], 12) * million
    )
    settle_mb = system.memory_mb("SettleWorkerFunction")  # SettleFunction's size too
    settle_seconds = settle_each["duration"] * cpu_scale(settle_mb)
    lines["Lambda duration"] += settle_seconds * settle_mb / 1024 * million * PRICES["lambda_gbs"].usd
    settle_invocations = 2 / args.payments_per_merchant_day  # the fan-out's share and the worker's
    lines["Lambda requests"] += settle_invocations * million * PRICES["lambda_request"].usd
    # The archive (paylink.payments.archive): a payment's items stay hot from checkout until its
    # settlement (about a day) falls due, ARCHIVE_AFTER later, at the next daily run; then what the
    # run freed (the payment and its index entries, less the stub it leaves) is gone for the rest
    # of the year, and the archive object is billed by S3 instead.
    archived = system.flows.get("archive")
    if archived is not None and system.archived:
        from paylink.payments.archive import ARCHIVE_AFTER

        hot_months = (1 + ARCHIVE_AFTER.days + 1) / 30.44
        cold_months = 12 - hot_months
        each = 1 / system.archived
        freed = -archived.stored_bytes * each
        lines["DynamoDB storage + PITR, 1st year"] += (
            storage_usd(archived.item_bytes * each, archived.index_bytes * each, cold_months) * million
        )
        lines["DynamoDB reads"] += archived.total("rru") * each * million * PRICES["rru"].usd
        lines["DynamoDB writes"] += archived.total("wru") * each * million * PRICES["wru"].usd
        # S3 requests are per settlement (one object each): at the assumed payments per merchant-day
        s3 = archived.s3_requests
        per_settlement = 1 / system.archived_settlements / args.payments_per_merchant_day
        requests = (s3["PutObject"] + s3["ListObjectsV2"]) * PRICES["s3_put"].usd
        requests += s3["GetObject"] * PRICES["s3_get"].usd
        lines["S3 archive, 1st year"] += million * per_settlement * requests
        lines["S3 archive, 1st year"] += (
            archived.archive_bytes * each * cold_months * PRICES["s3_storage"].usd * million
        )
        archive_mb = system.memory_mb("ArchiveFunction")
        seconds = sum(archived.invocations["ArchiveFunction"]) * each * cpu_scale(archive_mb)
        memory = archive_mb / 1024
        lines["Lambda duration"] += seconds * memory * million * PRICES["lambda_gbs"].usd
        lines["CloudWatch Logs"] += archived.log_bytes * each * million * PRICES["logs"].usd
        notes["DynamoDB storage + PITR, 1st year"] = (
            f"hot {hot_months:.2f} months, then the archive: {freed:,.0f} B a payment leave the table; "
            "PITR on items only"
        )
        notes["S3 archive, 1st year"] = (
            f"{archived.archive_bytes * each:,.0f} B a payment (gzip JSON lines), {cold_months:.1f} months, "
            f"{sum(s3.values()) * per_settlement:.2f} requests a payment"
        )
    else:
        notes["DynamoDB storage + PITR, 1st year"] = (
            "records (a ttl one for its share of the year), index entries, 100 B/item; PITR on items only"
        )
    notes["Lambda duration"] = f"of which ${inits:.2f} init, at {args.cold_share:.0%} cold starts"
    return [(name, usd, notes.get(name, "")) for name, usd in sorted(lines.items(), key=lambda kv: -kv[1])]


def fixed_monthly(system: System, args: argparse.Namespace) -> list[tuple[str, float]]:
    """Costs that run with the clock, not with payments (per month)."""
    minutes = 30 * 24 * 60
    rows = []
    for name, function_id, per_month in (
        ("probe, every minute", "ProbeFunction", minutes),
        ("reconcile, every 5 minutes", "ReconcileFunction", minutes / 5),
    ):
        flow = system.flows[name.split(",")[0]]
        seconds = warm_seconds(flow, function_id, args.gateway_ms, system.memory_mb(function_id))
        usd = per_month * (
            flow.total("rru") * PRICES["rru"].usd
            + flow.total("wru") * PRICES["wru"].usd
            + PRICES["lambda_request"].usd
            + seconds * system.memory_mb(function_id) / 1024 * PRICES["lambda_gbs"].usd
            + (flow.log_bytes + system.platform_log_bytes(function_id)) * PRICES["logs"].usd
        )
        rows.append((name, usd))
    scheduled = minutes + minutes / 5 + 30 + 30
    rows.append((f"EventBridge Scheduler, {scheduled:,.0f} invocations (under the 14 M free)", 0.0))
    if any(system.traced(f) for f in system.functions):
        # Lambda's fixed rule records the first traced invocation each second (the reservoir), then
        # the --xray-sampling share, which the payments pay for. The reservoir records at most one a
        # second, and no more than there are traced invocations: the scheduled ones and, at 1 million
        # paid payments a month, the payments' (so the payments' own share is counted twice: an
        # upper bound).
        seconds = minutes * 60 * XRAY_RESERVOIR_PER_SECOND
        clock = sum(
            per_month
            for function_id, per_month in (("ProbeFunction", minutes), ("ReconcileFunction", minutes / 5))
            if system.traced(function_id)
        )
        paid = traced_per_payment(system, args) * 1e6
        reservoir = min(seconds, clock + paid)
        rows.append(
            (
                f"X-Ray reservoir <=1/s: {reservoir / 1e6:.2f} M ({clock / 1e6:.2f} M scheduled, "
                f"{paid / 1e6:.2f} M at 1 M payments, 0.1 M free)",
                max(0, reservoir - 100_000) * PRICES["xray"].usd,
            )
        )
    # Lambda's SQS pollers long-poll each queue with about 5 connections of 20 s: ~0.65 M requests.
    rows.append(
        (
            "SQS empty receives of 2 event-source mappings (assumed 5 x 20 s long polls each)",
            2 * 5 * 3 * minutes * PRICES["sqs"].usd,
        )
    )
    return rows


def report(system: System, settle: SettleFigures, args: argparse.Namespace, out: Any) -> bool:
    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    say(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "moto (in-process) DynamoDB and SQS, sandbox gateway over HTTP on loopback"
    )
    say()
    say(
        f"{'flow':<15} {'calls':>5} {'items r/w':>9} {'idx w':>5} {'RRU':>6} {'WRU':>6} {'moto CU':>7} "
        f"{'log B':>6} {'stored':>6} {'ms':>6} {'gw':>2}  operations"
    )
    for name, flow in system.flows.items():
        ms = sum(sum(v) for v in flow.invocations.values()) / flow.runs * 1000
        say(
            f"{name:<15} {len(flow.calls) / flow.runs:>5.0f} "
            f"{flow.total('items_read'):>4.0f}/{flow.total('items_written'):<4.0f} "
            f"{flow.total('index_writes'):>5.0f} "
            f"{flow.total('rru'):>6.1f} {flow.total('wru'):>6.1f} {flow.total('moto_capacity'):>7.1f} "
            f"{flow.log_bytes / flow.runs:>6.0f} {round(flow.stored_bytes / flow.runs) + 0:>6d} {ms:>6.1f} "
            f"{flow.gateway_calls / flow.runs:>2.0f}  {' '.join(flow.operations[:8])}"
            f"{' ...' if len(flow.operations) > 8 else ''}"
        )
    say("items r/w: items read / written; idx w: GSI entries written; RRU, WRU: request units from the")
    say("item sizes; moto CU: moto's ConsumedCapacity when asked (a constant per call, not a measurement);")
    say(
        "log B: stdout bytes; stored: bytes kept a year (a ttl item for its share), index entries "
        "included; ms: the handlers' CPU time; gw: gateway calls"
    )
    say()
    say(
        "settle per payment = fixed per merchant-day / payments + per payment (two merchants, "
        f"{args.small} and {args.large} payments, through the settle queue):"
    )
    for label, figures in (
        ("fixed per merchant-day", settle.fixed),
        ("per payment", settle.marginal),
        (f"at {args.payments_per_merchant_day:g} payments a day", settle.at(args.payments_per_merchant_day)),
    ):
        say(
            f"  {label:<26} calls {figures['calls']:6.2f}  writes {figures['writes']:6.3f}  items written "
            f"{figures['items_written']:5.2f}  RRU {figures['rru']:6.2f}  WRU {figures['wru']:6.2f}  "
            f"SQS {figures['sqs']:5.2f}"
        )
    say("reconcile: a paid payment is no longer waiting; reconcile reads the waiting shards, writes nothing.")
    say()
    ok = True
    for label, passed, detail in limits(system, settle):
        ok &= passed
        say(f"  [{'ok' if passed else 'BROKEN'}] {label}: {detail}")
    say()
    say(
        f"cost per 1 million paid payments (us-east-1, arm64): {args.clicks:g} clicks and {args.checkouts:g} "
        f"checkouts per paid payment ({_per_paid(args)['unpaid']:g} of them cancelled at the gateway: their "
        f"return, page and webhook), 1 callback, 1 receipt, {args.webhook_share:g} webhook, settlement at "
        f"{args.payments_per_merchant_day:g} payments per merchant-day, "
        f"+{args.gateway_ms:g} ms per gateway call, "
        f"X-Ray recording {args.xray_sampling:.0%} of traced invocations"
    )
    rows = cost_per_million(system, settle, args)
    for name, usd, note in rows:
        say(f"  {name:<36} ${usd:>9.2f}  {note}")
    if not any(system.traced(f) for f in system.functions):
        say(f"  {'X-Ray':<36} ${0:>9.2f}  tracing is not on in template.yaml")
    total = sum(usd for _, usd, _ in rows)
    say(f"  {'total':<36} ${total:>9.2f}")
    within = total <= COST_LIMIT_USD
    ok &= within
    verdict = "ok" if within else "BROKEN"
    say(f"  [{verdict}] cost per million paid payments at most ${COST_LIMIT_USD:g}: ${total:.2f}")
    say()
    say("fixed per month, whatever the volume:")
    for name, usd in fixed_monthly(system, args):
        say(f"  {name:<84} ${usd:>7.2f}")
    say()
    say("prices:")
    for key, price in PRICES.items():
        say(f"  {key:<15} {price.unit}; {price.source}")
    for line in (
        "Lambda durations are the handlers' CPU time here (time.thread_time() of the thread running them:",
        "their own work and moto's, in-process, standing in for DynamoDB; not their wait on the sandbox",
        "gateway over loopback, nor time off the CPU while others run), taken as the 512 MB figure and x",
        "(512 / memory MB) for smaller functions (cpu_scale), plus the assumed gateway latency per",
        "gateway call, and the init Lambda bills since 1 Aug 2025 for the invocations that start cold "
        f"({args.cold_share:.0%}):",
        "each function's init is measured here (wall clock, as before) in fresh interpreters, "
        f"x {ONE_VCPU_MB}/memory MB",
        "(Lambda's CPU share below one vCPU):",
    ):
        say(line)
    for function_id in sorted(system.inits):
        here = system.inits[function_id]
        memory = system.memory_mb(function_id)
        there = here * max(1.0, ONE_VCPU_MB / memory)
        say(f"  {function_id:<22} {here * 1000:5.0f} ms here -> {there * 1000:5.0f} ms at {memory} MB")
    quiet = sorted(f for f in system.functions if not system.platform_log_bytes(f))
    say(
        "Lambda and HTTP API free tiers and data transfer are left out; "
        f"{PLATFORM_LOG_BYTES} B of platform log lines per invocation are added to the measured log bytes, "
        "except for functions whose LoggingConfig "
        f"(template.yaml) drops them ({len(quiet)} of {len(system.functions)})."
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a call-count limit or the cost limit is broken"
    )
    parser.add_argument("--clicks", type=float, default=3.0, help="clicks per paid payment (3)")
    parser.add_argument("--checkouts", type=float, default=1.2, help="checkouts per paid payment (1.2)")
    parser.add_argument("--webhook-share", type=float, default=1.0, help="paid payments with a webhook (1.0)")
    parser.add_argument(
        "--payments-per-merchant-day",
        type=float,
        default=10.0,
        help="paid payments a merchant settles per business day (10)",
    )
    parser.add_argument(
        "--gateway-ms",
        type=float,
        default=300.0,
        help="Lambda time added per gateway HTTP call, the real gateway's latency (300)",
    )
    parser.add_argument(
        "--xray-sampling",
        type=float,
        default=XRAY_FIXED_RATE,
        help="share of traced invocations X-Ray records beyond its reservoir (0.05: Lambda's fixed rule)",
    )
    parser.add_argument(
        "--cold-share",
        type=float,
        default=COLD_SHARE,
        help="share of the buyer path's invocations that start cold, their init billed (0.01)",
    )
    parser.add_argument("--small", type=int, default=2, help="payments of the small settled merchant (2)")
    parser.add_argument("--large", type=int, default=12, help="payments of the large settled merchant (12)")
    args = parser.parse_args(argv)
    if args.large <= args.small:
        parser.error("--large must exceed --small")
    out = os.fdopen(os.dup(1), "w")
    with System() as system:
        result = run_flows(system, small=args.small, large=args.large)
        system.inits = measure_inits({f for name in _per_paid(args) for f in system.flows[name].invocations})
        settle = settle_figures(system, result)
        ok = report(system, settle, args, out)
    out.close()
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
