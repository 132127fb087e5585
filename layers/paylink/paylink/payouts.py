"""Payout providers: how a settlement's net reaches the merchant's bank account."""

from __future__ import annotations

from typing import Protocol

from paylink.models import Settlement, iso, utcnow
from paylink.store import Store


class PayoutProvider(Protocol):
    name: str

    def pay(self, settlement: Settlement) -> str:
        """Send the settlement's net to its IBAN and return the provider's reference.

        Must be idempotent per settlement id: a retry after a crash pays nothing twice.
        """
        ...


class SandboxPayout:
    """Records each payout in the table, once per settlement, as a bank would take a transfer."""

    name = "sandbox"

    def __init__(self, store: Store) -> None:
        self.store = store

    def pay(self, settlement: Settlement) -> str:
        record = self.store.record_payout(
            settlement.id,
            {
                "reference": f"SBX-{settlement.id.removeprefix('stl_')}",
                "settlement_id": settlement.id,
                "merchant_id": settlement.merchant_id,
                "iban": settlement.iban,
                "amount": settlement.net,
                "created_at": iso(utcnow()),
            },
        )
        return str(record["reference"])


def payout_provider(name: str, store: Store) -> PayoutProvider:
    if name == "sandbox":
        return SandboxPayout(store)
    raise ValueError(f"unknown payout provider {name!r}")
