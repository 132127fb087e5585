"""The payout provider is a stack's explicit choice: none, or sandbox outside a test stage pays nobody."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.queues import sqs_event
from paylink.core.observability import Metric
from paylink.settlement.money import FeePlan
from tests.helpers import metric_points, reset_caches
from tests.settlement_data import SETTLE_DAY, VALID_IBAN, MerchantSpec, seed


@pytest.fixture
def emf(aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Metrics on (the suite turns them off); returns what was printed since the last call."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    return lambda: capsys.readouterr().out


def _handler(name: str) -> tuple[Callable[..., Any], Any]:
    from functions.settle import app
    from local.run import LambdaContext
    from local.template import functions, load_template

    function_id = "SettleFunction" if name == "lambda_handler" else "SettleWorkerFunction"
    return getattr(app, name), LambdaContext(functions(load_template())[function_id])


def _stack(monkeypatch: pytest.MonkeyPatch, provider: str | None, stage: str) -> None:
    if provider is None:
        monkeypatch.delenv("PAYLINK_PAYOUT_PROVIDER", raising=False)
    else:
        monkeypatch.setenv("PAYLINK_PAYOUT_PROVIDER", provider)
    monkeypatch.setenv("PAYLINK_STAGE", stage)
    reset_caches()


def test_a_sandbox_payout_in_a_production_stack_refuses_to_settle_and_alarms(store, emf, monkeypatch):
    # Given a production stack whose payout provider is the sandbox, and a merchant with money
    seed(store, [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,))])
    _stack(monkeypatch, "sandbox", "prod")
    settle, context = _handler("lambda_handler")
    emf()
    # When the daily settlement runs
    with pytest.raises(RuntimeError, match="sandbox payouts move no money"):
        settle({"date": SETTLE_DAY.isoformat()}, context)
    # Then it failed loudly (a Lambda error), counted PayoutProviderRefused for its alarm,
    assert [p.value for p in metric_points(emf(), Metric.PAYOUT_REFUSED)] == [1]
    # and no settlement was created, let alone marked paid
    merchant_id = next(iter(store.merchants_with_unsettled_money()))
    assert store.settlements_of(merchant_id, None)[0] == []


def test_a_stack_that_names_no_payout_provider_refuses_to_settle(store, monkeypatch):
    # Given a stack that names no payout provider (no sandbox default)
    seed(store, [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,))])
    _stack(monkeypatch, None, "prod")
    settle, context = _handler("lambda_handler")
    # When the daily settlement runs, then it refuses, saying what to set
    with pytest.raises(
        RuntimeError, match="PAYLINK_PAYOUT_PROVIDER must be one of bank_batch, jibit, sandbox"
    ):
        settle({"date": SETTLE_DAY.isoformat()}, context)


def test_the_settle_worker_of_a_production_stack_refuses_sandbox_payouts_per_message(store, emf, monkeypatch):
    # Given a production stack with the sandbox provider, and a queued message for a merchant with money
    seed(store, [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,))])
    merchant_id = next(iter(store.merchants_with_unsettled_money()))
    _stack(monkeypatch, "sandbox", "prod")
    work, context = _handler("worker_handler")
    body = f'{{"merchant_id": "{merchant_id}", "date": "{SETTLE_DAY.isoformat()}"}}'
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1"},
    }
    emf()
    # When the worker receives it
    answer = work(sqs_event([message], "arn:aws:sqs:us-east-1:1:q", "us-east-1"), context)
    # Then the message goes back to the queue (and on to the dead-letter queue), the refusal is
    # counted, and the merchant's money is not marked paid
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [p.value for p in metric_points(emf(), Metric.PAYOUT_REFUSED)] == [1]
    assert store.settlements_of(merchant_id, None)[0] == []


@pytest.mark.parametrize("stage", ["dev", "test"])
def test_a_test_stage_may_pay_out_through_the_sandbox(store, monkeypatch, stage):
    # Given a test stack with the sandbox provider and a merchant with money
    seed(store, [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,))])
    _stack(monkeypatch, "sandbox", stage)
    settle, context = _handler("lambda_handler")
    # When the daily settlement runs, then the sandbox pays it out
    answer = settle({"date": SETTLE_DAY.isoformat()}, context)
    assert [s["status"] for s in answer["settlements"]] == ["paid"]
