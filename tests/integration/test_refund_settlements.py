"""A merchant with refunds and no new payment still gets its day's settlement (gross 0): the refunds
are netted, what they leave owing is carried to its next settlement, and no transfer of nothing is
asked. Found by the settle run without a Scan (the refund flags the merchant's balance), and a run
killed after any of its writes, then run again, ends like a clean run."""

from __future__ import annotations

from typing import Any

import pytest

from paylink.core.models import Refund, RefundMethod, RefundStatus, SettlementStatus
from paylink.settlement.daily import settle_day
from paylink.settlement.ledger import own_allowance, read_cover
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import SandboxPayout
from paylink.store import Store
from paylink.store.refunds import RefundWrite
from tests.integration.test_settlement_crashes import Crash, CrashingClient
from tests.settlement_data import (
    DAY_AFTER,
    NEXT_DAY,
    SETTLE_DAY,
    VALID_IBAN,
    add_merchant,
    add_paid_payment,
    new_store,
)

AMOUNT = 1_000_000
NET = 985_000  # after our 1.5% fee
REFUNDED = 600_000
REFUND_AT = "2026-11-23T10:00:00.000000Z"  # on SETTLE_DAY, before NEXT_DAY's cutoff


def _run(store: Store, day: Any) -> None:
    settle_day(store, day, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))


def _refund(store: Store, payment_id: str, amount: int, at: str, rid: str) -> Refund:
    payment = store.get_payment(payment_id)
    merchant = store.get_merchant("mer_quiet")
    assert payment is not None
    assert merchant is not None
    refund = Refund(
        id=rid,
        payment_id=payment_id,
        merchant_id=merchant.id,
        amount=amount,
        status=RefundStatus.AWAITING_PAYER,
        method=RefundMethod.TRANSFER,
        created_at=at,
    )
    cover = read_cover(store, merchant)
    written = store.create_refund(payment, refund, cover.seen, cover.pending + own_allowance(store, payment))
    assert written is RefundWrite.CREATED
    return refund


def _seed(store: Store) -> None:
    """A merchant whose only payment was settled and paid out, then refunded in part the next day."""
    merchant = add_merchant(store, "quiet", VALID_IBAN, FeePlan())
    add_paid_payment(store, merchant, "pay_quiet_1", AMOUNT)
    _run(store, SETTLE_DAY)
    _refund(store, "pay_quiet_1", REFUNDED, REFUND_AT, "ref_quiet_1")


def _day_settlement(store: Store, day: Any) -> Any:
    settlements, _ = store.settlements_of("mer_quiet", None)
    return next((s for s in settlements if s.date == day.isoformat()), None)


def test_a_merchant_with_refunds_and_no_new_payment_gets_its_days_settlement(aws):
    # Given a merchant whose payment was settled, refunded by 600,000 rials the day after, no new sale
    store = new_store("quiet")
    _seed(store)
    # When the next business day is settled
    _run(store, NEXT_DAY)
    # Then it has a settlement of nothing received: the refund netted, all of it carried owing
    settlement = _day_settlement(store, NEXT_DAY)
    assert settlement is not None
    assert (settlement.gross, settlement.fee, settlement.refunds, settlement.net) == (0, 0, REFUNDED, 0)
    assert (settlement.carried_in, settlement.carried_out) == (0, REFUNDED)
    assert store.merchant_owed("mer_quiet") == REFUNDED
    assert [r.settlement_id for r in store.refunds_of_payment("pay_quiet_1")] == [settlement.id]


def test_a_settlement_of_nothing_to_pay_is_done_without_a_transfer(aws):
    # Given the same merchant's refund-only day
    store = new_store("quiet-paid")
    _seed(store)
    # When it is settled
    _run(store, NEXT_DAY)
    # Then the settlement is done (paid, reference none) and no payout was asked of the provider
    settlement = _day_settlement(store, NEXT_DAY)
    assert settlement.status is SettlementStatus.PAID
    assert settlement.payout_reference == "none"
    assert store.get_payout(settlement.id) is None


def test_the_merchant_leaves_the_settle_list_once_its_refunds_are_netted(aws):
    # Given the refund-only day settled
    store = new_store("quiet-list")
    _seed(store)
    assert "mer_quiet" in set(store.merchants_with_unsettled_money())  # the refund put it back on
    _run(store, NEXT_DAY)
    # Then nothing is left to visit: the next run creates nothing
    assert "mer_quiet" not in set(store.merchants_with_unsettled_money())
    _run(store, DAY_AFTER)
    assert _day_settlement(store, DAY_AFTER) is None


