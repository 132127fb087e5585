"""template.yaml: the reconciler, which carries refunds on, has what their providers need."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import functions, load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _ssm_resources(template: dict[str, Any], function_id: str) -> str:
    """Every ssm:GetParameter resource granted to a function (conditional ones included), as text."""
    found = []
    for policy in template["Resources"][function_id]["Properties"]["Policies"]:
        branches = policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]
        for branch in branches:
            for statement in branch.get("Statement", []) if isinstance(branch, dict) else []:
                if "ssm:GetParameter" in statement.get("Action", []):
                    found.append(str(statement["Resource"]))
    return " ".join(found)


def test_the_reconciler_gets_the_payout_sms_and_site_settings_of_refunds(template):
    # Given the reconciler's environment (a pending transfer asked about and sent again; an expired
    # payer link texted anew, with the site's address)
    environment = functions(template)["ReconcileFunction"].environment
    # Then it names the payout provider and stage, its keys' SSM names, the SMS key and the site
    assert environment["PAYLINK_PAYOUT_PROVIDER"] == {"Ref": "PayoutProvider"}
    assert environment["PAYLINK_STAGE"] == {"Ref": "Stage"}
    assert environment["PAYLINK_KAVENEGAR_API_KEY_PARAMETER"] == {"Ref": "KavenegarApiKeyParameter"}
    assert "PUBLIC_BASE_URL" in environment
    # And it may read exactly those secrets: the payout keys and the Kavenegar key
    granted = _ssm_resources(template, "ReconcileFunction")
    assert "payout/api-key" in granted
    assert "payout/secret-key" in granted
    assert "KavenegarApiKeyParameter" in granted
