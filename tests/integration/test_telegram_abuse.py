"""Strangers cannot spend the bot's sending budget (shared with merchants' payment notices): a chat
that is not linked gets a few answers an hour, then silence (still 200 to Telegram); a linked
group's members make at most NEW_LINKS_PER_HOUR links an hour by `/new`, told once at the limit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from paylink.bot.api import webhook_secret
from paylink.bot.commands import NEW_LINKS_PER_HOUR, UNLINKED_REPLIES
from tests.helpers import reset_caches

BOT_TOKEN = "123456:abuse-test-token"
STRANGER_CHAT = 4242
GROUP_CHAT = -100777


@pytest.fixture
def telegram(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Route]:
    """The Bot API answering ok; its route records what the bot sent."""
    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    reset_caches()
    with respx.mock() as mock:
        yield mock.post(url__regex=rf"^https://api\.telegram\.org/bot{BOT_TOKEN}/").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})
        )


def _update(update_id: int, chat_id: int, text: str, chat_type: str = "private") -> str:
    """A message update as Telegram sends it."""
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": 9001, "is_bot": False, "first_name": "X", "language_code": "en"},
                "chat": {"id": chat_id, "type": chat_type, "title": "Shop group"}
                if chat_type != "private"
                else {"id": chat_id, "type": "private", "first_name": "X"},
                "date": int(time.time()),
                "text": text,
            },
        }
    )


def _post(update: str) -> tuple[int, dict[str, Any]]:
    from paylink.bot.webhook import receive

    headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(BOT_TOKEN)}
    return receive(headers, update, "https://pay.example")


def _sent(route: respx.Route, chat_id: int) -> list[tuple[str, str]]:
    """(method, text or caption) of each Bot API call to this chat."""
    out = []
    for call in route.calls:
        method = call.request.url.path.rsplit("/", 1)[1]
        content = call.request.content
        if method == "sendPhoto":
            out.append((method, "photo"))
            continue
        body = json.loads(content)
        if body.get("chat_id") == chat_id:
            out.append((method, body.get("text", "")))
    return out


def test_a_stranger_chat_gets_a_few_answers_an_hour_then_silence(telegram):
    # When a chat that is not linked sends 40 messages
    answers = [_post(_update(1000 + i, STRANGER_CHAT, f"spam {i}")) for i in range(40)]
    # Then every update is acknowledged, but the bot answered only UNLINKED_REPLIES of them
    assert all(status == 200 for status, _ in answers)
    assert len(_sent(telegram, STRANGER_CHAT)) == UNLINKED_REPLIES


def test_a_stranger_guessing_link_tokens_gets_silence_past_the_budget(telegram):
    # When a chat that is not linked tries 20 made-up /start tokens
    for i in range(20):
        assert _post(_update(2000 + i, STRANGER_CHAT, f"/start guess{i}"))[0] == 200
    # Then it was answered only UNLINKED_REPLIES times
    assert len(_sent(telegram, STRANGER_CHAT)) == UNLINKED_REPLIES


def test_a_new_token_still_links_a_chat_that_spent_its_budget(telegram, store, merchant):
    from paylink.bot.linking import _hash

    for i in range(UNLINKED_REPLIES + 3):
        _post(_update(3000 + i, STRANGER_CHAT, "hello"))
    # Given the merchant's fresh link token
    store.put_telegram_token(_hash("fresh-token"), merchant.id, int(time.time()) + 600)
    # When the chat uses it, Then it is linked and told so
    _post(_update(3100, STRANGER_CHAT, "/start fresh-token"))
    assert store.telegram_chat(str(STRANGER_CHAT)) is not None
    assert len(_sent(telegram, STRANGER_CHAT)) == UNLINKED_REPLIES + 1
    assert "Scarf Shop" in _sent(telegram, STRANGER_CHAT)[-1][1]


def test_a_linked_groups_members_cannot_make_links_beyond_the_hourly_limit(telegram, store, merchant):
    from paylink.bot.linking import _hash

    store.put_telegram_token(_hash("group-token"), merchant.id, int(time.time()) + 600)
    _post(_update(4000, GROUP_CHAT, "/start group-token", "supergroup"))
    assert store.telegram_chat(str(GROUP_CHAT)) is not None
    # When the group's members send 40 /new commands within the hour
    for i in range(40):
        assert _post(_update(4100 + i, GROUP_CHAT, f"/new 5000 Tea {i}", "supergroup"))[0] == 200
    # Then NEW_LINKS_PER_HOUR links were made, and the group was told once that the limit is reached
    assert len(_all_links(store, merchant)) == NEW_LINKS_PER_HOUR
    texts = [text for method, text in _sent(telegram, GROUP_CHAT) if method == "sendMessage"]
    assert sum("limit" in text for text in texts) == 1
    assert len(texts) == 1 + NEW_LINKS_PER_HOUR + 1  # linked, one per link, the limit once


def _all_links(store, merchant):  # type: ignore[no-untyped-def]
    out, cursor = [], None
    while True:
        page, cursor = store.links_of(merchant.id, cursor)
        out += page
        if not cursor:
            return out
