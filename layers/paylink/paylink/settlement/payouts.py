"""Payout providers: how a settlement's net reaches the merchant's bank account.

The interface (`PayoutProvider`):

- `submit(settlement, attempt=n, day=D) -> PayoutReceipt(reference, confirmed)` sends attempt `n`
  of the settlement's transfer (its `net` to its `iban`). Idempotent per (settlement id, attempt):
  a repeat after a crash returns the same receipt and moves no money. Attempt `n + 1` is asked for
  only after attempt `n` is known to have failed, and a provider never pays a settlement whose
  earlier attempt was paid. `confirmed` is True when the money is known to have moved already.
  `day` is the settle run's business day (the bank batch the transfer joins). It raises
  `PayoutDeferred` when it cannot take the transfer now (a later run tries again).
- `status(settlement) -> PayoutStatus` is the outcome of the settlement's latest attempt
  (`settlement.payout_attempts`): `submitted` (not known yet), `paid` or `failed`.

Providers: `sandbox` (records the transfer in the table and confirms at once; IBANs listed in
PAYLINK_SANDBOX_PAYOUT_FAIL_IBANS fail instead), `bank_batch` (paylink.settlement.bank_batch: a line in
the day's transfer file for an operator to hand to the bank, confirmed later by the operator) and
`jibit` (paylink.settlement.jibit_payout: Jibit's Transferor API). Chosen by PAYLINK_PAYOUT_PROVIDER, which
has no default: a stack that names none, or names `sandbox` outside a test stage, refuses to settle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn, Protocol

from paylink.core.models import Settlement, iso, utcnow
from paylink.core.observability import Metric, count, logger
from paylink.core.settings import get_settings
from paylink.store import Store


class PayoutStatus(StrEnum):
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str
    confirmed: bool  # the money is known to have moved


class PayoutDeferred(Exception):
    """The provider cannot take this transfer now; the settlement waits for a later run."""


class PayoutProvider(Protocol):
    name: str

    def submit(self, settlement: Settlement, *, attempt: int, day: str) -> PayoutReceipt:
        """Send attempt `attempt` of the settlement's net to its IBAN; idempotent per attempt."""
        ...

    def status(self, settlement: Settlement) -> PayoutStatus:
        """Outcome of the settlement's latest attempt."""
        ...

    def failure_reason(self, settlement: Settlement) -> str | None:
        """Why the latest attempt failed, when the provider says."""
        ...


def sandbox_reference(settlement_id: str) -> str:
    return f"SBX-{settlement_id.removeprefix('stl_')}"


class SandboxPayout:
    """Records each payout in the table, once per settlement, as a bank would take a transfer.

    One record per settlement (PAYOUT#{sid}): a failed attempt is replaced by the next one, a
    paid one never is. Transfers to an IBAN in `fail_ibans` fail, so a failure and its retry can
    be seen locally and in tests.
    """

    name = "sandbox"

    def __init__(self, store: Store, fail_ibans: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.fail_ibans = fail_ibans

    def submit(self, settlement: Settlement, *, attempt: int, day: str) -> PayoutReceipt:
        fails = settlement.iban in self.fail_ibans
        record = self.store.record_payout(
            settlement.id,
            {
                "reference": sandbox_reference(settlement.id),
                "settlement_id": settlement.id,
                "merchant_id": settlement.merchant_id,
                "iban": settlement.iban,
                "amount": settlement.net,
                "attempt": attempt,
                "status": PayoutStatus.FAILED.value if fails else PayoutStatus.PAID.value,
                "failure_reason": "the sandbox bank refused the account" if fails else None,
                "day": day,
                "created_at": iso(utcnow()),
            },
        )
        return PayoutReceipt(str(record["reference"]), confirmed=record.get("status", "paid") == "paid")

    def status(self, settlement: Settlement) -> PayoutStatus:
        record = self.store.get_payout(settlement.id)
        if record is None or int(record.get("attempt", 1)) < settlement.payout_attempts:
            return PayoutStatus.SUBMITTED  # that attempt never reached the sandbox bank
        return PayoutStatus(record.get("status", PayoutStatus.PAID.value))

    def failure_reason(self, settlement: Settlement) -> str | None:
        record = self.store.get_payout(settlement.id)
        return str(record["failure_reason"]) if record and record.get("failure_reason") else None


PROVIDERS = ("bank_batch", "jibit", "sandbox")
# Stages whose stacks may mark settlements paid without moving money (template Stage).
TEST_STAGES = frozenset({"dev", "test"})


class PayoutNotConfigured(RuntimeError):
    """The stack names no payout provider, an unknown one, or sandbox payouts outside a test stage."""


def check_payout_provider(name: str, *, stage: str) -> None:
    """Refuse a stack that names no payout provider, an unknown one, or `sandbox` outside a test stage.

    Raises PayoutNotConfigured, logged and counted as PayoutProviderRefused (an alarm watches it):
    a sandbox payout in such a stack would mark settlements paid while no money moves.
    """
    if name not in PROVIDERS:
        _refuse(f"PAYLINK_PAYOUT_PROVIDER must be one of {', '.join(PROVIDERS)}; it is {name!r}", stage)
    if name == "sandbox" and stage not in TEST_STAGES:
        _refuse(
            f"sandbox payouts move no money and run only in a test stage "
            f"({', '.join(sorted(TEST_STAGES))}); this stack's stage is {stage!r}",
            stage,
        )


def payout_provider(name: str, store: Store, *, stage: str) -> PayoutProvider:
    """The provider named by settings (PAYLINK_PAYOUT_PROVIDER) for a stack of `stage`, once
    `check_payout_provider` allows it."""
    check_payout_provider(name, stage=stage)
    if name == "sandbox":
        fail = get_settings().sandbox_payout_fail_ibans
        return SandboxPayout(store, frozenset(i.strip().upper() for i in fail.split(",") if i.strip()))
    if name == "bank_batch":
        from paylink.settlement.bank_batch import BankBatchPayout

        return BankBatchPayout(store)
    from paylink.settlement.jibit_payout import JibitPayout

    return JibitPayout.from_settings(store)


def _refuse(reason: str, stage: str) -> NoReturn:
    logger.error("payout provider refused; nothing is settled", extra={"reason": reason, "stage": stage})
    count(Metric.PAYOUT_REFUSED)
    raise PayoutNotConfigured(reason)
