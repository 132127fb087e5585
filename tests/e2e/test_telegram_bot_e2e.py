"""The merchants' Telegram bot over the local runner: real Telegram update JSON posted to the webhook,
the bot's replies read back from the Bot API sandbox (instance tg, `GET /tg/calls`)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import pytest

from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_update_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)
_chat_ids = itertools.count(700_000_000 + int(time.time()) % 1_000_000 * 100)


def _calls(runner: Runner) -> list[dict[str, Any]]:
    answer = httpx.get(f"{runner.sandbox_url}/tg/calls", timeout=10)
    assert answer.status_code == 200
    return [c for c in answer.json() if c["kind"] == "api"]


def _secret(runner: Runner) -> str:
    """The secret token the runner gave Telegram (the sandbox) in setWebhook at start."""
    hooks = [c for c in _calls(runner) if c["path"].endswith("/setWebhook")]
    assert hooks, "the runner registered no webhook"
    return str(hooks[-1]["body"]["secret_token"])


def _replies(runner: Runner, chat_id: int, method: str = "sendMessage") -> list[dict[str, Any]]:
    return [
        c["body"]
        for c in _calls(runner)
        if c["path"].endswith(f"/{method}") and str(c["body"].get("chat_id")) == str(chat_id)
    ]


def _update(chat_id: int, text: str, *, language: str = "fa", update_id: int | None = None) -> dict[str, Any]:
    """A Telegram Update with a private chat's text message, as Telegram posts it."""
    return {
        "update_id": next(_update_ids) if update_id is None else update_id,
        "message": {
            "message_id": 10,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Sara"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sara", "language_code": language},
            "text": text,
            **(
                {"entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}
                if text.startswith("/")
                else {}
            ),
        },
    }


def _post(runner: Runner, update: dict[str, Any], secret: str | None) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(f"{runner.url}/telegram/webhook", json=update, headers=headers, timeout=30)


def _say(runner: Runner, chat_id: int, text: str, language: str = "fa") -> list[dict[str, Any]]:
    """Post one message to the bot; the bot's new messages to that chat."""
    before = len(_replies(runner, chat_id))
    answer = _post(runner, _update(chat_id, text, language=language), _secret(runner))
    assert answer.status_code == 200, answer.text
    return _replies(runner, chat_id)[before:]


