"""paylink.core.observability: EMF lines, per-record log keys, and a tracer nobody pays for at import."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paylink.core.observability import NAMESPACE, Dimension, Metric, begin_record, logger, put_metrics, traced
from tests.helpers import metric_points

ROOT = Path(__file__).resolve().parents[2]
HANDLER_MODULES = sorted(f"functions.{p.parent.name}.app" for p in (ROOT / "functions").glob("*/app.py"))


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_a_metric_is_printed_at_once_with_its_dimensions_and_rollup(metrics_on, capsys):
    # When a metric is put with a gateway dimension and a rollup to the service alone
    put_metrics({Metric.CIRCUIT_OPEN: 1}, dimensions={Dimension.GATEWAY: "zibal"}, rollups=[()])
    # Then one EMF line is on stdout, in paylink's namespace, under both dimension sets
    printed = capsys.readouterr().out
    assert len(printed.splitlines()) == 1
    [point] = metric_points(printed)
    assert (point.namespace, point.name, point.unit, point.value) == (NAMESPACE, "CircuitOpen", "Count", 1)
    assert point.dimensions == {"service": "paylink", "gateway": "zibal"}
    assert point.dimension_sets == [{"service", "gateway"}, {"service"}]


def test_rials_are_put_without_a_unit(metrics_on, capsys):
    # When a settlement's gross is put
    put_metrics({Metric.SETTLEMENT_GROSS: 1_234_560})
    # Then it is a plain number (CloudWatch has no currency unit)
    [point] = metric_points(capsys.readouterr().out)
    assert (point.unit, point.value) == ("None", 1_234_560)


def test_two_metrics_put_apart_keep_their_own_dimensions(metrics_on, capsys):
    # When a failover of one gateway, then a payment at another, are put
    put_metrics({Metric.GATEWAY_FAILOVER: 1}, dimensions={Dimension.GATEWAY: "a"})
    put_metrics({Metric.PAYMENTS: 1}, dimensions={Dimension.STATUS: "paid", Dimension.GATEWAY: "b"})
    # Then neither carries the other's dimensions (nothing is shared between emissions)
    failover, payment = metric_points(capsys.readouterr().out)
    assert failover.dimensions == {"service": "paylink", "gateway": "a"}
    assert payment.dimensions == {"service": "paylink", "status": "paid", "gateway": "b"}


def test_a_new_sqs_record_forgets_the_ids_of_the_one_before():
    # Given the log keys of a first record
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        begin_record("msg-1")
        logger.append_keys(merchant_id="mer_1", settlement_id="stl_1")
        # When the next record of the batch begins and logs
        begin_record("msg-2")
        logger.info("next")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logger.remove_keys(["correlation_id"])
    # Then its line carries its own message id and no id of the first
    [line] = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert line["correlation_id"] == "msg-2"
    assert "merchant_id" not in line
    assert "settlement_id" not in line


def test_a_traced_handler_answers_with_tracing_off_outside_lambda(monkeypatch):
    # Given no Lambda environment (as in tests and the local runner)
    from paylink.core.observability import tracer

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)

    @traced
    def handler(event, context):  # type: ignore[no-untyped-def]
        return {"seen": event["n"]}

    # When the traced handler is invoked twice
    answers = [handler({"n": n}, None) for n in (1, 2)]
    # Then it answers as the bare handler would, and the tracer sends nothing
    assert answers == [{"seen": 1}, {"seen": 2}]
    assert tracer().disabled is True


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_no_handler_imports_the_xray_sdk_at_import(module):
    # When a handler module is imported in a fresh interpreter, as Lambda's init does
    code = f"import sys, {module}; print('aws_xray_sdk' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'paylink'}"}
    answer = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    # Then the X-Ray SDK (and the botocore client it builds on import) is not loaded yet
    assert answer.stdout.strip() == "False"


def test_a_webhook_dead_lettered_after_its_last_try_is_counted(metrics_on, capsys, monkeypatch):
    # Given an event whose last try is due and a merchant endpoint that keeps refusing
    from paylink.core.models import Merchant
    from paylink.notify import notifications
    from paylink.notify.webhooks import MAX_ATTEMPTS

    merchant = Merchant(
        id="mer_1", username="shop", name="Shop", iban="IR062960000000100324200001",
        webhook_url="https://shop.example/hook", webhook_secret="whsec_x",
        created_at="2026-01-01T00:00:00.000000Z",
    )  # fmt: skip
    tries: list[tuple[int, bool]] = []

    class Store:
        def webhook_delivery(self, event_id: str) -> dict[str, Any]:
            return {"attempts": MAX_ATTEMPTS - 1, "next_at": 0}

        def get_merchant(self, merchant_id: str) -> Merchant:
            return merchant

        def telegram_chats_of(self, merchant_id: str) -> list[dict[str, Any]]:
            return []  # no chat linked: the webhook alone is tried

        def record_webhook_try(
            self, event_id: str, attempt: int, *, next_at: float, done: bool, details: object = None
        ) -> None:
            tries.append((attempt, done))

    class Queue:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send_text(self, body: str, attributes: dict[str, str]) -> None:
            self.sent.append(body)

    monkeypatch.setattr(notifications, "post_webhook", lambda *args, **kwargs: "HTTP 500")
    # (a ping: a payment event is first checked against its payment in the table, which this store lacks)
    body = json.dumps({"id": "evt_1", "type": "ping", "data": {"id": "pay_1", "merchant_id": "mer_1"}})
    dead_letters = Queue()
    # When the worker tries it for the last time
    outcome = notifications.deliver(
        Store(),
        body,
        receipt_handle="r",
        queue=Queue(),
        dead_letters=dead_letters,
        now=1.0,
    )
    # Then it rests in the dead-letter queue, recorded done, and one WebhookDeadLettered is counted after that
    assert outcome is notifications.Delivery.DEAD_LETTERED
    assert (dead_letters.sent, tries) == ([body], [(MAX_ATTEMPTS, True)])
    [point] = metric_points(capsys.readouterr().out, Metric.WEBHOOK_DEAD_LETTERED)
    assert (point.value, point.dimensions) == (1, {"service": "paylink"})
