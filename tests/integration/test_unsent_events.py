"""Events the notify queue refused, kept for the reconciler (notify.events.resend_unsent): one the
queue refuses for good, or a malformed kept item, must not hold back the others; and no buyer's
input may make an event the queue refuses for good (SQS takes no U+FFFE/U+FFFF in a body)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.integration.test_webhooks import _queued, notify, sqs  # noqa: F401

# What SQS takes in a message body (SendMessage): anything else and the message is refused.
SQS_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def _keep(store: Any, event_id: str, at: int) -> None:
    body = json.dumps({"id": event_id, "type": "payment.paid"})
    store.keep_unsent_event(event_id, body, {"event_id": event_id, "event_type": "payment.paid"}, at)


def test_a_kept_event_the_queue_refuses_for_good_does_not_hold_back_the_others(
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    monkeypatch,
):
    from paylink.notify.events import resend_unsent
    from paylink.notify.queues import RawQueue

    # Given three kept events, the oldest of which the queue refuses every time (e.g. its body)
    ids = [f"evt_{n:024d}" for n in range(3)]
    for at, event_id in enumerate(ids):
        _keep(store, event_id, 1_800_000_000 + at)
    poison = next(item["event_id"] for item in store.unsent_events())
    working = RawQueue.send_text

    def refusing(self: RawQueue, body: str, attributes: dict[str, str] | None = None) -> None:
        if poison in body:
            raise ValueError("InvalidMessageContents")
        working(self, body, attributes)

    monkeypatch.setattr(RawQueue, "send_text", refusing)
    # When the reconciler sends the kept events
    sent = resend_unsent(store)
    # Then the two others went (and left the table); only the refused one waits
    assert sent == 2
    queued = {json.loads(m["Body"])["id"] for m in _queued(sqs, notify["NotifyQueue"])}
    assert queued == set(ids) - {poison}
    assert [item["event_id"] for item in store.unsent_events()] == [poison]


def test_a_malformed_kept_item_neither_crashes_the_reconciler_nor_holds_back_the_others(
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
):
    from paylink.notify.events import resend_unsent
    from paylink.store.notices import unsent_shard

    # Given a kept item without its body, event id or attributes, and a good one after it
    bad = "evt_" + "0" * 24
    store.client.put_item(
        TableName=store.table,
        Item={"pk": f"UNSENT#{bad}", "sk": "UNSENT", "gsi1pk": unsent_shard(bad), "gsi1sk": f"1#{bad}"},
    )
    good = bad.replace("0", "1")
    _keep(store, good, 1_800_000_000)
    # When the reconciler sends the kept events: Then it does not raise, the good one goes
    assert resend_unsent(store) == 1
    assert [json.loads(m["Body"])["id"] for m in _queued(sqs, notify["NotifyQueue"])] == [good]
    # And the malformed one is gone (it can never be sent) rather than tried every 5 minutes for a week
    assert store.unsent_events() == []


@pytest.mark.parametrize("name", ["\uffff", "Ali \ufffe"])
def test_no_payer_name_makes_an_event_body_sqs_refuses(name):
    from paylink.core.models import Payment, PaymentStatus
    from paylink.notify.events import build_event, encode

    # Given a payment whose buyer typed a noncharacter in their name (the checkout form takes it)
    payment = Payment(
        id="pay_x", merchant_id="m_x", link_code="L", link_title="Scarf", merchant_name="Shop",
        amount=1_000_000, status=PaymentStatus.PAID, payer={"name": name},
        created_at="2026-03-01T10:00:00.000000Z", paid_at="2026-03-01T10:00:00.000000Z",
    )  # fmt: skip
    event = build_event(payment, tz="Asia/Tehran", country="IR")
    # When its event is encoded for the queue
    body = encode(event)
    # Then the body is text SQS takes, and still the same JSON
    assert SQS_TEXT.fullmatch(body)
    assert json.loads(body) == event


def test_a_refund_event_the_queue_refuses_is_kept_and_queued_by_the_next_run(
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    monkeypatch,
):
    from paylink.core.models import Refund, RefundMethod, RefundStatus
    from paylink.notify.events import event_id, resend_unsent
    from paylink.notify.queues import RawQueue
    from paylink.refunds.service import emit_refund_event

    # Given a refund just created while the notify queue refuses every message
    refund = Refund(
        id="ref_roles0000000001", payment_id="pay_x", merchant_id="mer_x", amount=10_000,
        status=RefundStatus.PENDING, method=RefundMethod.REVERSE, created_at="2026-12-02T10:00:00.000000Z",
    )  # fmt: skip
    working = RawQueue.send_text

    def refusing(self: RawQueue, body: str, attributes: dict[str, str] | None = None) -> None:
        raise ConnectionError("sqs is down")

    monkeypatch.setattr(RawQueue, "send_text", refusing)
    assert emit_refund_event(refund, store) is None
    # When the queue is back and the reconciler's resend runs
    monkeypatch.setattr(RawQueue, "send_text", working)
    assert resend_unsent(store) == 1
    # Then refund.created is queued, with its own id
    [message] = _queued(sqs, notify["NotifyQueue"])
    event = json.loads(message["Body"])
    assert (event["id"], event["type"]) == (event_id(refund.id, "created"), "refund.created")
