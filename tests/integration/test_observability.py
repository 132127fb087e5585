"""Metrics (CloudWatch EMF lines on stdout) and correlated log lines of the real flows, against moto."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from paylink.core.observability import NAMESPACE, Dimension, Metric
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target, metric_points
from tests.settlement_data import SETTLE_DAY, VALID_IBAN, MerchantSpec, seed

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
SERVICE_ONLY = {Dimension.SERVICE.value}


@pytest.fixture
def emf(aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Metrics on (the suite turns them off); returns what was printed since the last call."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    return lambda: capsys.readouterr().out


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines paylink's logger writes while the test runs."""
    from paylink.core.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def code(api, merchant, gateways) -> str:  # type: ignore[no-untyped-def]
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    return link.json()["code"]


def _return_of_a_payment(api, code: str) -> str:  # type: ignore[no-untyped-def]
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    return local_target(act_at_gateway(started.location))


def test_a_paid_payment_is_counted_by_status_and_gateway(api, code, emf):
    # Given a buyer back from gateway a having paid
    target = _return_of_a_payment(api, code)
    emf()
    # When the callback verifies and credits the payment
    answer = api.get(target)
    # Then one Payments point says paid at sandbox-a, also rolled up by status alone
    assert answer.status == 303
    [point] = metric_points(emf(), Metric.PAYMENTS)
    assert (point.namespace, point.unit, point.value) == (NAMESPACE, "Count", 1)
    assert point.dimensions == {"service": "paylink", "status": "paid", "gateway": "sandbox-a"}
    assert point.dimension_sets == [{"service", "status", "gateway"}, {"service", "status"}]


def test_a_repeated_return_is_not_counted_again(api, code, emf):
    # Given a payment already credited by its return
    target = _return_of_a_payment(api, code)
    api.get(target)
    emf()
    # When the gateway sends the same return again
    api.get(target)
    # Then no payment is counted
    assert metric_points(emf(), Metric.PAYMENTS) == []


def test_a_failover_counts_the_gateway_that_failed(api, code, gateways, emf):
    # Given gateway a is down
    gateways.set_mode("a", "down")
    emf()
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then he goes to b, and one GatewayFailover names a; a redirected payment is not final: no Payments
    assert answer.location.startswith(f"{gateways.url}/b/")
    printed = emf()
    [point] = metric_points(printed, Metric.GATEWAY_FAILOVER)
    assert (point.value, point.dimensions) == (1, {"service": "paylink", "gateway": "sandbox-a"})
    assert metric_points(printed, Metric.PAYMENTS) == []


def test_a_checkout_no_gateway_could_start_is_counted_as_failed_at_no_gateway(api, code, gateways, emf):
    # Given every gateway is down
    for name in ("a", "b", "s"):
        gateways.set_mode(name, "down")
    emf()
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then CheckoutNoGateway is counted, and the payment as failed at gateway "none"
    assert answer.status == 503
    printed = emf()
    assert [p.value for p in metric_points(printed, Metric.CHECKOUT_NO_GATEWAY)] == [1]
    [payment] = metric_points(printed, Metric.PAYMENTS)
    assert payment.dimensions == {"service": "paylink", "status": "failed", "gateway": "none"}


def test_the_link_page_prints_no_metric_and_warns_of_none(api, code, emf):
    # Given metrics are on
    emf()
    # When a buyer opens the link page (the click path emits nothing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = api.get(f"/{code}")
    # Then nothing is printed for metrics (no empty flush, no "no metrics" warning)
    assert page.status == 200
    assert metric_points(emf()) == []


