"""The reconciler carries refunds on by itself (paylink.refunds.progress): a pending reverse or transfer
is finished, an expired payer link is texted anew up to the limit, then the refund fails."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from paylink.core.models import RefundMethod, RefundStatus, iso, utcnow
from paylink.refunds import progress, service
from paylink.store import Store
from tests.integration.test_refund_crashes import MASK, FakeGateway, _seed
from tests.settlement_data import VALID_IBAN, new_store

LATER = timedelta(minutes=2)


@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    """A SEP-like gateway, no SMS, and an inquiry provider that finds the paying card's account."""
    from paylink.merchants import identity
    from paylink.payments import routing

    gateway = FakeGateway()
    monkeypatch.setattr(routing, "adapter", lambda name: gateway)
    monkeypatch.setattr(service, "send_payer_link", lambda *args: True)
    monkeypatch.setattr(
        identity, "card_to_iban", lambda card: identity.CardOwner(VALID_IBAN, "Ali", "Bank", MASK)
    )
    monkeypatch.setattr(
        identity, "iban_owner", lambda iban: identity.IbanOwner(VALID_IBAN, ("Ali",), "Bank", "ACTIVE")
    )
    return gateway


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, faked) -> list[str]:
    """The payer links texted (their tokens), in order."""
    texts: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda payment, refund, token, base: texts.append(token))
    return texts


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The refund events queued: (refund id, status)."""
    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(
        service,
        "emit_refund_event",
        lambda refund, store=None: queued.append((refund.id, refund.status.value)) or refund.id,
    )
    return queued


def _transfer(store: Store, amount: int = 300_000, phone: str | None = "09121234567") -> Any:
    merchant, payment = _seed(store)
    if phone is not None:
        store.client.update_item(
            TableName=store.table,
            Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
            UpdateExpression="SET payer = :p",
            ExpressionAttributeValues={":p": {"name": "Ali", "phone": phone}},
        )
    return service.refund_payment(store, merchant, payment.id, amount, None, base_url="https://x")


def _expire(store: Store, refund_id: str) -> datetime:
    """Move the refund's link expiry into the past; returns a `now` after it."""
    refund = store.get_refund(refund_id)
    assert refund is not None
    past = "2026-01-01T00:00:00.000000Z"
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"REFUND#{refund_id}", "sk": "REFUND"},
        UpdateExpression="SET expires_at = :past, gsi2sk = :due",
        ExpressionAttributeValues={":past": past, ":due": f"{past}#{refund_id}"},
    )
    return utcnow()


def _run(store: Store, now: datetime | None = None) -> dict[str, int]:
    return progress.carry_on_refunds(store, now or utcnow() + LATER, "https://pay.example")


