"""Fixtures of the panel tests: codes captured from the SMS adapter, the inquiry sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.sandbox import Sandbox
from tests.integration.panel.support import INQUIRY_TOKEN_NAME, PANEL_KEY_NAME, PHONE, to_e164


class Texts:
    """Codes 'sent' by SMS, newest last, per phone as the adapter received it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def last(self, phone: str = PHONE) -> str:
        wanted = phone if phone.startswith("+") else to_e164(phone)
        return [code for to, code in self.sent if to == wanted][-1]


@pytest.fixture(autouse=True)
def panel_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel's keyed-hash key in moto's SSM, named in the environment, as a deploy puts it."""
    if "aws" not in request.fixturenames:
        return
    request.getfixturevalue("aws")
    import boto3

    from tests.helpers import reset_caches

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=PANEL_KEY_NAME, Value="test-panel-key-0123456789abcdef", Type="SecureString", Overwrite=True
    )
    monkeypatch.setenv("PAYLINK_PANEL_KEY_PARAMETER", PANEL_KEY_NAME)
    reset_caches()


@pytest.fixture
def texts(monkeypatch: pytest.MonkeyPatch) -> Texts:
    """Sign-in codes captured where they would be texted (Kavenegar or SNS: test_signin_sns.py)."""
    from paylink.panel import codes

    box = Texts()

    def fake_deliver(phone: str, code: str) -> None:
        box.sent.append((phone, code))

    monkeypatch.setattr(codes, "_deliver", fake_deliver)
    return box


@pytest.fixture
def inquiry(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    import boto3

    from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN
    from tests.helpers import reset_caches

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=INQUIRY_TOKEN_NAME, Value=SANDBOX_TOKEN, Type="SecureString", Overwrite=True
    )
    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", f"{box.url}/inq")
        monkeypatch.setenv("PAYLINK_INQUIRY_TOKEN_PARAMETER", INQUIRY_TOKEN_NAME)
        reset_caches()
        yield box
