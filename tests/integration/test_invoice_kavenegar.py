"""An invoice sent by SMS goes through Kavenegar (PAYLINK_SMS_PROVIDER=kavenegar), with the key read
from SSM, and the sandbox's Kavenegar instance records the receptor and the text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.kavenegar import SANDBOX_API_KEY
from tests.conftest import TEST_API_KEY

PAYER = {"name": "Sara Ahmadi", "phone": "+989121234567"}
KEY_NAME = "/paylink/test/kavenegar-api-key"


@pytest.fixture
def sms(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The sandbox's Kavenegar instance, its key in (moto's) SSM, the notifier pointed at it."""
    import boto3

    from paylink.notify.messages import notifiers
    from tests.helpers import reset_caches

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=KEY_NAME, Value=SANDBOX_API_KEY, Type="SecureString", Overwrite=True
    )
    with Sandbox(instances={"sms": "kavenegar"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_SMS_PROVIDER", "kavenegar")
        monkeypatch.setenv("PAYLINK_KAVENEGAR_API_URL", f"{box.url}/sms")
        monkeypatch.setenv("PAYLINK_KAVENEGAR_API_KEY_PARAMETER", KEY_NAME)
        reset_caches()
        yield box
    notifiers.cache_clear()


def _sent(box: Sandbox) -> list[dict[str, Any]]:
    calls = httpx.get(f"{box.url}/sms/calls").json()
    return [c for c in calls if c["kind"] == "api" and c["path"].endswith("/sms/send.json")]


def test_an_invoice_sent_by_sms_reaches_kavenegar(api, merchant, sms):  # type: ignore[no-untyped-def]
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": PAYER}
    created = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert created.status == 201, created.text
    invoice = created.json()

    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)

    assert answer.status == 200, answer.text
    [call] = _sent(sms)
    assert call["path"] == f"/v1/{SANDBOX_API_KEY}/sms/send.json"
    assert call["body"]["receptor"] == "09121234567"
    assert invoice["url"] in call["body"]["message"]
    assert call["http_status"] == 200
    assert call["result"] == 200


def test_a_provider_refusal_is_a_503_not_a_500(api, merchant, sms):  # type: ignore[no-untyped-def]
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": PAYER}
    invoice = api.post_json("/v1/links", body, key=TEST_API_KEY).json()
    sms.set_mode("sms", "no_credit")

    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)

    assert answer.status == 503
    assert answer.json()["error"]["code"] == "sms_unavailable"
    assert "0912" not in answer.text
