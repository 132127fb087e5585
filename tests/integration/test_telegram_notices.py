"""Paid payments announced in a merchant's linked Telegram chats, through the notify queue's
deliveries (moto, respx for the Bot API): each chat told once, a flood retried, a blocked bot not."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from tests.integration.test_webhooks import (  # noqa: F401
    BOT_TOKEN,
    _queue_event_of_paid_payment,
    _queued,
    notify,
    sqs,
)

SEND = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 5",
    "parameters": {"retry_after": 5},
}
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}


class Queue:
    """What deliver() needs of the notify queue: hiding a message, dead-lettering one."""

    def __init__(self) -> None:
        self.hidden: list[int] = []
        self.sent: list[str] = []

    def hide_for(self, receipt_handle: str, seconds: int) -> None:
        self.hidden.append(seconds)

    def send_text(self, body: str, attributes: dict[str, str] | None = None) -> None:
        self.sent.append(body)


@pytest.fixture
def paid_event(api, store, merchant, notify, sqs, monkeypatch) -> str:  # type: ignore[no-untyped-def]  # noqa: F811
    """The queued body of a paid payment of a merchant with two linked chats (fa and en)."""
    from paylink.bot.linking import _hash, link_chat
    from paylink.core.settings import get_settings

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    get_settings.cache_clear()
    for chat_id, lang in ((111, "fa"), (222, "en")):
        store.put_telegram_token(_hash(f"t{chat_id}"), merchant.id, int(time.time()) + 600)
        assert link_chat(store, f"t{chat_id}", chat_id, lang)[0] == "linked"
    _queue_event_of_paid_payment(api, store, notify)
    return str(_queued(sqs, notify["NotifyQueue"])[0]["Body"])


def _deliver(store: Any, body: str, queue: Queue, now: float) -> Any:
    from paylink.notify.notifications import deliver

    return deliver(store, body, receipt_handle="r", queue=queue, dead_letters=queue, now=now)


def _texts(route: Any) -> list[tuple[str, str]]:
    return [
        (str(json.loads(c.request.content)["chat_id"]), json.loads(c.request.content)["text"])
        for c in route.calls
    ]


def test_each_linked_chat_is_told_once_in_its_language(store, paid_event):
    # Given a paid event and two linked chats
    queue = Queue()
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(SEND).mock(return_value=httpx.Response(200, json={"ok": True, "result": {}}))
        # When it is delivered, and a copy of it again
        _deliver(store, paid_event, queue, time.time())
        _deliver(store, paid_event, queue, time.time() + 10)
    # Then each chat got one message, Persian and English
    told = dict(_texts(route))
    assert len(route.calls) == 2
    assert "پرداخت تازه" in told["111"]
    assert told["222"].startswith("New payment: 123,456 Toman")


def test_a_flood_answer_is_retried_on_the_queues_schedule_and_tells_the_chat_once(store, paid_event):
    # Given Telegram answering 429 to the first messages
    from paylink.notify.notifications import RetryLater

    queue = Queue()
    with respx.mock() as mock:
        route = mock.post(SEND).mock(
            side_effect=[
                httpx.Response(429, json=FLOOD),
                httpx.Response(200, json={"ok": True, "result": {}}),
                httpx.Response(200, json={"ok": True, "result": {}}),
            ]
        )
        # When the event is delivered: the first try meets the flood
        with pytest.raises(RetryLater):
            _deliver(store, paid_event, queue, time.time())
        assert queue.hidden  # the message comes back at its next try
        # And the next tries go through
        _deliver(store, paid_event, queue, time.time() + 3600)
        _deliver(store, paid_event, queue, time.time() + 7200)
    # Then three messages went: the flooded one, the other chat's, the flooded one again; no more
    chats = [chat for chat, _ in _texts(route)]
    assert len(chats) == 3
    assert chats[2] == chats[0]
    assert sorted(chats[1:]) == ["111", "222"]


def test_a_chat_that_blocked_the_bot_is_not_retried(store, paid_event):
    # Given Telegram answering 403 (the bot was blocked) for every message
    queue = Queue()
    with respx.mock() as mock:
        route = mock.post(SEND).mock(return_value=httpx.Response(403, json=BLOCKED))
        # When the event is delivered twice
        _deliver(store, paid_event, queue, time.time())
        _deliver(store, paid_event, queue, time.time() + 3600)
    # Then each chat was tried once, and nothing waits for a retry
    assert len(route.calls) == 2
    assert queue.hidden == []
