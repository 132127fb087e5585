"""Fixtures of the panel tests: codes captured from the SMS adapter, the inquiry sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.sandbox import Sandbox
from tests.integration.panel.support import INQUIRY_TOKEN_NAME, PHONE, to_e164


class Texts:
    """Codes 'sent' by SMS, newest last, per phone as the adapter received it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def last(self, phone: str = PHONE) -> str:
        wanted = phone if phone.startswith("+") else to_e164(phone)
        return [code for to, code in self.sent if to == wanted][-1]


@pytest.fixture
def texts(monkeypatch: pytest.MonkeyPatch) -> Texts:
    from paylink.notify import kavenegar

    box = Texts()

    def fake_send(phone: str, code: str, template: str | None = None) -> str:
        box.sent.append((phone, code))
        return "1"

    monkeypatch.setattr(kavenegar, "send_code", fake_send)
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
