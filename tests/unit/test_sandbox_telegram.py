"""The sandbox's Telegram Bot API over real HTTP: JSON, form and multipart calls, errors, modes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.telegram import BOT_USERNAME, SANDBOX_BOT_TOKEN

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(instances={"tg": "telegram"}, port=0, slow_seconds=1.0) as box:
        yield box


def _url(sandbox: Sandbox, method: str, token: str = SANDBOX_BOT_TOKEN) -> str:
    return f"{sandbox.url}/tg/bot{token}/{method}"


def test_get_me_names_the_bot(sandbox: Sandbox):
    answer = httpx.post(_url(sandbox, "getMe"))
    assert answer.json()["ok"] is True
    assert answer.json()["result"]["username"] == BOT_USERNAME


def test_a_wrong_token_is_unauthorized(sandbox: Sandbox):
    answer = httpx.post(_url(sandbox, "getMe", "1:wrong"))
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_an_unknown_method_is_not_found(sandbox: Sandbox):
    assert httpx.post(_url(sandbox, "sendDice")).json()["error_code"] == 404


def test_send_message_in_json_or_form_is_recorded_with_its_text(sandbox: Sandbox):
    httpx.post(_url(sandbox, "sendMessage"), json={"chat_id": 42, "text": "سلام"})
    httpx.post(_url(sandbox, "sendMessage"), data={"chat_id": "42", "text": "hello"})
    bodies = [c["body"] for c in sandbox.calls("tg") if c["path"].endswith("/sendMessage")]
    assert [b["text"] for b in bodies] == ["سلام", "hello"]


def test_an_empty_message_is_a_bad_request(sandbox: Sandbox):
    answer = httpx.post(_url(sandbox, "sendMessage"), json={"chat_id": 42, "text": " "})
    assert (answer.status_code, answer.json()["error_code"]) == (400, 400)


def test_an_uploaded_photo_is_recorded_as_a_description_not_bytes(sandbox: Sandbox):
    files = {"photo": ("qr.png", PNG, "image/png")}
    answer = httpx.post(_url(sandbox, "sendPhoto"), data={"chat_id": "42", "caption": "QR"}, files=files)
    assert answer.json()["ok"] is True
    body = next(c["body"] for c in sandbox.calls("tg") if c["path"].endswith("/sendPhoto"))
    assert body["photo"] == {"filename": "qr.png", "content_type": "image/png", "size": len(PNG), "png": True}


def test_set_webhook_takes_https_and_a_secret_of_telegrams_alphabet(sandbox: Sandbox):
    ok = httpx.post(
        _url(sandbox, "setWebhook"),
        json={"url": "https://pay.example/telegram/webhook", "secret_token": "abc_DEF-123"},
    )
    bad_secret = httpx.post(
        _url(sandbox, "setWebhook"), json={"url": "https://x.example", "secret_token": "a b"}
    )
    plain_http = httpx.post(_url(sandbox, "setWebhook"), json={"url": "http://pay.example/hook"})
    assert ok.json() == {"ok": True, "result": True}
    assert (bad_secret.status_code, plain_http.status_code) == (400, 400)
    info = httpx.post(_url(sandbox, "getWebhookInfo")).json()["result"]
    assert info["url"] == "https://pay.example/telegram/webhook"


def test_flood_mode_answers_429_with_retry_after(sandbox: Sandbox):
    sandbox.set_mode("tg", "flood")
    answer = httpx.post(_url(sandbox, "sendMessage"), json={"chat_id": 42, "text": "hi"})
    assert answer.status_code == 429
    assert answer.json()["parameters"]["retry_after"] == 5


def test_blocked_mode_answers_403_bot_was_blocked(sandbox: Sandbox):
    sandbox.set_mode("tg", "blocked")
    answer = httpx.post(_url(sandbox, "sendMessage"), json={"chat_id": 42, "text": "hi"})
    assert answer.status_code == 403
    assert "blocked by the user" in answer.json()["description"]


def test_down_mode_fails_every_call(sandbox: Sandbox):
    sandbox.set_mode("tg", "down")
    assert httpx.post(_url(sandbox, "sendMessage"), json={"chat_id": 42, "text": "hi"}).status_code == 502