def _merchant_and_chat(runner: Runner, username: str, language: str = "fa") -> tuple[str, int]:
    """A new merchant (API key) with a chat linked through the deep link of POST /v1/telegram/link."""
    key = runner.create_merchant(username)
    chat_id = next(_chat_ids)
    link = httpx.post(
        f"{runner.url}/v1/telegram/link", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert link.status_code == 201, link.text
    token = link.json()["deep_link"].split("?start=")[1]
    replies = _say(runner, chat_id, f"/start {token}", language)
    assert len(replies) == 1
    return key, chat_id


def test_the_runner_registers_the_webhook_with_a_secret_and_the_command_menu(runner: Runner):
    # Given the runner started, When the sandbox's calls are read
    calls = _calls(runner)
    # Then setWebhook named our webhook, a secret token and the updates it takes
    hook = [c for c in calls if c["path"].endswith("/setWebhook")][-1]["body"]
    assert hook["url"] == f"{runner.url}/telegram/webhook"
    assert len(hook["secret_token"]) >= 32
    assert hook["allowed_updates"] == ["message"]
    # And the command menu was set in Persian (the default) and in English
    menus = [c["body"] for c in calls if c["path"].endswith("/setMyCommands")]
    assert {m.get("language_code", "") for m in menus} >= {"", "en"}
    assert {"new", "today", "balance", "links", "help", "stop"} <= {
        c["command"] for c in menus[0]["commands"]
    }


def test_the_deep_link_links_the_chat_once(runner: Runner):
    # Given a merchant's deep link
    key = runner.create_merchant("tgshop1")
    link = httpx.post(
        f"{runner.url}/v1/telegram/link", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert link.status_code == 201, link.text
    deep_link = link.json()["deep_link"]
    assert deep_link.startswith("https://t.me/paylink_sandbox_bot?start=")
    token = deep_link.split("?start=")[1]
    chat_id, other_chat = next(_chat_ids), next(_chat_ids)
    # When the chat sends /start <token>
    replies = _say(runner, chat_id, f"/start {token}", "en")
    # Then it is linked, and told so
    assert len(replies) == 1
    assert "linked" in replies[0]["text"]
    chats = httpx.get(
        f"{runner.url}/v1/telegram/chats", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert [c["id"] for c in chats.json()["items"]] == [str(chat_id)]
    # And the same token in another chat links nothing: it was used
    again = _say(runner, other_chat, f"/start {token}", "en")
    assert "already used" in again[0]["text"]
    assert "not linked" in _say(runner, other_chat, "/today", "en")[0]["text"]


def test_a_made_up_token_gets_a_helpful_reply_in_persian(runner: Runner):
    # Given a chat with no link, When it sends /start with a token never issued
    replies = _say(runner, next(_chat_ids), "/start notatokenweissued")
    # Then it is told, in Persian, where to get a new link
    assert len(replies) == 1
    assert "لینک تازه" in replies[0]["text"]


def test_a_chat_that_is_not_linked_changes_nothing(runner: Runner):
    # Given a chat that is not linked, When it asks for a new link
    chat_id = next(_chat_ids)
    replies = _say(runner, chat_id, "/new 50000 Scarf", "en")
    # Then it is told the chat is not linked, and no photo (no link) was made
    assert len(replies) == 1
    assert "not linked" in replies[0]["text"]
    assert _replies(runner, chat_id, "sendPhoto") == []


def test_new_makes_a_link_from_persian_digits_and_answers_its_url_and_qr(runner: Runner):
    # Given a linked chat
    key, chat_id = _merchant_and_chat(runner, "tgshop2")
    # When it sends /new with an amount in Persian digits and separators
    replies = _say(runner, chat_id, "/new ۱۵۰٬۰۰۰ شال دست‌باف")
    # Then the reply carries the link's URL, and a QR code came as a PNG photo
    assert len(replies) == 1
    url = next(w for w in replies[0]["text"].split() if w.startswith(runner.url))
    photos = _replies(runner, chat_id, "sendPhoto")
    assert len(photos) == 1
    assert photos[0]["photo"]["png"] is True
    assert url in photos[0]["caption"]
    # And the link is the merchant's, for 1,500,000 rials
    code = url.rsplit("/", 1)[1]
    link = httpx.get(f"{runner.url}/v1/links/{code}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert link.status_code == 200
    assert link.json()["amount"] == 1_500_000
    assert link.json()["title"] == "شال دست‌باف"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/new", "amount (in toman)"),
        ("/new abc Scarf", "is not an amount"),
        ("/new 150000", "Add a title"),
        ("/new 2,000,000 Carpet", "limit per payment"),
        ("/dance", "do not know that command"),
    ],
)
def test_bad_input_gets_a_helpful_reply(runner: Runner, text: str, expected: str):
    # Given a linked English-speaking chat (an account whose limit is 1,000,000 toman a payment)
    _, chat_id = _merchant_and_chat(runner, f"tgbad{abs(hash(text)) % 100_000}", "en")
    # When it sends bad input
    replies = _say(runner, chat_id, text, "en")
    # Then it gets one reply that says what to do, and no link
    assert len(replies) == 1
    assert expected in replies[0]["text"]
    assert _replies(runner, chat_id, "sendPhoto") == []


def test_help_today_balance_and_links_answer(runner: Runner):
    # Given a linked chat whose merchant made one link
    _, chat_id = _merchant_and_chat(runner, "tgshop3", "en")
    _say(runner, chat_id, "/new 25000 Mug", "en")
    # When it asks each command, Then each answers
    assert "/new" in _say(runner, chat_id, "/help", "en")[0]["text"]
    assert "0 payments" in _say(runner, chat_id, "/today", "en")[0]["text"]
    assert "Nothing waits" in _say(runner, chat_id, "/balance", "en")[0]["text"]
    links = _say(runner, chat_id, "/links", "en")[0]["text"]
    assert "Mug" in links
    assert "0 paid" in links


def test_a_paid_payment_is_announced_once_and_shows_in_today_and_balance(runner: Runner):
    # Given a linked chat and a link it made
    _, chat_id = _merchant_and_chat(runner, "tgshop4", "en")
    _say(runner, chat_id, "/new 12,345 Scarf", "en")
    code = _replies(runner, chat_id, "sendPhoto")[0]["caption"].rsplit("/", 1)[1]
    # When a buyer pays it
    with httpx.Client(timeout=15, follow_redirects=False) as http:
        started = http.post(f"{runner.url}/{code}", data={"name": "Ali", "phone": "09121234567"})
        back = act(http, open_gateway(http, started), "pay")
        assert back is not None
        assert back.deliver(http).status_code in (200, 303)
    # Then the chat is told, once, through the notify queue
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        notices = [r for r in _replies(runner, chat_id) if r["text"].startswith("New payment")]
        if notices:
            break
        time.sleep(0.5)
    assert len(notices) == 1
    assert "12,345" in notices[0]["text"]
    assert "Scarf" in notices[0]["text"]
    time.sleep(3)  # a second delivery, if any, would have come by now
    assert len([r for r in _replies(runner, chat_id) if r["text"].startswith("New payment")]) == 1
    # And /today and /balance count it
    assert "1 payments, 12,345" in _say(runner, chat_id, "/today", "en")[0]["text"]
    assert "You will receive (after fees): " in _say(runner, chat_id, "/balance", "en")[0]["text"]
    assert "1 paid" in _say(runner, chat_id, "/links", "en")[0]["text"]


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "x" * 64])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_answered(runner: Runner, secret: str | None):
    # Given a linked chat
    _, chat_id = _merchant_and_chat(runner, f"tgsec{next(_chat_ids) % 100_000}", "en")
    before = len(_replies(runner, chat_id))
    # When an update comes without Telegram's secret token
    answer = _post(runner, _update(chat_id, "/new 1000 Forged", language="en"), secret)
    # Then it is refused and the bot says nothing
    assert answer.status_code in (401, 403)
    assert len(_replies(runner, chat_id)) == before
    assert _replies(runner, chat_id, "sendPhoto") == []


