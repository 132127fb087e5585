"""A settle run killed after each of its writes in turn, then run again, ends like a clean run.

The store's client is wrapped so that the k-th write (put_item, update_item,
transact_write_items) lands and then the "worker dies". For every k from 1 to the number of
writes of a clean run, on a fresh copy of the same data: crash at write k, run again without
the crash, and compare with the clean run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from paylink.settlement.daily import settle_day
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import SandboxPayout
from paylink.store import Store
from tests.settlement_data import (
    INVALID_IBAN,
    NEXT_DAY,
    SETTLE_DAY,
    VALID_IBAN,
    MerchantSpec,
    new_store,
    seed,
)

WRITES = ("put_item", "update_item", "transact_write_items")
SPECS = [
    MerchantSpec("pct", VALID_IBAN, FeePlan(bps=150, min_fee=2_000, max_fee=50_000), (10_000, 9_999_999)),
    MerchantSpec("year", VALID_IBAN, FeePlan.yearly(), (250_000, 3_000_000)),
    MerchantSpec("held", INVALID_IBAN, FeePlan(), (500_000,)),
]  # fmt: skip


class Crash(Exception):
    """The worker was killed."""


class CrashingClient:
    """A DynamoDB client whose `crash_after`-th write lands, then raises; counts writes either way."""

    def __init__(self, real: Any, crash_after: int | None) -> None:
        self.real = real
        self.crash_after = crash_after
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if name not in WRITES:
            return attribute

        def write(**kwargs: Any) -> Any:
            answer = attribute(**kwargs)
            self.writes += 1
            if self.writes == self.crash_after:
                raise Crash(f"killed after write {self.writes} ({name})")
            return answer

        return write


def _run(store: Store, day: Any = SETTLE_DAY) -> None:
    settle_day(store, day, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))


def _outcome(store: Store) -> list[tuple[Any, ...]]:
    """Every settlement with its totals and payout, after checking each payment settled once."""
    rows = []
    for spec in SPECS:
        settlements, _ = store.settlements_of(f"mer_{spec.key}", None)
        settled_ids: list[str] = []
        for s in settlements:
            payments = store.payments_of_settlement(s.id)
            settled_ids += [p.id for p in payments]
            # sums per settlement equal the sums of its payments, to the rial
            assert s.payment_count == len(payments)
            assert s.gross == sum(p.amount for p in payments)
            assert s.fee == sum(p.fee or 0 for p in payments)
            assert s.net == sum(p.net or 0 for p in payments) == s.gross - s.fee
            payout = store.get_payout(s.id)
            rows.append(
                (s.id, s.status.value, s.gross, s.fee, s.net, s.payment_count, s.payout_attempts)
                + ((payout["amount"], payout["status"]) if payout else (None, None))
            )
        # every payment settled exactly once
        assert sorted(settled_ids) == sorted(f"pay_{spec.key}_{n:03d}" for n in range(len(spec.amounts)))
        for pid in settled_ids:
            payment = store.get_payment(pid)
            assert payment is not None
            assert payment.status.value == "settled"
    return sorted(rows)


def _crash_at_every_write(
    prefix: str, scenario: Callable[[Store], None], step: Callable[[Store], None]
) -> tuple[int, list[tuple[Any, ...]]]:
    """Clean run of `step` after `scenario`, then a crash at each write of it in turn and a re-run."""
    clean = new_store(f"{prefix}-clean")
    seed(clean, SPECS)
    scenario(clean)
    counter = CrashingClient(clean.client, crash_after=None)
    step(Store(clean.table, counter))
    expected, writes = _outcome(clean), counter.writes
    assert writes > 0
    for k in range(1, writes + 1):
        store = new_store(f"{prefix}-{k}")
        seed(store, SPECS)
        scenario(store)
        with pytest.raises(Crash):
            step(Store(store.table, CrashingClient(store.client, crash_after=k)))
        step(store)  # the run again, without the crash
        assert _outcome(store) == expected, f"after a crash at write {k} of {writes}"
    return writes, expected


def test_killing_the_worker_after_each_write_and_rerunning_ends_like_a_clean_run(aws):
    # Given three merchants (a percentage plan, a yearly plan, an invalid IBAN) with paid payments
    # When the day's settle run is killed after its k-th write, for every k, and run again
    writes, expected = _crash_at_every_write("crash", lambda store: None, _run)
    # Then every re-run ends with the clean run's settlements: two paid once, one held unpaid
    assert writes >= 10
    statuses = {row[0].split("_")[-1]: row[1] for row in expected}
    assert statuses == {"pct": "paid", "year": "paid", "held": "held"}
    for row in expected:
        if row[1] == "paid":
            assert row[7] == row[4]  # one payout, of the settlement's net
            assert row[8] == "paid"


def test_killing_the_retry_of_a_failed_payout_after_each_write_pays_once(aws, monkeypatch):
    # Given a day whose payouts to VALID_IBAN failed at the bank (sandbox told to refuse it)
    def failed_day(store: Store) -> None:
        settle_day(
            store,
            SETTLE_DAY,
            tz="Asia/Tehran",
            country="IR",
            payout=SandboxPayout(store, fail_ibans=frozenset({VALID_IBAN})),
        )

    # When the next day's run, which retries them, is killed after each of its writes and run again
    _, expected = _crash_at_every_write("retry", failed_day, lambda store: _run(store, NEXT_DAY))
    # Then the failed settlements are paid on their second attempt, with one payout of their net
    paid = [row for row in expected if row[1] == "paid"]
    assert len(paid) == 2
    for row in paid:
        assert row[6] == 2
        assert (row[7], row[8]) == (row[4], "paid")
