"""Property: for any sequence of payments, refunds (some failing) and settle runs, per merchant,

    sum of every payout - what is carried owing - refunds not yet netted
        == gross - fees - refunds (not failed)

over the payments settled, every payout is never below zero, no payment is refunded beyond its
amount, a refund is made exactly when its payment has it left and the ledger covers it, and the
ledger's entries add up to the balance (so its entries other than payouts to the payouts plus the
balance: what waits less what is owed). Driven through the real store and settle code (moto), so
examples are few but whole.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paylink.core.models import Merchant, Refund, RefundMethod, RefundStatus, iso
from paylink.payments import archive
from paylink.settlement.business_calendar import next_business_day, start_of_day_utc
from paylink.settlement.daily import settle_merchant
from paylink.settlement.ledger import balance, ledger_page, own_allowance, read_cover
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import SandboxPayout
from paylink.store import Store
from paylink.store.refunds import RefundWrite
from tests.helpers import reset_caches
from tests.settlement_data import VALID_IBAN, add_merchant, add_paid_payment

_merchants = itertools.count()

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1_000, 5_000_000)),
        # refund: which payment (index mod count), what share of what is left (percent), fails later?
        st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100), st.booleans()),
        st.tuples(st.just("settle")),
    ),
    min_size=1,
    max_size=14,
)


def _business_days(count: int) -> list[date]:
    days, day = [], date(2026, 11, 22)
    for _ in range(count):
        day = next_business_day(day, "IR")
        days.append(day)
    return days


def _play(store: Store, merchant: Merchant, ops: list[tuple[Any, ...]], days: list[date]) -> list[str]:
    """Run the operations through the real store and settle code; the ids of the payments made."""
    payout = SandboxPayout(store)
    period = 0  # the settle day that will carry what happens now
    payments: list[str] = []
    counter = itertools.count()
    for op in ops:
        cutoff = start_of_day_utc(days[period], "Asia/Tehran")
        moment = iso(cutoff - timedelta(hours=3, minutes=next(counter)))
        if op[0] == "pay":
            pid = f"pay_{merchant.id}_{len(payments)}"
            add_paid_payment(store, merchant, pid, op[1], paid_at=moment)
            payments.append(pid)
        elif op[0] == "refund" and payments:
            payment = store.get_payment(payments[op[1] % len(payments)])
            assert payment is not None
            left = payment.amount - payment.amount_refunded
            amount = max(1, left * op[2] // 100)
            refund = Refund(
                id=f"ref_{merchant.id}_{next(counter)}",
                payment_id=payment.id,
                merchant_id=merchant.id,
                amount=amount,
                status=RefundStatus.AWAITING_PAYER,
                method=RefundMethod.TRANSFER,
                created_at=moment,
            )
            cover = read_cover(store, merchant)
            room = cover.room + own_allowance(store, payment)
            written = store.create_refund(
                payment, refund, cover.seen, cover.pending + own_allowance(store, payment)
            )
            created = written is RefundWrite.CREATED
            # a refund is made exactly when the payment has it left and the ledger covers it
            assert created == (left >= amount and left > 0 and amount <= room)
            if created and op[3]:
                store.move_refund(refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.FAILED)
        elif op[0] == "settle":
            settle_merchant(store, merchant.id, days[period], iso(cutoff), payout)
            period += 1
    return payments


def _whole_ledger(store: Store, merchant: Merchant, cursor: str | None = None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while True:
        page, cursor = ledger_page(store, merchant, cursor=cursor, since=None, until=None, limit=7)
        entries += page
        if cursor is None:
            return entries


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, bps=st.integers(0, 300))
def test_payouts_and_what_is_carried_add_up_to_gross_less_fees_and_refunds(aws, ops, bps):
    from paylink.store import get_store

    store = get_store()
    merchant = add_merchant(store, f"ledger{next(_merchants)}", VALID_IBAN, FeePlan(bps=bps))
    payments = _play(store, merchant, ops, _business_days(len(ops) + 1))
    settlements, _ = store.settlements_of(merchant.id, None, page_size=100)
    settled = [p for s in settlements for p in store.payments_of_settlement(s.id)]
    refunds = [r for pid in payments for r in store.refunds_of_payment(pid)]
    alive = [r for r in refunds if r.status is not RefundStatus.FAILED]
    due = sum(r.amount for r in store.refunds_due(merchant.id))
    paid_out = sum((store.get_payout(s.id) or {}).get("amount", 0) for s in settlements)
    assert all(s.net >= 0 for s in settlements)
    assert paid_out == sum(s.net for s in settlements)
    owed = store.merchant_owed(merchant.id)
    gross, fees = sum(p.amount for p in settled), sum(p.fee or 0 for p in settled)
    assert paid_out - owed - due == gross - fees - sum(r.amount for r in alive)
    # The ledger: its entries add up to the balance (what waits less what is owed), and its payout
    # entries are the payouts, so its other entries add up to the payouts plus the balance
    entries = _whole_ledger(store, merchant)
    cover = read_cover(store, merchant)
    balance = cover.pending - cover.seen.claims
    assert cover.seen.owed == owed
    assert sum(e["amount"] for e in entries) == balance
    assert -sum(e["amount"] for e in entries if e["type"] == "payout") == paid_out
    assert sum(e["amount"] for e in entries if e["type"] != "payout") == paid_out + balance
    for pid in payments:
        payment = store.get_payment(pid)
        assert payment is not None
        assert (
            payment.amount_refunded == sum(r.amount for r in alive if r.payment_id == pid) <= payment.amount
        )


@pytest.fixture
def archive_bucket(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An archive bucket (moto) for the archive run and the ledger's reads of it."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="paylink-test-ledger-archive")
    monkeypatch.setenv("ARCHIVE_BUCKET", "paylink-test-ledger-archive")
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    reset_caches()
    return "paylink-test-ledger-archive"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, bps=st.integers(0, 300))
def test_archiving_keeps_every_ledger_entry_the_cursor_and_the_balance(archive_bucket, ops, bps):
    from paylink.store import get_store

    store = get_store()
    merchant = add_merchant(store, f"ledgerarc{next(_merchants)}", VALID_IBAN, FeePlan(bps=bps))
    # Given any payments, refunds and settle runs, then a last settle run
    days = _business_days(len(ops) + 2)
    payments = _play(store, merchant, [*ops, ("settle",)], days)
    before = _whole_ledger(store, merchant)
    first, cursor = ledger_page(store, merchant, cursor=None, since=None, until=None, limit=7)
    balance_before = balance(store, merchant, next_settlement_date="2027-02-01")
    # When the archive runs 32 days after the last settlement (its window closed for every payment)
    later = days[-1] + timedelta(days=32)
    run = archive.run(store, later, now=datetime(later.year, later.month, later.day, tzinfo=UTC))
    assert run["failed"] == 0
    # Then the ledger lists the same entries in the same order, a cursor taken before the archive
    # goes on where it was, and the balance is the same
    after = _whole_ledger(store, merchant)
    assert after == before
    if cursor is not None:
        assert first + _whole_ledger(store, merchant, cursor) == before
    assert balance(store, merchant, next_settlement_date="2027-02-01") == balance_before
    # and the ledger still sums to the payouts plus the balance
    settlements, _ = store.settlements_of(merchant.id, None, page_size=100)
    paid_out = sum((store.get_payout(s.id) or {}).get("amount", 0) for s in settlements)
    cover = read_cover(store, merchant)
    assert (
        sum(e["amount"] for e in after if e["type"] != "payout")
        == paid_out + cover.pending - cover.seen.claims
    )
    # and every payment left the table but those with a refund still waiting for its payer
    for pid in payments:
        waiting = any(r.status is RefundStatus.AWAITING_PAYER for r in store.refunds_of_payment(pid))
        assert (store.get_payment(pid) is None) is not waiting
