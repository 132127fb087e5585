"""Refund rules without a table: which method, the payer's card check, events, the shown status."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from paylink.core.models import Payment, PaymentStatus, Refund, RefundMethod, RefundStatus, iso, utcnow
from paylink.refunds import payer, service

NOW = utcnow()


def _payment(protocol_gateway: str = "gw", minutes_ago: int = 5, **extra: object) -> Payment:
    return Payment(
        id="pay_x",
        merchant_id="mer_x",
        link_code="CODE",
        link_title="Scarf",
        merchant_name="Shop",
        amount=1_000_000,
        status=PaymentStatus.PAID,
        gateway=protocol_gateway,
        created_at=iso(NOW),
        paid_at=iso(NOW - timedelta(minutes=minutes_ago)),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def protocol(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    chosen: dict[str, str | None] = {"value": "zarinpal"}
    monkeypatch.setattr(service, "_protocol", lambda payment: chosen["value"])
    return chosen


@pytest.mark.parametrize(
    ("name", "minutes", "method"),
    [
        ("zarinpal", 10, RefundMethod.REVERSE),
        ("zarinpal", 29, RefundMethod.TRANSFER),  # within a minute of the window's end: not risked
        ("zarinpal", 31, RefundMethod.TRANSFER),
        ("payping", 20, RefundMethod.REVERSE),
        ("sep", 45, RefundMethod.REVERSE),
        ("sep", 51, RefundMethod.TRANSFER),
        ("zibal", 1, RefundMethod.TRANSFER),  # no reverse window here
    ],
)
def test_the_whole_payment_is_reversed_only_inside_its_gateways_window(protocol, name, minutes, method):
    protocol["value"] = name
    assert service.choose_method(_payment(minutes_ago=minutes), 1_000_000, NOW) is method


def test_a_partial_refund_is_never_reversed(protocol):
    assert service.choose_method(_payment(), 999_999, NOW) is RefundMethod.TRANSFER


def test_after_an_earlier_refund_the_rest_is_never_reversed(protocol):
    assert service.choose_method(_payment(amount_refunded=1_000), 999_000, NOW) is RefundMethod.TRANSFER


def test_a_settled_payment_is_never_reversed(protocol):
    settled = _payment().model_copy(update={"status": PaymentStatus.SETTLED})
    assert service.choose_method(settled, 1_000_000, NOW) is RefundMethod.TRANSFER


@pytest.mark.parametrize(
    ("card", "matches"),
    [
        ("6037991234561234", True),
        ("6037990000001234", True),
        ("6037981234561234", False),  # another bank prefix
        ("6037991234561235", False),  # another ending
    ],
)
def test_only_a_card_with_the_masks_first_six_and_last_four_matches(card, matches):
    assert payer.card_matches(card, "603799******1234") is matches


def test_no_card_matches_a_payment_without_a_masked_card():
    assert payer.card_matches("6037991234561234", None) is False


def test_the_payment_shows_refunded_once_its_refunds_reach_the_amount():
    assert service.shown_status(_payment(amount_refunded=999_999)) is PaymentStatus.PAID
    assert service.shown_status(_payment(amount_refunded=1_000_000)) is PaymentStatus.REFUNDED


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    def send_text(self, text: str, attributes: dict[str, str]) -> None:
        self.sent.append((text, attributes))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (RefundStatus.AWAITING_PAYER, "refund.created"),
        (RefundStatus.PENDING, "refund.created"),
        (RefundStatus.SUCCEEDED, "refund.succeeded"),
        (RefundStatus.FAILED, "refund.failed"),
    ],
)
def test_each_refund_change_is_one_event_with_a_stable_id(monkeypatch, status, kind):
    from paylink.notify import queues

    queue = Queue()
    monkeypatch.setattr(queues, "notify_queue", lambda: queue)
    refund = Refund(
        id="ref_1", payment_id="pay_x", merchant_id="mer_x", amount=5_000, status=status,
        method=RefundMethod.TRANSFER, created_at=iso(NOW), token_hash="secret-hash", iban="IR0000",
    )  # fmt: skip
    first, again = service.emit_refund_event(refund), service.emit_refund_event(refund)
    body = json.loads(queue.sent[0][0])
    assert first == again == body["id"]
    assert body["type"] == kind
    assert body["data"]["id"] == "ref_1"
    assert body["data"]["merchant_id"] == "mer_x"
    assert "secret-hash" not in queue.sent[0][0]
    assert "IR0000" not in queue.sent[0][0]


def test_a_refund_event_reads_as_a_notice_for_telegram_and_email(monkeypatch):
    from paylink.notify import queues
    from paylink.notify.notifications import notice_text

    queue = Queue()
    monkeypatch.setattr(queues, "notify_queue", lambda: queue)
    refund = Refund(
        id="ref_1", payment_id="pay_x", merchant_id="mer_x", amount=50_000, status=RefundStatus.SUCCEEDED,
        method=RefundMethod.REVERSE, created_at=iso(NOW),
    )  # fmt: skip
    service.emit_refund_event(refund)
    assert notice_text(json.loads(queue.sent[0][0])).startswith("refund.succeeded")


# ---- the gateway's hash of the paying card -----------------------------------------------------

PAYING_CARD = "6037991234561234"


@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_a_card_hashing_to_the_gateways_hash_matches_in_either_hex_case(case):
    import hashlib

    assert payer.card_hash_matches(PAYING_CARD, case(hashlib.sha256(PAYING_CARD.encode()).hexdigest()))


def test_another_card_of_the_same_mask_does_not_match_the_gateways_hash():
    import hashlib

    gateways = hashlib.sha256(PAYING_CARD.encode()).hexdigest().upper()
    assert not payer.card_hash_matches("6037990000001234", gateways)


def test_without_a_hash_the_mask_rule_alone_decides():
    assert payer.card_hash_matches(PAYING_CARD, None)