def test_a_reverse_whose_answer_was_lost_is_finished_by_the_reconciler_through_the_inquiry(aws, faked):
    # Given a reverse whose answer was lost (pending), and nobody reading the refunds
    store = new_store("lost-run")
    merchant, payment = _seed(store)
    faked.lose_answer = True
    refund = service.refund_payment(store, merchant, payment.id, None, None, base_url="https://x")
    assert (refund.method, refund.status) == (RefundMethod.REVERSE, RefundStatus.PENDING)
    # When the reconciler runs a few minutes later
    report = _run(store)
    # Then the gateway's inquiry decided it (no second reverse) and it left the work list
    assert report == {"succeeded": 1}
    assert store.get_refund(refund.id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
    assert faked.calls == ["reverse", "inquire"]
    assert list(store.refunds_needing_work(iso(utcnow() + timedelta(days=365)))) == []


def test_a_pending_reverse_is_left_to_its_own_request_for_a_minute(aws, faked):
    store = new_store("young")
    merchant, payment = _seed(store)
    faked.lose_answer = True
    refund = service.refund_payment(store, merchant, payment.id, None, None, base_url="https://x")
    # When the reconciler runs at once
    assert _run(store, utcnow()) == {}
    # Then it did not touch it
    assert faked.calls == ["reverse"]
    assert store.get_refund(refund.id).status is RefundStatus.PENDING  # type: ignore[union-attr]


def test_a_transfer_whose_payout_is_still_in_progress_is_finished_by_the_reconciler(aws, faked, monkeypatch):
    from paylink.refunds import payer
    from paylink.settlement.payouts import PayoutStatus, SandboxPayout

    # Given a transfer refund whose payout the bank has not finished yet
    store = new_store("slow-bank")
    refund = _transfer(store)
    store.move_refund(
        refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.PENDING, iban="IR062960000000100324200001",
        transfer_attempts=1,
    )  # fmt: skip
    bank = {"status": PayoutStatus.SUBMITTED}

    class SlowBank(SandboxPayout):
        def submit(self, settlement, *, attempt, day):  # type: ignore[no-untyped-def]
            receipt = super().submit(settlement, attempt=attempt, day=day)
            return type(receipt)(receipt.reference, confirmed=False)

        def status(self, settlement):  # type: ignore[no-untyped-def]
            return bank["status"]

    monkeypatch.setattr(payer, "_payout", lambda store: SlowBank(store))
    assert _run(store) == {"pending": 1}
    # When the bank has paid it by the next run
    bank["status"] = PayoutStatus.PAID
    assert _run(store) == {"succeeded": 1}
    # Then the refund succeeded and left the work list
    assert store.get_refund(refund.id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
    assert list(store.refunds_needing_work(iso(utcnow() + timedelta(days=365)))) == []


def test_an_expired_link_is_texted_anew_automatically(aws, sent):
    # Given a transfer refund whose payer never came, its link expired
    store = new_store("remind-auto")
    refund = _transfer(store)
    now = _expire(store, refund.id)
    # When the reconciler runs
    report = _run(store, now)
    # Then the payer got a new link (one reminder), and the refund still awaits them
    after = store.get_refund(refund.id)
    assert after is not None
    assert report == {"awaiting_payer": 1}
    assert (after.status, after.reminders) == (RefundStatus.AWAITING_PAYER, 1)
    assert len(sent) == 2
    assert after.token_hash == service.token_hash(sent[-1])
    assert (after.expires_at or "") > iso(now + timedelta(days=6))
    # And it is not reminded again before the new link expires
    assert _run(store, now + timedelta(days=1)) == {}


def test_after_the_last_reminder_expires_the_refund_fails_and_its_amount_comes_back(aws, sent, events):
    # Given a refund whose payer was reminded three times, the last link expired too
    store = new_store("give-up")
    refund = _transfer(store)
    for _ in range(service.MAX_REMINDERS):
        now = _expire(store, refund.id)
        _run(store, now)
    now = _expire(store, refund.id)
    # When the reconciler runs
    _run(store, now)
    # Then the refund failed once, its amount is refundable again, and refund.failed was queued
    after = store.get_refund(refund.id)
    assert after is not None
    assert after.status is RefundStatus.FAILED
    assert after.failure_reason == progress.LINK_EXPIRED
    assert store.get_payment(refund.payment_id).amount_refunded == 0  # type: ignore[union-attr]
    assert events.count((refund.id, "failed")) == 1
    assert len(sent) == 1 + service.MAX_REMINDERS
    assert list(store.refunds_needing_work(iso(now + timedelta(days=365)))) == []


def test_a_payer_without_a_phone_is_not_reminded_and_the_refund_fails_at_expiry(aws, sent):
    store = new_store("no-phone")
    refund = _transfer(store, phone=None)
    now = _expire(store, refund.id)
    _run(store, now)
    after = store.get_refund(refund.id)
    assert after is not None
    assert (after.status, after.reminders) == (RefundStatus.FAILED, 0)


def test_the_reconcile_function_carries_refunds_on(aws, sent, monkeypatch):
    from functions.callback.app import reconcile_handler

    # Given an expired refund link, and the clock override of local runs
    store = new_store("handler")
    monkeypatch.setenv("TABLE_NAME", store.table)
    monkeypatch.setenv("PAYLINK_ALLOW_CLOCK_OVERRIDE", "true")
    from tests.helpers import reset_caches

    reset_caches()
    refund = _transfer(store)
    now = _expire(store, refund.id)
    # When the scheduled reconcile runs
    from local.run import LambdaContext
    from local.template import functions, load_template

    context = LambdaContext(functions(load_template())["ReconcileFunction"])
    answer = reconcile_handler({"now": iso(now)}, context)  # type: ignore[arg-type]
    # Then it reminded the payer
    assert answer["refunds"] == {"awaiting_payer": 1}
    assert store.get_refund(refund.id).reminders == 1  # type: ignore[union-attr]


def test_a_gateway_out_of_the_configuration_leaves_the_reverse_pending_for_an_operator(
    aws, faked, monkeypatch
):
    from paylink.payments import routing

    store = new_store("unknown-gw")
    merchant, payment = _seed(store)
    faked.lose_answer = True
    refund = service.refund_payment(store, merchant, payment.id, None, None, base_url="https://x")
    monkeypatch.setattr(routing, "adapter", lambda name: None)
    assert _run(store) == {"pending": 1}
    assert store.get_refund(refund.id).status is RefundStatus.PENDING  # type: ignore[union-attr]


def test_one_failing_refund_does_not_stop_the_others(aws, sent, monkeypatch):
    store = new_store("one-bad")
    refund = _transfer(store)
    now = _expire(store, refund.id)
    calls: list[str] = []

    def broken(store: Store, refund: Any, base_url: str) -> Any:
        calls.append(refund.id)
        raise RuntimeError("provider down")

    monkeypatch.setattr(progress, "link_expired", broken)
    assert _run(store, now) == {"error": 1}
    assert calls == [refund.id]
