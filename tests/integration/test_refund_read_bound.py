"""Reads of a pending refund (the API's list, the panel, the payer's page) ask the payout provider
at most once per READ_CHECK_EVERY: anyone can repeat a read, the provider's quota is shared with
settlements. The reconciler still carries the refund on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest

from paylink.core.models import Refund, RefundStatus, iso, utcnow
from paylink.refunds import page, payer, progress, service
from paylink.settlement.payouts import PayoutStatus, SandboxPayout
from paylink.store import Store
from tests.integration.test_refund_crashes import _seed
from tests.settlement_data import new_store


class SlowBank(SandboxPayout):
    """A bank that has not finished the transfer; counts every call we make to it."""

    calls: ClassVar[list[str]] = []

    def submit(self, settlement, *, attempt, day):  # type: ignore[no-untyped-def]
        SlowBank.calls.append("submit")
        receipt = super().submit(settlement, attempt=attempt, day=day)
        return type(receipt)(receipt.reference, confirmed=False)

    def status(self, settlement):  # type: ignore[no-untyped-def]
        SlowBank.calls.append("status")
        return PayoutStatus.SUBMITTED


@pytest.fixture
def pending(aws, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Any, Refund, list[str]]:  # type: ignore[no-untyped-def]
    """A transfer refund whose payout is in progress at the bank; the bank's calls recorded."""
    sent: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda payment, refund, token, base: sent.append(token))
    store = new_store("read-bound")
    merchant, payment = _seed(store)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
        UpdateExpression="SET payer = :p",
        ExpressionAttributeValues={":p": {"name": "Ali", "phone": "09121234567"}},
    )
    refund = service.refund_payment(store, merchant, payment.id, 300_000, None, base_url="https://x")
    store.move_refund(
        refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.PENDING, iban="IR062960000000100324200001",
        transfer_attempts=1,
    )  # fmt: skip
    SlowBank.calls = []
    monkeypatch.setattr(payer, "_payout", lambda store: SlowBank(store))
    monkeypatch.setattr(page, "get_store", lambda: store)
    return store, merchant, refund, sent


def _provider_visits() -> int:
    """Each carry-on of a transfer submits (answered as a repeat) and asks the status: one visit."""
    return SlowBank.calls.count("submit")


def test_twenty_reads_of_the_refund_list_ask_the_payout_provider_at_most_once(pending):
    store, merchant, refund, _ = pending
    # When the merchant's list of refunds is read 20 times in a row
    for _ in range(20):
        shown = service.refunds_of(store, merchant, refund.payment_id)
        assert shown[0].status is RefundStatus.PENDING
    # Then the payout provider was asked at most once
    assert _provider_visits() <= 1


def test_twenty_views_of_the_payer_page_ask_the_payout_provider_at_most_once(pending):
    _, _, _, sent = pending
    # When the payer's page is loaded 20 times in a row
    for _ in range(20):
        assert page.show(sent[-1], "en").status_code == 200
    # Then the payout provider was asked at most once
    assert _provider_visits() <= 1


def test_a_read_after_the_interval_asks_again(pending):
    store, merchant, refund, _ = pending
    service.refunds_of(store, merchant, refund.payment_id)
    # Given the last read's check is older than the interval
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
        UpdateExpression="SET next_check_at = :past",
        ExpressionAttributeValues={":past": iso(utcnow() - timedelta(seconds=1))},
    )
    # When it is read again, then the provider is asked again
    service.refunds_of(store, merchant, refund.payment_id)
    assert _provider_visits() == 2


def test_the_reconciler_carries_a_refund_on_whatever_reads_did(pending):
    store, merchant, refund, _ = pending
    service.refunds_of(store, merchant, refund.payment_id)
    before = _provider_visits()
    # When the reconciler runs right after a read
    progress.carry_on_refunds(store, utcnow() + timedelta(minutes=2), "https://x")
    # Then it still asked the provider
    assert _provider_visits() == before + 1