def test_a_closed_settlement_reports_its_totals_once(store, emf):
    # Given a merchant with two paid payments of the day before
    from functions.settle.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template
    from paylink.settlement.money import FeePlan, split

    fee = FeePlan(bps=150, min_fee=2_000, max_fee=50_000)
    seed(store, [MerchantSpec("alpha", VALID_IBAN, fee, (1_000_000, 2_500_000))])
    context = LambdaContext(functions(load_template())["SettleFunction"])
    emf()
    # When the day is settled, then settled again
    lambda_handler({"date": SETTLE_DAY.isoformat()}, context)
    first = emf()
    lambda_handler({"date": SETTLE_DAY.isoformat()}, context)
    # Then the run that closed it printed gross, fee and net in rials and the payment count; the rerun nothing
    fees = [split(amount, fee)[0] for amount in (1_000_000, 2_500_000)]
    totals = {p.name: (p.value, p.unit, p.dimension_sets) for p in metric_points(first)}
    assert totals == {
        Metric.SETTLEMENT_GROSS: (3_500_000, "None", [SERVICE_ONLY]),
        Metric.SETTLEMENT_FEE: (sum(fees), "None", [SERVICE_ONLY]),
        Metric.SETTLEMENT_NET: (3_500_000 - sum(fees), "None", [SERVICE_ONLY]),
        Metric.SETTLEMENT_PAYMENTS: (2, "Count", [SERVICE_ONLY]),
    }
    assert metric_points(emf()) == []


def test_a_refused_payout_is_counted(store, emf):
    # Given a merchant whose bank refuses transfers
    from paylink.settlement.daily import settle_day
    from paylink.settlement.money import FeePlan
    from paylink.settlement.payouts import SandboxPayout

    seed(store, [MerchantSpec("alpha", VALID_IBAN, FeePlan(), (1_000_000,))])
    emf()
    # When the day is settled
    payout = SandboxPayout(store, fail_ibans=frozenset({VALID_IBAN}))
    settle_day(store, SETTLE_DAY, tz="Asia/Tehran", country="IR", payout=payout)
    # Then one SettlementPayoutFailed is counted
    assert [p.value for p in metric_points(emf(), Metric.SETTLEMENT_PAYOUT_FAILED)] == [1]


def test_the_probe_reports_each_circuit_and_their_maximum(aws, gateways, emf):
    # Given gateway a failed the probe twice
    from functions.callback.app import probe_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    context = LambdaContext(functions(load_template())["ProbeFunction"])
    gateways.set_mode("a", "down")
    for _ in range(2):
        probe_handler({}, context)
    emf()
    # When the probe runs a third time (its circuit opens)
    probe_handler({}, context)
    # Then CircuitOpen is 1 for a, 0 for the others, each also under the service alone (one alarm for all)
    points = metric_points(emf(), Metric.CIRCUIT_OPEN)
    by_gateway = {p.dimensions["gateway"]: p.value for p in points}
    assert by_gateway == {"sandbox-a": 1, "sandbox-b": 0, "sandbox-s": 0}
    assert all(p.dimension_sets == [{"service", "gateway"}, SERVICE_ONLY] for p in points)


def test_a_callbacks_log_lines_carry_the_request_id_and_the_payment(api, merchant, code, log_lines):
    # Given a buyer back from the gateway having paid
    target = _return_of_a_payment(api, code)
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    # When the callback handles the return
    answer = api.get(target)
    # Then each of its log lines carries API Gateway's request id and the payment, link and merchant
    lines = [line for line in log_lines() if line.get("function_name") == "CallbackFunction"]
    assert "payment verified" in [line["message"] for line in lines]
    for line in lines:
        assert line["correlation_id"] == answer.event["requestContext"]["requestId"]
        ids = (line["payment_id"], line["link_code"], line["merchant_id"])
        assert ids == (payment["id"], code, merchant.id)


def test_log_lines_leave_out_what_their_log_group_says_and_keep_the_correlation_keys(
    api, merchant, code, log_lines
):
    # Given a buyer back from the gateway having paid (issue 18: log bytes per invocation down)
    target = _return_of_a_payment(api, code)
    # When the callback handles the return
    answer = api.get(target)
    # Then its lines carry the function, the invocation, the request and the payment's keys, but
    # not the function's ARN nor its memory size (its log group and stream say them)
    lines = [line for line in log_lines() if line.get("function_name") == "CallbackFunction"]
    assert lines
    for line in lines:
        assert not {"function_arn", "function_memory_size"} & set(line)
        assert line["function_request_id"]
        assert line["correlation_id"] == answer.event["requestContext"]["requestId"]
        assert {"payment_id", "link_code", "merchant_id"} <= set(line)
