"""scripts/check_deploy.py: what `make deploy-check` refuses to deploy."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from local.template import _CfnLoader, load_template

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_deploy", ROOT / "scripts" / "check_deploy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _script()


@pytest.fixture
def template() -> dict[str, Any]:
    return copy.deepcopy(load_template())


def _variables(template: dict[str, Any], function: str) -> dict[str, Any]:
    props = template["Resources"][function]["Properties"]
    return props.setdefault("Environment", {}).setdefault("Variables", {})  # type: ignore[no-any-return]


def test_the_template_keeps_every_secret_out_of_the_environment(template):  # type: ignore[no-untyped-def]
    assert check.check_secrets(template) == []


def test_the_template_leaves_no_required_setting_empty(template):  # type: ignore[no-untyped-def]
    assert check.check_required(template) == []


def test_the_template_pays_out_through_no_default_sandbox(template):  # type: ignore[no-untyped-def]
    assert check.check_payouts(template) == []


# The shape of template.yaml before secrets moved to SSM: the bot token a NoEcho parameter passed
# as a plain environment variable (and the gateways' merchant ids inside GatewaysConfig).
PREVIOUS = """
Parameters:
  GatewaysConfig: {Type: String, Default: "[]"}
  TelegramBotToken: {Type: String, Default: "", NoEcho: true}
Globals:
  Function:
    Environment:
      Variables:
        PAYLINK_GATEWAYS: !Ref GatewaysConfig
Resources:
  NotifyWorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          PAYLINK_TELEGRAM_BOT_TOKEN: !Ref TelegramBotToken
"""


def test_the_previous_template_with_a_plain_token_and_empty_gateways_is_refused() -> None:
    previous = yaml.load(PREVIOUS, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    # Then the token parameter, the variable taking it and the empty required gateways are named
    assert check.check_secrets(previous) == [
        "parameter TelegramBotToken looks like a secret: take an SSM parameter name (*Parameter)",
        "NotifyWorkerFunction: PAYLINK_TELEGRAM_BOT_TOKEN puts a secret's value in the environment",
        "NotifyWorkerFunction: PAYLINK_TELEGRAM_BOT_TOKEN takes the NoEcho parameter TelegramBotToken",
    ]
    assert check.check_required(previous) == [
        "parameter GatewaysConfig is required but defaults to empty ('[]')",
        "parameter TelegramBotToken is required but defaults to empty ('')",
    ]


def test_a_secret_value_in_a_function_environment_is_refused(template):  # type: ignore[no-untyped-def]
    _variables(template, "NotifyWorkerFunction")["PAYLINK_TELEGRAM_BOT_TOKEN"] = "123:abc"
    assert check.check_secrets(template) == [
        "NotifyWorkerFunction: PAYLINK_TELEGRAM_BOT_TOKEN puts a secret's value in the environment"
    ]


def test_a_parameter_name_the_function_may_not_read_is_refused(template):  # type: ignore[no-untyped-def]
    # SettleFunction reads no secret (CreateLinkFunction now may read the Kavenegar key).
    _variables(template, "SettleFunction")["PAYLINK_GATEWAY_CREDENTIALS_PARAMETER"] = {
        "Ref": "GatewayCredentialsParameter"
    }
    assert check.check_secrets(template) == [
        "SettleFunction: PAYLINK_GATEWAY_CREDENTIALS_PARAMETER names a parameter it may not read"
    ]


def test_reading_every_ssm_parameter_is_refused(template):  # type: ignore[no-untyped-def]
    policies = template["Resources"]["ProbeFunction"]["Properties"]["Policies"]
    policies.append({"Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "*"}]})
    assert check.check_secrets(template) == [
        "ProbeFunction: ssm:GetParameter on '*', not on named parameters"
    ]


def test_payouts_defaulting_to_the_sandbox_are_refused(template):  # type: ignore[no-untyped-def]
    template["Parameters"]["PayoutProvider"] = {"Type": "String", "Default": "sandbox"}
    for function in ("SettleFunction", "SettleWorkerFunction"):
        _variables(template, function)["PAYLINK_PAYOUT_PROVIDER"] = {"Ref": "PayoutProvider"}
    assert check.check_payouts(template) == [
        "SettleFunction: parameter PayoutProvider defaults payouts to the sandbox",
        "SettleWorkerFunction: parameter PayoutProvider defaults payouts to the sandbox",
    ]


def test_a_payout_provider_the_deployer_must_choose_passes(template):  # type: ignore[no-untyped-def]
    template["Parameters"]["PayoutProvider"] = {"Type": "String", "AllowedValues": ["bank_batch", "sandbox"]}
    for function in ("SettleFunction", "SettleWorkerFunction"):
        _variables(template, function)["PAYLINK_PAYOUT_PROVIDER"] = {"Ref": "PayoutProvider"}
    assert check.check_payouts(template) == []


def test_a_required_parameter_defaulting_to_empty_is_refused(template):  # type: ignore[no-untyped-def]
    template["Parameters"]["GatewaysConfig"]["Default"] = "[]"
    assert check.check_required(template) == [
        "parameter GatewaysConfig is required but defaults to empty ('[]')"
    ]


def test_a_layer_shipping_botocore_is_refused(tmp_path: Path) -> None:
    (tmp_path / "python" / "botocore").mkdir(parents=True)
    (tmp_path / "python" / "paylink").mkdir()
    assert check.check_layer(tmp_path) == ["the layer ships botocore (it shadows the runtime's)"]


def test_the_panel_key_without_its_grant_is_refused(template):  # type: ignore[no-untyped-def]
    # The panel key (digests of phones and national codes, device cookies): PanelFunction names it
    # and may read exactly it; without that grant the deploy check refuses the template.
    policies = template["Resources"]["PanelFunction"]["Properties"]["Policies"]
    policies[:] = [p for p in policies if "PanelKeyParameter" not in str(p)]
    assert check.check_secrets(template) == [
        "PanelFunction: no ssm:GetParameter on the parameter PAYLINK_PANEL_KEY_PARAMETER names"
    ]


def test_the_panel_key_defaulting_to_empty_is_refused(template):  # type: ignore[no-untyped-def]
    template["Parameters"]["PanelKeyParameter"]["Default"] = ""
    expected = "parameter PanelKeyParameter is required but defaults to empty ('')"
    assert check.check_required(template) == [expected]
