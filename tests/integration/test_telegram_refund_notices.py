# ruff: noqa: F811  (the fixtures imported from test_webhooks are used as arguments)
"""Refunds announced in a merchant's linked Telegram chats (issue 17's notices, issue 15's events):
a refund that succeeded or failed is told once in each chat, in its language; a refund only
created is not (the chats hear of its end)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from tests.integration.test_telegram_notices import SEND, Queue, _deliver, _texts
from tests.integration.test_webhooks import BOT_TOKEN, _queued, notify, sqs  # noqa: F401
from tests.settlement_data import add_paid_payment

OK = {"ok": True, "result": {}}


@pytest.fixture
def chats(store, merchant, notify, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two chats linked to the merchant, one Persian and one English."""
    from paylink.bot.linking import _hash, link_chat
    from paylink.core.settings import get_settings

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    get_settings.cache_clear()
    for chat_id, lang in ((111, "fa"), (222, "en")):
        store.put_telegram_token(_hash(f"t{chat_id}"), merchant.id, int(time.time()) + 600)
        assert link_chat(store, f"t{chat_id}", chat_id, lang)[0] == "linked"


def _refund_event(store: Any, merchant: Any, sqs: Any, queue_url: str, status: str) -> str:
    """The queued body of a 250,000-rial refund of a paid payment, at `status`."""
    from paylink.core.models import Refund, RefundMethod, RefundStatus
    from paylink.refunds.service import emit_refund_event

    payment = add_paid_payment(store, merchant, "pay_refunded0000000000001", 1_000_000)
    refund = Refund(
        id="ref_telegram00000000000001", payment_id=payment.id, merchant_id=merchant.id, amount=250_000,
        status=RefundStatus(status), method=RefundMethod.TRANSFER, created_at="2026-12-02T07:00:00.000000Z",
    )  # fmt: skip
    assert emit_refund_event(refund, store) is not None
    [message] = _queued(sqs, queue_url)
    return str(message["Body"])


def test_a_succeeded_refund_is_told_once_in_each_linked_chat_in_its_language(
    store,
    merchant,
    chats,
    sqs,
    notify,
):
    body = _refund_event(store, merchant, sqs, notify["NotifyQueue"], "succeeded")
    queue = Queue()
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(SEND).mock(return_value=httpx.Response(200, json=OK))
        # When the event is delivered, and a copy of it again
        _deliver(store, body, queue, time.time())
        _deliver(store, body, queue, time.time() + 10)
    told = dict(_texts(route))
    assert len(route.calls) == 2
    assert told["111"].startswith("بازپرداخت انجام شد: ۲۵٬۰۰۰ تومان")
    assert "«Scarf»" in told["111"]
    assert told["222"] == "Refund done: 25,000 Toman for \u201cScarf\u201d\nId: ref_telegram00000000000001"


def test_a_failed_refund_is_told_too_and_says_the_money_is_back_in_the_balance(
    store,
    merchant,
    chats,
    sqs,
    notify,
):
    body = _refund_event(store, merchant, sqs, notify["NotifyQueue"], "failed")
    with respx.mock() as mock:
        route = mock.post(SEND).mock(return_value=httpx.Response(200, json=OK))
        _deliver(store, body, Queue(), time.time())
    told = dict(_texts(route))
    assert told["222"].startswith("Refund failed: 25,000 Toman")
    assert "back in your balance" in told["222"]
    assert told["111"].startswith("بازپرداخت انجام نشد")


def test_a_refund_only_created_is_not_told_in_the_linked_chats(store, merchant, chats, sqs, notify):
    from paylink.core.models import Refund

    body = _refund_event(store, merchant, sqs, notify["NotifyQueue"], "awaiting_payer")
    assert json.loads(body)["type"] == "refund.created"
    # (refund.created is queued just before its refund's write and delivered once it is written)
    refund = Refund.model_validate(json.loads(body)["data"] | {"merchant_id": merchant.id})
    assert store._put_new(store._refund_item(refund))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(SEND).mock(return_value=httpx.Response(200, json=OK))
        _deliver(store, body, Queue(), time.time())
    assert route.calls.call_count == 0
