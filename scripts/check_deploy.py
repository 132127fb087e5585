#!/usr/bin/env python3
"""Fail when template.yaml would deploy a secret in plain sight, sandbox payouts or an empty setting.

Usage: check_deploy.py [--template template.yaml] [--layer .aws-sam/build/PaylinkLayer]

Rules (each finding names the function, variable or parameter):
- secrets: no function's environment (Globals or its own) holds a secret's VALUE: no variable of
  paylink.core.settings.SECRET_VALUE_VARIABLES or of a SecretStr setting, nothing taken from a NoEcho
  parameter, no parameter named like a secret (token, password, key...) unless it carries an SSM
  parameter NAME (named *Parameter, AllowedPattern of a path). A variable carrying a name
  (*_PARAMETER, *_PARAM) is a Ref to such a parameter or a literal/Sub path, and its function may
  ssm:GetParameter exactly that ARN; no ssm:GetParameter on "*".
- payouts: the settle functions do not pay out through the sandbox unless a deployer chose it:
  PAYLINK_PAYOUT_PROVIDER comes from a parameter without a sandbox Default (or the setting's own
  default is not "sandbox").
- required settings: every parameter a function's environment uses either has no Default, a
  non-empty one, or is listed in OPTIONAL_PARAMETERS with what empty means.
- layer (with --layer): the built layer carries no boto3/botocore & co. (the runtime's are used).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]

from local.template import load_template  # noqa: E402

# Parameters whose empty Default is a documented choice, not a missing setting.
OPTIONAL_PARAMETERS = {
    "PublicBaseUrl": "empty: https://DomainName, else the API's own URL",
    "DomainName": "empty: no custom domain (the API's own execute-api URL)",
    "CertificateArn": "empty: only with an empty DomainName (a template Rule refuses the pair)",
    "EmailSender": "empty: no invoice email",
    "SmsSenderId": "empty: the carrier's default sender",
    "AlarmTopicArn": "empty: alarms show in CloudWatch only",
    "TelegramBotTokenParameter": "empty: no Telegram notifications",
    "KavenegarApiKeyParameter": "empty: only with SmsProvider sns (a template Rule refuses kavenegar)",
    "InquiryTokenParameter": "empty: no identity checks (sign-up and refunds refuse rather than guess)",
}
SECRET_WORDS = re.compile(r"token|secret|password|passwd|apikey|api_key|credential|privatekey", re.IGNORECASE)
NAME_SUFFIXES = ("_PARAMETER", "_PARAM")
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")
SETTLE_FUNCTIONS = ("SettleFunction", "SettleWorkerFunction")


def _functions(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            yield logical_id, resource.get("Properties") or {}


def environments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's environment as deployed: Globals, then its own Variables."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {
        logical_id: {**shared, **(props.get("Environment", {}).get("Variables") or {})}
        for logical_id, props in _functions(template)
    }


def _refs(value: Any) -> set[str]:
    """Every parameter or resource a value refers to (Ref, and ${X} inside Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", str(text)))
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def _secret_value_variables() -> set[str]:
    from pydantic import SecretStr

    from paylink.core.settings import SECRET_VALUE_VARIABLES, Settings

    secret_fields = {
        str(field.alias)
        for field in Settings.model_fields.values()
        if field.annotation is SecretStr and field.alias
    }
    return set(SECRET_VALUE_VARIABLES) | secret_fields


def _is_name_parameter(spec: dict[str, Any]) -> bool:
    return str(spec.get("AllowedPattern", "")).startswith(("^/", "^(/"))


def _ssm_resources(props: dict[str, Any]) -> list[Any]:
    """Resources of every statement that allows ssm:GetParameter* in a function's policies."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            actions = node.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            if any(str(a).lower().startswith("ssm:getparameter") for a in actions):
                resource = node.get("Resource")
                found.extend(resource if isinstance(resource, list) else [resource])
            for inner in node.values():
                walk(inner)
        elif isinstance(node, list):
            for inner in node:
                walk(inner)

    walk(props.get("Policies") or [])
    return found


def check_secrets(template: dict[str, Any]) -> list[str]:
    findings: list[str] = []
    parameters = template.get("Parameters") or {}
    forbidden = _secret_value_variables()
    for name, spec in parameters.items():
        if SECRET_WORDS.search(name) and not (name.endswith("Parameter") and _is_name_parameter(spec)):
            findings.append(f"parameter {name} looks like a secret: take an SSM parameter name (*Parameter)")
    for function, env in environments(template).items():
        props = dict(_functions(template))[function]
        granted = _ssm_resources(props)
        for resource in granted:
            if resource == "*" or (isinstance(resource, str) and resource.endswith(":*")):
                findings.append(f"{function}: ssm:GetParameter on {resource!r}, not on named parameters")
        for variable, value in env.items():
            if variable in forbidden:
                findings.append(f"{function}: {variable} puts a secret's value in the environment")
            for ref in _refs(value):
                if parameters.get(ref, {}).get("NoEcho"):
                    findings.append(f"{function}: {variable} takes the NoEcho parameter {ref}")
            if not variable.endswith(NAME_SUFFIXES):
                continue
            refs = _refs(value) & set(parameters)
            if isinstance(value, dict) and "Ref" in value:
                if not _is_name_parameter(parameters.get(value["Ref"], {})):
                    findings.append(f"{function}: {variable} refs {value['Ref']}, which is not an SSM name")
            elif not (isinstance(value, str) and value.startswith("/")) and not (
                isinstance(value, dict) and str(value.get("Fn::Sub", "")).startswith("/")
            ):
                findings.append(f"{function}: {variable} is not an SSM parameter name")
            if not granted:
                findings.append(f"{function}: {variable} names a parameter it may not read")
            elif refs and not any(_refs(resource) & refs for resource in granted):
                findings.append(f"{function}: no ssm:GetParameter on the parameter {variable} names")
    return findings


def check_payouts(template: dict[str, Any]) -> list[str]:
    from paylink.core.settings import Settings

    findings: list[str] = []
    parameters = template.get("Parameters") or {}
    default = Settings.model_fields["payout_provider"].default
    envs = environments(template)
    for function in SETTLE_FUNCTIONS:
        if function not in envs:
            continue
        value = envs[function].get("PAYLINK_PAYOUT_PROVIDER")
        if value is None:
            if default == "sandbox":
                findings.append(
                    f"{function}: PAYLINK_PAYOUT_PROVIDER unset, so payouts default to the sandbox"
                )
        elif isinstance(value, dict) and "Ref" in value:
            if str(parameters.get(value["Ref"], {}).get("Default", "")).lower() == "sandbox":
                findings.append(f"{function}: parameter {value['Ref']} defaults payouts to the sandbox")
        elif str(value).lower() == "sandbox":
            findings.append(f"{function}: PAYLINK_PAYOUT_PROVIDER is the sandbox")
    return findings


def check_required(template: dict[str, Any]) -> list[str]:
    findings: list[str] = []
    parameters = template.get("Parameters") or {}
    used: set[str] = set()
    for env in environments(template).values():
        for value in env.values():
            used |= _refs(value)
    for name in sorted(used & set(parameters)):
        spec = parameters[name]
        if (
            "Default" in spec
            and str(spec["Default"]).strip() in ("", "[]", "{}")
            and name not in OPTIONAL_PARAMETERS
        ):
            findings.append(f"parameter {name} is required but defaults to empty ({spec['Default']!r})")
    return findings


def check_layer(layer: Path) -> list[str]:
    python = layer / "python"
    return [
        f"the layer ships {name} (it shadows the runtime's)"
        for name in RUNTIME_SDK
        if (python / name).exists()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--layer", type=Path, help="a built layer folder to check too")
    args = parser.parse_args(argv)
    template = load_template(args.template)
    findings = check_secrets(template) + check_payouts(template) + check_required(template)
    if args.layer:
        findings += check_layer(args.layer)
    for finding in findings:
        print(f"check_deploy: {finding}", file=sys.stderr)
    if not findings:
        print("check_deploy: no secret in an environment, no sandbox payout, no empty required setting")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
