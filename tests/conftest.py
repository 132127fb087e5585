"""Shared fixtures: a moto DynamoDB with the tables of template.yaml, the sandbox gateways, a merchant."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.sandbox import Sandbox
from local.template import create_tables, load_template
from tests.helpers import ApiClient, reset_caches

TEST_API_KEY = "plk_test_merchant_key"
OTHER_API_KEY = "plk_other_merchant_key"
VALID_IBAN = "IR062960000000100324200001"


@pytest.fixture(scope="session", autouse=True)
def function_roles() -> None:
    """A function's AWS calls are held to what template.yaml grants it (local/iam.py), as
    deployed: moto alone allows everything."""
    from local.iam import install

    install()


@pytest.fixture(autouse=True)
def no_refused_calls() -> Iterator[None]:
    """A call a function's role refused fails its test, even when the code caught the refusal and
    carried on (a notification logged and dropped is a lost notification, deployed)."""
    from local import iam

    iam.REFUSED.clear()
    yield
    refused, iam.REFUSED[:] = list(iam.REFUSED), []
    assert not refused, f"refused by the function's role in template.yaml: {refused}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Sandbox gateways over real HTTP: a and b speak Zibal's protocol, s the bank SEP's."""
    with Sandbox(instances={"a": "zibal", "b": "zibal", "s": "sep"}, port=0, slow_seconds=2.0) as running:
        yield running


@pytest.fixture
def gateways(sandbox: Sandbox) -> Iterator[Sandbox]:
    for name in ("a", "b", "s"):
        sandbox.set_mode(name, "ok")
    yield sandbox
    for name in ("a", "b", "s"):
        sandbox.set_mode(name, "ok")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Iterator[str]:
    """moto in-process, the template's tables created, settings pointed at them; yields the table name."""
    configs = [
        {"name": f"sandbox-{name}", "protocol": protocol, "base_url": f"{sandbox.url}/{name}",
         "merchant_id": sandbox.merchant, "timeout_seconds": 1.0}
        for name, protocol in (("a", "zibal"), ("b", "zibal"), ("s", "sep"))
    ]  # fmt: skip
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PUBLIC_BASE_URL": "https://pay.example",
        "PAYLINK_GATEWAYS": json.dumps(configs),
        "PAYLINK_TIMEZONE": "Asia/Tehran",
        "PAYLINK_COUNTRY": "IR",
        "PAYLINK_CHECKOUT_BUDGET_SECONDS": "4",
        # Settlement pays out through the sandbox provider, which runs only in a test stage.
        "PAYLINK_PAYOUT_PROVIDER": "sandbox",
        "PAYLINK_STAGE": "test",
        # EMF metric lines stay off stdout unless a test reads them (the `emf` fixture).
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
    # Settlement runs in one function unless a test configures the queue itself.
    monkeypatch.delenv("SETTLE_QUEUE_URL", raising=False)
    monkeypatch.delenv("SQS_ENDPOINT_URL", raising=False)
    # Merchant notifications are off unless a test configures the notify queue itself.
    for name in ("NOTIFY_QUEUE_URL", "NOTIFY_DEAD_LETTER_QUEUE_URL", "PAYLINK_WEBHOOK_RETRY_SCALE",
                 "PAYLINK_TELEGRAM_BOT_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = create_tables(client, load_template(), prefix="test")
        monkeypatch.setenv("TABLE_NAME", names["PaylinkTable"])
        reset_caches()
        yield names["PaylinkTable"]
    reset_caches()


@pytest.fixture
def store(aws: str):  # type: ignore[no-untyped-def]
    from paylink.store import get_store

    return get_store()


@pytest.fixture
def merchant(store):  # type: ignore[no-untyped-def]
    from paylink.merchants.accounts import create_merchant

    created, _ = create_merchant(
        store, username="shop", name="Scarf Shop", iban=VALID_IBAN, api_key=TEST_API_KEY
    )
    return created


@pytest.fixture
def other_merchant(store):  # type: ignore[no-untyped-def]
    from paylink.merchants.accounts import create_merchant

    created, _ = create_merchant(
        store, username="other", name="Other", iban=VALID_IBAN, api_key=OTHER_API_KEY
    )
    return created


@pytest.fixture
def api(aws: str) -> ApiClient:
    """Calls the handlers with the API Gateway events the template routes to them."""
    return ApiClient()


class AtomicRequests:
    """What went through `atomic_dynamodb`: the DynamoDB requests and the threads that made them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls = 0
        self.threads: set[int] = set()


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[AtomicRequests]:
    """Each DynamoDB request atomic, as the service applies it, for tests that race threads on moto.

    DynamoDB applies every request (a conditional write, a transaction) atomically. In-process
    moto (`mock_aws`) has no locks: two threads can both pass one ConditionExpression that
    DynamoDB would refuse to one of them, so a test of concurrent conditional writes then fails
    at random for moto's reason, not ours. This holds one lock around each DynamoDB request of
    every boto3 client in the process (botocore's BaseClient._make_api_call): the store's and
    those the code makes itself (idempotency, the click reader), whenever they are made. What
    runs between two requests still races, so the test still tests our conditional writes.

    Tests on `moto_server` need none of this: AtomicMotoServer serialises requests itself.
    Teardown fails if no request of another thread than the test's went through: then it guarded
    nothing (a client it does not reach, or no threads).
    """
    from botocore.client import BaseClient

    seen = AtomicRequests()
    send = BaseClient._make_api_call

    def atomic(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name != "dynamodb":
            return send(client, operation, params)
        with seen.lock:
            seen.calls += 1
            seen.threads.add(threading.get_ident())
            return send(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic)
    yield seen
    assert seen.threads - {threading.get_ident()}, "no DynamoDB request of another thread went through"
