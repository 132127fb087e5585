"""template.yaml: tracing, and the alarms an operator acts on, watching the metrics the code emits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.template import load_template
from paylink.core.observability import NAMESPACE, SERVICE, Dimension, Metric

TOPIC_OR_NOTHING = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
ROOT = Path(__file__).resolve().parents[2]
PAYLINK_METRIC = [{"Name": Dimension.SERVICE.value, "Value": SERVICE}]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def _loads_a_tracer(code_uri: str, handler: str) -> bool:
    """Whether the handler is decorated with core.observability.traced (which loads the tracer)."""
    import ast

    module, name = handler.split(".")
    tree = ast.parse((ROOT / code_uri / f"{module}.py").read_text())
    [function] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return any(isinstance(d, ast.Name) and d.id == "traced" for d in function.decorator_list)


def test_lambda_traces_a_function_only_where_its_handler_loads_a_tracer(template):
    # Given each function's handler: Then Lambda traces it actively (Globals) where the handler
    # loads the tracer, and passes through where it does not: a trace there would hold Lambda's
    # own timings only, paid per trace (issue 18; the buyer's path among them)
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    functions = {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    for name, properties in functions.items():
        expected = (
            "Active" if _loads_a_tracer(properties["CodeUri"], properties["Handler"]) else "PassThrough"
        )
        assert properties.get("Tracing", "Active") == expected, name
    assert functions["CheckoutFunction"]["Tracing"] == "PassThrough"


def test_alarms_notify_the_topic_only_when_one_is_given(template):
    # Given the alarm topic parameter, empty by default
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    # Then every alarm tells the topic when it fires and when it clears, or nobody without one
    for name, alarm in _alarms(template).items():
        assert alarm["AlarmActions"] == TOPIC_OR_NOTHING, name
        assert alarm["OKActions"] == TOPIC_OR_NOTHING, name


def test_every_alarm_tells_the_operator_what_to_do(template):
    # Then each description is prose of some length, not a name
    for name, alarm in _alarms(template).items():
        assert len(alarm["AlarmDescription"].split()) >= 25, name


@pytest.mark.parametrize("queue", ["SettleDeadLetterQueue", "NotifyDeadLetterQueue"])
def test_each_dead_letter_queue_alarms_on_its_first_message(template, queue):
    # Given the alarm on a dead-letter queue
    alarm = _alarms(template)[queue.replace("Queue", "Alarm")]
    # Then any visible message there breaches it
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_a_gateway_circuit_open_for_a_quarter_hour_alarms(template):
    # Given the circuit alarm
    alarm = _alarms(template)["GatewayCircuitOpenAlarm"]
    # Then it watches the probe's CircuitOpen under the service alone (the maximum over every gateway)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        NAMESPACE,
        Metric.CIRCUIT_OPEN,
        PAYLINK_METRIC,
    )
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
    )
    # And it fires after most of 15 one-minute probes found a circuit open, not on one
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 15)
    assert 13 <= alarm["DatapointsToAlarm"] <= 15


def test_a_refused_payout_alarms_at_once(template):
    # Given the payout alarm
    alarm = _alarms(template)["SettlePayoutFailedAlarm"]
    # Then one SettlementPayoutFailed breaches it
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        NAMESPACE,
        Metric.SETTLEMENT_PAYOUT_FAILED,
        PAYLINK_METRIC,
    )
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    )


@pytest.mark.parametrize(
    ("alarm_name", "function", "allowed_errors"),
    [
        ("SettleErrorsAlarm", "SettleFunction", 0),
        ("SettleWorkerErrorsAlarm", "SettleWorkerFunction", 0),
        ("ReconcileErrorsAlarm", "ReconcileFunction", 0),
        ("ProbeErrorsAlarm", "ProbeFunction", 2),
    ],
)
def test_background_function_errors_alarm(template, alarm_name, function, allowed_errors):
    # Given the errors alarm of a background function
    alarm = _alarms(template)[alarm_name]
    # Then it watches that function's Lambda Errors and fires past the errors allowed in a period
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        allowed_errors,
    )
    assert function in template["Resources"]