def test_what_a_refund_only_day_carried_is_taken_from_the_next_payments(aws):
    # Given the refund-only day settled, 600,000 owed, then a new payment of 1,000,000 rials
    store = new_store("quiet-next")
    _seed(store)
    _run(store, NEXT_DAY)
    merchant = store.get_merchant("mer_quiet")
    assert merchant is not None
    add_paid_payment(store, merchant, "pay_quiet_2", AMOUNT, paid_at="2026-11-24T08:00:00.000000Z")
    # When the day after is settled
    _run(store, DAY_AFTER)
    # Then the debt is taken from it
    settlement = _day_settlement(store, DAY_AFTER)
    assert (settlement.gross, settlement.carried_in, settlement.net) == (AMOUNT, REFUNDED, NET - REFUNDED)
    assert store.merchant_owed("mer_quiet") == 0


def _outcome(store: Store) -> tuple[Any, ...]:
    settlement = _day_settlement(store, NEXT_DAY)
    balance = store.merchant_balance("mer_quiet")
    entries, _ = store.ledger_entries("mer_quiet", below=None, since=None, until=None, limit=50)
    return (
        None
        if settlement is None
        else (
            settlement.status.value,
            settlement.gross,
            settlement.refunds,
            settlement.carried_in,
            settlement.carried_out,
            settlement.net,
            store.get_payout(settlement.id),
        ),
        (balance.claims, balance.owed),
        [r.settlement_id for r in store.refunds_of_payment("pay_quiet_1")],
        sorted((e["type"], e["amount"]) for e in entries),
        "mer_quiet" in set(store.merchants_with_unsettled_money()),
    )


def test_a_refund_only_settle_run_killed_after_any_write_ends_like_a_clean_run(aws):
    clean = new_store("quiet-crash-clean")
    _seed(clean)
    counter = CrashingClient(clean.client, crash_after=None)
    _run(Store(clean.table, counter), NEXT_DAY)
    expected = _outcome(clean)
    assert expected[0] is not None
    assert expected[0][4] == REFUNDED
    assert counter.writes >= 4  # open, net, close, done (submitted, paid), unflag
    for k in range(1, counter.writes + 1):
        store = new_store(f"quiet-crash-{k}")
        _seed(store)
        with pytest.raises(Crash):
            _run(Store(store.table, CrashingClient(store.client, crash_after=k)), NEXT_DAY)
        _run(store, NEXT_DAY)
        assert _outcome(store) == expected, f"after a crash at write {k} of {counter.writes}"


def _ledger(store: Store) -> list[dict[str, Any]]:
    from paylink.settlement.ledger import ledger_page

    merchant = store.get_merchant("mer_quiet")
    assert merchant is not None
    entries, cursor = ledger_page(store, merchant, cursor=None, since=None, until=None, limit=50)
    assert cursor is None
    return entries


def test_the_ledger_of_a_refund_only_day_adds_up_to_what_is_owed(aws):
    # Given the payment settled and paid out, then the refund-only day settled
    store = new_store("quiet-ledger")
    _seed(store)
    _run(store, NEXT_DAY)
    # Then the ledger holds the payment, its fee, its payout and the refund (no payout of nothing)
    entries = _ledger(store)
    assert sorted((e["type"], e["amount"]) for e in entries) == sorted(
        [("payment", AMOUNT), ("fee", NET - AMOUNT), ("payout", -NET), ("refund", -REFUNDED)]
    )
    # And they add up to the balance: minus what the merchant owes
    assert sum(e["amount"] for e in entries) == -store.merchant_owed("mer_quiet") == -REFUNDED


def test_a_refund_that_fails_after_it_was_netted_is_a_reversal_entry_and_a_credit(aws):
    # Given the refund-only day settled (600,000 owed)
    store = new_store("quiet-reversal")
    _seed(store)
    _run(store, NEXT_DAY)
    refund = store.get_refund("ref_quiet_1")
    assert refund is not None
    # When the refund fails (the payer never named the card)
    assert store.move_refund(refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.FAILED)
    # Then a reversal entry gives the amount back, and nothing is owed any more
    entries = _ledger(store)
    assert ("reversal", REFUNDED, "ref_quiet_1") in [
        (e["type"], e["amount"], e["object_id"]) for e in entries
    ]
    assert store.merchant_owed("mer_quiet") == 0
    assert sum(e["amount"] for e in entries) == 0
