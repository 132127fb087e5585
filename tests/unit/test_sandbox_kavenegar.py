"""The sandbox's Kavenegar SMS API over real HTTP, driven as any client of Kavenegar's published
REST API would (form posts to /v1/{API_KEY}/...), and its recorded calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.kavenegar import SANDBOX_API_KEY


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={"sms": "kavenegar"}, port=0, slow_seconds=1.0) as box:
        yield box


def _post(sandbox: Sandbox, method: str, form: dict[str, str], key: str = SANDBOX_API_KEY) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/sms/v1/{key}/{method}.json", data=form, timeout=5.0)


def _calls(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [c for c in httpx.get(f"{sandbox.url}/sms/calls").json() if c["kind"] == "api"]


def test_the_instance_is_listed_with_its_protocol_and_key(sandbox: Sandbox) -> None:
    listed = httpx.get(f"{sandbox.url}/").json()["instances"]

    assert listed == [{"name": "sms", "mode": "ok", "protocol": "kavenegar", "merchant": SANDBOX_API_KEY}]


def test_send_answers_the_envelope_with_an_entry_per_receptor(sandbox: Sandbox) -> None:
    answer = _post(sandbox, "sms/send", {"receptor": "09121234567,09351234567", "message": "سلام"})

    body = answer.json()
    assert answer.status_code == 200
    assert body["return"]["status"] == 200
    assert [e["receptor"] for e in body["entries"]] == ["09121234567", "09351234567"]
    assert set(body["entries"][0]) >= {"messageid", "status", "statustext", "receptor", "date", "cost"}


def test_a_code_sent_by_lookup_is_read_from_the_recorded_calls(sandbox: Sandbox) -> None:
    _post(sandbox, "verify/lookup", {"receptor": "09121234567", "template": "otp", "token": "482913"})

    call = _calls(sandbox)[-1]
    assert call["path"].endswith("/verify/lookup.json")
    assert call["body"]["receptor"] == "09121234567"
    assert call["body"]["token"] == "482913"
    assert call["http_status"] == 200
    assert call["mode"] == "ok"


def test_a_wrong_api_key_is_refused_in_the_envelope(sandbox: Sandbox) -> None:
    answer = _post(sandbox, "sms/send", {"receptor": "09121234567", "message": "x"}, key="wrong")

    assert answer.json()["return"]["status"] == 403
    assert answer.json()["entries"] is None


def test_a_bad_receptor_is_411(sandbox: Sandbox) -> None:
    answer = _post(sandbox, "sms/send", {"receptor": "12345", "message": "x"})

    assert answer.json()["return"]["status"] == 411


def test_no_credit_mode_answers_418(sandbox: Sandbox) -> None:
    sandbox.set_mode("sms", "no_credit")

    answer = _post(sandbox, "verify/lookup", {"receptor": "09121234567", "template": "otp", "token": "1"})

    assert answer.json()["return"]["status"] == 418


def test_status_says_delivered_and_blocked_mode_says_blocked(sandbox: Sandbox) -> None:
    sent = _post(sandbox, "sms/send", {"receptor": "09121234567", "message": "a"}).json()["entries"][0]
    sandbox.set_mode("sms", "blocked")
    blocked = _post(sandbox, "sms/send", {"receptor": "09121234567", "message": "b"}).json()["entries"][0]

    ids = f"{sent['messageid']},{blocked['messageid']},1"
    entries = _post(sandbox, "sms/status", {"messageid": ids}).json()["entries"]

    assert [e["status"] for e in entries] == [10, 14, 100]


def test_down_mode_answers_an_html_502(sandbox: Sandbox) -> None:
    sandbox.set_mode("sms", "down")

    answer = _post(sandbox, "sms/send", {"receptor": "09121234567", "message": "x"})

    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
