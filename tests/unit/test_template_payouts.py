"""template.yaml: the payout provider and the stage are each stack's explicit choice, watched by an alarm."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import functions, load_template
from paylink.core.observability import NAMESPACE, SERVICE, Dimension, Metric
from paylink.settlement.payouts import PROVIDERS, TEST_STAGES


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_payout_provider_is_a_parameter_without_a_default(template):
    # Given the PayoutProvider parameter
    parameter = template["Parameters"]["PayoutProvider"]
    # Then a deploy must name one of the providers the code knows, and nothing defaults to sandbox
    assert "Default" not in parameter
    assert sorted(parameter["AllowedValues"]) == sorted(PROVIDERS)


def test_the_stage_is_a_parameter_without_a_default_holding_the_test_stages(template):
    parameter = template["Parameters"]["Stage"]
    assert "Default" not in parameter
    assert set(parameter["AllowedValues"]) > TEST_STAGES
    assert "prod" in parameter["AllowedValues"]


@pytest.mark.parametrize("function_id", ["SettleFunction", "SettleWorkerFunction"])
def test_both_settle_functions_get_the_provider_and_the_stage(template, function_id):
    environment = functions(template)[function_id].environment
    assert environment["PAYLINK_PAYOUT_PROVIDER"] == {"Ref": "PayoutProvider"}
    assert environment["PAYLINK_STAGE"] == {"Ref": "Stage"}


def test_the_worker_names_its_payout_credentials_as_ssm_parameters_only(template):
    environment = functions(template)["SettleWorkerFunction"].environment
    assert environment["PAYLINK_PAYOUT_API_KEY_PARAM"] == {"Fn::Sub": "/paylink/${Stage}/payout/api-key"}
    assert environment["PAYLINK_PAYOUT_SECRET_KEY_PARAM"] == {
        "Fn::Sub": "/paylink/${Stage}/payout/secret-key"
    }
    assert "PAYLINK_PAYOUT_API_KEY" not in environment
    assert "PAYLINK_PAYOUT_SECRET_KEY" not in environment


def test_a_refused_payout_provider_alarms_at_once(template):
    alarm = template["Resources"]["PayoutProviderRefusedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, Metric.PAYOUT_REFUSED)
    assert alarm["Dimensions"] == [{"Name": Dimension.SERVICE.value, "Value": SERVICE}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    )


def test_the_local_runner_resolves_the_parameter_names_for_its_stage():
    from local.template import resolve

    value = {"Fn::Sub": "/paylink/${Stage}/payout/api-key"}
    assert resolve(value, {"Stage": "dev"}) == "/paylink/dev/payout/api-key"