def test_a_replayed_update_is_answered_once(runner: Runner):
    # Given a linked chat and one update
    _, chat_id = _merchant_and_chat(runner, "tgshop5", "en")
    update = _update(chat_id, "/new 30000 Tea", language="en")
    # When Telegram delivers it twice
    first = _post(runner, update, _secret(runner))
    second = _post(runner, update, _secret(runner))
    # Then both are acknowledged, and one link with one photo was made
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(_replies(runner, chat_id)) == 2  # "linked" and the link's URL
    assert len(_replies(runner, chat_id, "sendPhoto")) == 1


def test_stop_unlinks_the_chat(runner: Runner):
    # Given a linked chat
    key, chat_id = _merchant_and_chat(runner, "tgshop6", "en")
    # When it sends /stop
    assert "unlinked" in _say(runner, chat_id, "/stop", "en")[0]["text"]
    # Then its commands are refused and the panel lists no chat
    assert "not linked" in _say(runner, chat_id, "/today", "en")[0]["text"]
    chats = httpx.get(
        f"{runner.url}/v1/telegram/chats", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert chats.json()["items"] == []


def test_the_panel_unlinks_a_chat_of_its_own_only(runner: Runner):
    # Given two merchants, one with a linked chat
    key, chat_id = _merchant_and_chat(runner, "tgshop7", "en")
    other = runner.create_merchant("tgshop8")
    # When the other merchant tries to unlink it, Then 404 and it stays linked
    refused = httpx.delete(
        f"{runner.url}/v1/telegram/chats/{chat_id}", headers={"Authorization": f"Bearer {other}"}, timeout=30
    )
    assert refused.status_code == 404
    assert "No links yet" in _say(runner, chat_id, "/links", "en")[0]["text"]
    # When its own merchant unlinks it, Then it is unlinked
    done = httpx.delete(
        f"{runner.url}/v1/telegram/chats/{chat_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert done.status_code == 204
    assert "not linked" in _say(runner, chat_id, "/links", "en")[0]["text"]
