"""Test helpers: invoke handlers with real API Gateway HTTP API events, read the table."""

from __future__ import annotations

import base64
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from local.iam import acting_as
from local.run import LambdaContext, http_event
from local.template import functions, load_template, routes


def reset_caches() -> None:
    """Forget settings, the store and the gateways: each test reads its own environment."""
    from paylink.core.secrets import forget_secrets
    from paylink.core.settings import get_settings
    from paylink.exports.upload import s3_client
    from paylink.notify.messages import notifiers
    from paylink.notify.queues import sqs_client
    from paylink.payments.routing import adapters, http_client
    from paylink.store import get_store
    from paylink.store.idempotency import _idempotency_client, idempotency_persistence
    from paylink.web import click

    for cached in (
        get_settings,
        get_store,
        idempotency_persistence,
        _idempotency_client,
        adapters,
        http_client,
        notifiers,
        s3_client,
        sqs_client,  # made with the SQS endpoint of its test (a moto server that stops with it)
    ):
        cached.cache_clear()
    forget_secrets()
    click.forget()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    function_id: str = ""
    event: dict[str, Any] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # the answer's Set-Cookie values (HTTP API v2)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class ApiClient:
    """Routes a request as template.yaml says and invokes that function's handler in-process."""

    _template = load_template()
    _routes = routes(_template)
    _functions = functions(_template)

    def __init__(self, source_ip: str = "203.0.113.9") -> None:
        self.source_ip = source_ip  # the client's address, as API Gateway reports it (`sourceIp`)

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        path = urlsplit(target).path
        for route in self._routes:
            match = route.pattern.match(path)
            if route.method == method and match:
                break
        else:
            return Answer(404, {}, b'{"message":"Not Found"}')
        all_headers = {"host": "pay.example", "user-agent": "pytest", **(headers or {})}
        event = http_event(method, target, all_headers, body, route, match.groupdict(), self.source_ip)
        function = self._functions[route.function_id]
        module = importlib.import_module(function.module)
        with acting_as(route.function_id):  # its AWS calls held to its role (local/iam.py)
            result = getattr(module, function.handler)(event, LambdaContext(function))
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return Answer(
            int(result["statusCode"]),
            dict(result.get("headers") or {}),
            data,
            route.function_id,
            event,
            list(result.get("cookies") or []),
        )

    def get(self, target: str, *, key: str | None = None) -> Answer:
        return self.request("GET", target, headers=_auth(key))

    def post_json(self, target: str, payload: Any, *, key: str | None = None) -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request(
            "POST", target, body=body, headers={"content-type": "application/json", **_auth(key)}
        )

    def patch_json(self, target: str, payload: Any, *, key: str | None = None) -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request(
            "PATCH", target, body=body, headers={"content-type": "application/json", **_auth(key)}
        )

    def post_form(self, target: str, fields: dict[str, str]) -> Answer:
        body = urlencode(fields).encode()
        return self.request(
            "POST", target, body=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )


def verified_email_sender(monkeypatch: Any, address: str) -> None:
    """Invoices and notices email from `address`, verified in moto's SES (settings read again)."""
    import boto3

    from paylink.core.settings import get_settings
    from paylink.notify.messages import notifiers

    monkeypatch.setenv("PAYLINK_EMAIL_SENDER", address)
    get_settings.cache_clear()
    notifiers.cache_clear()
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=address)


def fake_dns(monkeypatch: Any, names: dict[str, list[str]]) -> None:
    """`socket.getaddrinfo` answers `names` (host -> addresses) as a resolver would; other names as before."""
    import socket

    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, int(port or 0)),
                )
                for a in names[host.lower()]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


def count_index_pages(monkeypatch: Any, index: str | None = None) -> list[int]:
    """Index pages each request reads (of `index` only, if given): append 0 before a request,
    read the last number after it. Small FILTERED_INDEX_PAGE/FILTER_SCAN_KEYS make the bound show."""
    import paylink.store.table as table

    reads: list[int] = [0]
    real = table.Table._query_index

    def counted(self: Any, request: dict[str, Any]) -> Any:
        reads[-1] += index is None or request.get("IndexName") == index
        return real(self, request)

    monkeypatch.setattr(table.Table, "_query_index", counted)
    return reads


def _auth(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def table_items(table_name: str) -> list[dict[str, Any]]:
    """Every item of the table (a test-only Scan, to prove what was or was not written)."""
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(table_name)
    items: list[dict[str, Any]] = []
    answer = table.scan()
    items.extend(answer["Items"])
    while "LastEvaluatedKey" in answer:
        answer = table.scan(ExclusiveStartKey=answer["LastEvaluatedKey"])
        items.extend(answer["Items"])
    return items


def payment_ttl(store: Any, payment_id: str) -> int | None:
    """The stored payment's `ttl` (epoch seconds: the table's TTL deletes it after), None without one."""
    key = {"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT"}
    item = store.client.get_item(TableName=store.table, Key=key, ConsistentRead=True)["Item"]
    return int(item["ttl"]) if "ttl" in item else None


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def act_at_gateway(start_url: str, action: str = "pay") -> str:
    """Play the buyer on a sandbox payment page; returns the callback URL the sandbox sends him to."""
    import httpx

    page = httpx.get(start_url, timeout=5)
    assert page.status_code == 200, page.text
    fields = hidden_fields(page.text)
    answer = httpx.post(start_url, data={**fields, "action": action}, timeout=5)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def local_target(url: str) -> str:
    """Path and query of one of our own URLs, as the handlers receive it."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class MetricPoint:
    """One value of one CloudWatch embedded-metric-format line, as CloudWatch would read it."""

    namespace: str
    name: str
    unit: str
    value: float
    dimensions: dict[str, str]
    dimension_sets: list[set[str]]


def metric_points(printed: str, name: str | None = None) -> list[MetricPoint]:
    """The EMF metric values among printed lines (all, or those of metric `name`)."""
    points = []
    for line in printed.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            sets = [set(keys) for keys in directive["Dimensions"]]
            dimensions = {key: blob[key] for keys in sets for key in keys}
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    points.append(
                        MetricPoint(
                            directive["Namespace"], metric["Name"], metric["Unit"], value, dimensions, sets
                        )
                    )
    return [p for p in points if name is None or p.name == name]
