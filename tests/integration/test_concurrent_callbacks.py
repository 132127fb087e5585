"""Ten returns of one payment at once, through separate handler instances, against a moto server."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from local.dynamodb import AtomicMotoServer
from local.queues import sqs_event
from local.run import Invoker, http_event
from local.template import create_tables, functions, load_template, routes
from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.helpers import act_at_gateway, local_target, reset_caches


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch, sandbox) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    configs = [
        {"name": "sandbox-a", "protocol": "zibal", "base_url": f"{sandbox.url}/a", "merchant_id": "zibal",
         "timeout_seconds": 2.0}
    ]  # fmt: skip
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "DYNAMODB_ENDPOINT_URL": endpoint, "PUBLIC_BASE_URL": "https://pay.example",
        "PAYLINK_GATEWAYS": json.dumps(configs),
        # Settlement pays out through the sandbox provider, which runs only in a test stage.
        "PAYLINK_PAYOUT_PROVIDER": "sandbox", "PAYLINK_STAGE": "test",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    # moto's backends live in this process, shared by every server it starts: a fresh prefix each time
    names = create_tables(client, load_template(), prefix=f"concurrent-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("TABLE_NAME", names["PaylinkTable"])
    reset_caches()
    yield endpoint
    reset_caches()
    server.stop()


def _call(invoker: Invoker, method: str, target: str, body: bytes = b"", headers: dict | None = None) -> dict:  # type: ignore[type-arg]
    path = target.split("?", 1)[0]
    route = next(r for r in routes(load_template()) if r.method == method and r.pattern.match(path))
    match = route.pattern.match(path)
    assert match is not None
    event = http_event(method, target, {"host": "pay.example", **(headers or {})}, body, route,
                       match.groupdict(), "203.0.113.7")  # fmt: skip
    result: dict = invoker.invoke(event)  # type: ignore[type-arg]
    return result


def test_ten_concurrent_returns_credit_once_and_settle_once(moto_server, gateways, monkeypatch):
    from paylink.core.models import utcnow
    from paylink.merchants.accounts import create_merchant
    from paylink.settlement.business_calendar import local_date, next_business_day
    from paylink.store import get_store

    fns = functions(load_template())
    merchant_api, checkout, callback, settle, settle_worker = (
        Invoker(fns[name])
        for name in (
            "CreateLinkFunction", "CheckoutFunction", "CallbackFunction",
            "SettleFunction", "SettleWorkerFunction",
        )
    )  # fmt: skip
    store = get_store()
    create_merchant(store, username="busy", name="Busy", iban=VALID_IBAN, api_key=TEST_API_KEY)
    # Given a paid payment whose return is about to arrive ten times at once
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    created = _call(
        merchant_api, "POST", "/v1/links", json.dumps({"title": "x", "amount": 500_000}).encode(), auth
    )
    code = json.loads(created["body"])["code"]
    started = _call(checkout, "POST", f"/{code}", b"name=Ali&phone=09121234567",
                    {"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    target = local_target(act_at_gateway(started["headers"]["Location"]))
    # When ten returns run concurrently through separate handler instances
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: _call(callback, "GET", target), range(10)))
    # Then every buyer tab lands on the same receipt, and the payment was credited once
    assert {a["statusCode"] for a in answers} == {303}
    assert len({a["headers"]["Location"] for a in answers}) == 1
    link = store.get_link(code)
    assert link is not None
    assert (link.paid_count, link.paid_total) == (1, 500_000)
    # And the next business day's settlement, run as deployed (the fan-out queues the merchant,
    # the worker settles it, and a message delivered twice settles nothing more), holds it once
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    queue = sqs.create_queue(QueueName=f"settle-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("SETTLE_QUEUE_URL", queue)
    monkeypatch.setenv("SQS_ENDPOINT_URL", moto_server)
    reset_caches()
    assert settle.invoke({"date": day.isoformat()})["queued"] == 1
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:settle", "us-east-1")
    for _ in range(2):
        assert settle_worker.invoke(event) == {"batchItemFailures": []}
    payments = store.payments_of_settlement(f"stl_{day.isoformat().replace('-', '')}_{link.merchant_id[4:]}")
    assert [p.amount for p in payments] == [500_000]
    # And a replay of the return the day after changes nothing
    later = _call(callback, "GET", target)
    assert later["statusCode"] == 303
    assert store.get_link(code).paid_count == 1  # type: ignore[union-attr]
