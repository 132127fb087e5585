"""Shared fixtures of the panel tests: codes captured from the SMS adapter, the inquiry sandbox,
a browser-like client that keeps its session cookie."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.helpers import Answer, ApiClient

if TYPE_CHECKING:
    from tests.integration.panel.conftest import Texts

PHONE = "09121234567"
COOKIE = "__Host-paylink_session"  # paylink.panel.sessions.COOKIE
NATIONAL_CODE = "0499370899"
IBAN = "IR062960000000100324200001"
INQUIRY_TOKEN_NAME = "/paylink/test/inquiry-token"
PANEL_KEY_NAME = "/paylink/test/panel-key"
DEVICE_COOKIE = "__Host-paylink_device"  # paylink.panel.sessions.DEVICE_COOKIE
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "https://pay.example"}


class Browser:
    """A client that keeps the session cookie it is given, posting forms as a same-origin page."""

    def __init__(self, source_ip: str = "203.0.113.9") -> None:
        self.client = ApiClient(source_ip)
        self.cookie = ""
        self.device = ""  # the device cookie (name=value) given at a sign-in, kept across sign-outs
        self.phone = PHONE  # the phone it last signed in as

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        jar = "; ".join(part for part in (self.cookie, self.device) if part)
        return {**({"cookie": jar} if jar else {}), **(extra or {})}

    def _keep(self, answer: Answer) -> Answer:
        for value in answer.cookies:
            name_value = value.split(";", 1)[0]
            if name_value.startswith(f"{COOKIE}="):
                self.cookie = "" if name_value == f"{COOKIE}=" else name_value
            if name_value.startswith(f"{DEVICE_COOKIE}="):
                self.device = "" if name_value == f"{DEVICE_COOKIE}=" else name_value
        return answer

    def get(self, target: str) -> Answer:
        return self._keep(self.client.request("GET", target, headers=self._headers()))

    def post(self, target: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        answer = self.client.request(
            "POST",
            target,
            body=urlencode(fields).encode(),
            headers=self._headers(
                {"content-type": "application/x-www-form-urlencoded", **(headers or SAME_ORIGIN)}
            ),
        )
        return self._keep(answer)

    def sign_in(self, texts: Texts, phone: str = PHONE) -> Answer:
        self.phone = phone
        sent = self.post("/login", {"phone": phone})
        assert sent.status == 200, sent.text
        return self.post("/login/verify", {"phone": hidden(sent.text, "phone"), "code": texts.last(phone)})


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def to_e164(phone: str) -> str:
    return "+98" + phone[1:]


def national_code_of(phone: str) -> str:
    """A checksum-valid national code for the owner of `phone` (NATIONAL_CODE for PHONE): one
    personal account per person, so each test phone has its own person."""
    if phone in (PHONE, to_e164(PHONE)):
        return NATIONAL_CODE
    nine = phone[-9:]
    total = sum(int(nine[i]) * (10 - i) for i in range(9)) % 11
    return nine + str(total if total < 2 else 11 - total)


def sign_up(browser: Browser, **fields: Any) -> Answer:
    form = {"name": "Scarf Shop", "username": "scarves", "national_code": national_code_of(browser.phone),
            "iban": IBAN, "birth_date": "1370/01/31", **fields}  # fmt: skip
    return browser.post("/signup", form)


def signed_up(texts: Any, phone: str, username: str, ip: str) -> Browser:
    """A browser at `ip` that signed in as `phone` and signed up as `username`."""
    browser = Browser(ip)
    browser.sign_in(texts, phone=phone)
    assert sign_up(browser, username=username).status == 303
    return browser
