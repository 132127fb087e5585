"""Secrets come from SSM Parameter Store by name (paylink/secrets.py), as deployed: the gateways'
merchant ids and the Telegram bot token never sit in a function's environment."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, reset_caches

CREDENTIALS = "/paylink/test/gateway-credentials"


@pytest.fixture
def ssm(aws: str) -> Any:
    return boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def split_gateways(ssm: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The deployed shape: a plain list without merchant ids, the ids in a SecureString."""
    plain = [
        {"name": "sandbox-a", "protocol": "zibal", "base_url": f"{sandbox.url}/a", "timeout_seconds": 1.0}
    ]
    ssm.put_parameter(
        Name=CREDENTIALS,
        Type="SecureString",
        Value=json.dumps({"sandbox-a": {"merchant_id": sandbox.merchant}}),
    )
    monkeypatch.setenv("PAYLINK_GATEWAYS", json.dumps(plain))
    monkeypatch.setenv("PAYLINK_GATEWAY_CREDENTIALS_PARAMETER", CREDENTIALS)
    reset_caches()
    return plain


def test_a_payment_reaches_the_gateway_with_the_merchant_id_read_from_ssm(
    api, gateways, merchant, split_gateways
):  # type: ignore[no-untyped-def]
    # Given gateways whose merchant id is only in SSM
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]
    # When a buyer starts a payment and pays at the gateway
    started = api.post_form(f"/{code}", {"name": "Ali", "phone": "09121234567"})
    # Then the gateway accepted our merchant id (it refuses an unknown one) and sent the buyer back
    assert started.status == 303, started.text
    assert "/callback/sandbox-a" in act_at_gateway(started.location)


def test_a_secret_is_served_from_the_cache_within_five_minutes(split_gateways, ssm):  # type: ignore[no-untyped-def]
    # Given the credentials were read once
    from paylink.core.secrets import secret

    first = secret(CREDENTIALS)
    # When the parameter changes in SSM and the secret is asked for again at once
    ssm.put_parameter(Name=CREDENTIALS, Type="SecureString", Value="{}", Overwrite=True)
    # Then the cached value is served (one GetParameter per five minutes, not one per payment)
    assert secret(CREDENTIALS) == first != "{}"


def test_no_parameter_name_means_no_secret_and_no_read(aws):  # type: ignore[no-untyped-def]
    # Given no parameter configured (Telegram turned off), When the secret is asked for
    from paylink.core.secrets import secret

    # Then it is empty, without any call to SSM (no credentials are needed for nothing)
    assert secret("") == ""


def test_a_plain_list_carrying_a_merchant_id_beside_the_parameter_is_refused(
    split_gateways, sandbox, monkeypatch
):  # type: ignore[no-untyped-def]
    # Given a deployer who also put the merchant id into the plain list
    leaked = [{**split_gateways[0], "merchant_id": sandbox.merchant}]
    monkeypatch.setenv("PAYLINK_GATEWAYS", json.dumps(leaked))
    reset_caches()
    from paylink.payments.routing import adapters

    # When the gateways are built, Then it fails loudly instead of using a secret in plain sight
    with pytest.raises(ValueError, match="credentials parameter"):
        adapters()


def test_a_gateway_missing_from_the_credentials_is_refused(split_gateways, ssm, monkeypatch):  # type: ignore[no-untyped-def]
    # Given credentials that name another gateway
    ssm.put_parameter(
        Name=CREDENTIALS,
        Type="SecureString",
        Value=json.dumps({"other": {"merchant_id": "x"}}),
        Overwrite=True,
    )
    reset_caches()
    from paylink.payments.routing import adapters

    # When the gateways are built, Then the missing credentials are named (never a value)
    with pytest.raises(ValueError, match="no valid credentials for 'sandbox-a'"):
        adapters()


def test_a_missing_parameter_fails_loudly(monkeypatch, aws):  # type: ignore[no-untyped-def]
    # Given a function pointed at a parameter nobody created
    monkeypatch.setenv("PAYLINK_GATEWAY_CREDENTIALS_PARAMETER", "/paylink/test/nothing-here")
    reset_caches()
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from paylink.payments.routing import adapters

    # When the gateways are built, Then the read fails (no silent empty gateway list)
    with pytest.raises(GetParameterError):
        adapters()
