"""Refunds killed after each of their writes in turn, then carried on, end like a clean run.

As tests/integration/test_settlement_crashes.py: the store's client is wrapped so that the k-th
write lands and then the worker dies; for every k, on fresh data, crash at write k, then carry the
refund on (resolve, or the payer's post again, or the settle run again) and compare with a clean run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from paylink.core.models import Payment, Refund, RefundMethod, RefundStatus
from paylink.payments.gateways.base import ErrorKind, GatewayError, VerifyOutcome, VerifyResult
from paylink.refunds import payer, service
from paylink.settlement.daily import settle_day
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import SandboxPayout
from paylink.store import Store
from tests.integration.test_settlement_crashes import Crash, CrashingClient
from tests.settlement_data import SETTLE_DAY, VALID_IBAN, add_merchant, add_paid_payment, new_store

CARD = "6037990000001234"  # not Luhn-checked here: the inquiry is faked
MASK = "603799******1234"


@dataclass
class FakeGateway:
    """A SEP-like gateway: reverse gives the money back (once); inquiry tells whether it has."""

    lose_answer: bool = False
    reversed_: bool = False
    reverse_calls: int = 0
    calls: list[str] = field(default_factory=list)

    class config:  # the adapter's attribute
        protocol = "sep"

    def reverse(self, *, token: str, amount_irr: int, refs: Any = None) -> bool:
        self.calls.append("reverse")
        self.reverse_calls += 1
        self.reversed_ = True
        if self.lose_answer:
            raise GatewayError(ErrorKind.TRANSIENT, "timeout", "no answer")
        return True

    def inquire(self, *, token: str, amount_irr: int, refs: Any = None) -> VerifyResult:
        self.calls.append("inquire")
        return VerifyResult(VerifyOutcome.REVERSED if self.reversed_ else VerifyOutcome.VERIFIED)

    verify = inquire


@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
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


def _seed(store: Store) -> tuple[Any, Payment]:
    merchant = add_merchant(store, "crash", VALID_IBAN, FeePlan())
    add_paid_payment(store, merchant, "pay_crash_other", 5_000_000)
    payment = add_paid_payment(store, merchant, "pay_crash_000", 1_000_000)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
        UpdateExpression="SET card_mask = :m, gateway = :g, gateway_token = :t, gateway_reference = :r, "
        "paid_at = :now",
        ExpressionAttributeValues={
            ":m": MASK,
            ":g": "sandbox-s",
            ":t": "tok",
            ":r": "123456789",
            ":now": service.iso(service.utcnow()),
        },
    )
    return merchant, store.get_payment(payment.id)  # type: ignore[return-value]


def _outcome(store: Store) -> tuple[Any, ...]:
    payment = store.get_payment("pay_crash_000")
    assert payment is not None
    refunds = store.refunds_of_payment(payment.id)
    alive = [r for r in refunds if r.status is not RefundStatus.FAILED]
    assert payment.amount_refunded == sum(r.amount for r in alive) <= payment.amount
    payouts = [store.get_payout("rfd_" + r.id.removeprefix("ref_")) for r in refunds]
    return (
        payment.amount_refunded,
        sorted((r.amount, r.method.value, r.status.value) for r in refunds),
        sorted((p["amount"], p["status"]) for p in payouts if p),
    )


def _crash_each_write(
    prefix: str, start: Callable[[Store], Refund], carry_on: Callable[[Store, Refund | None], None]
) -> tuple[int, tuple[Any, ...]]:
    clean = new_store(f"{prefix}-clean")
    _seed(clean)
    counter = CrashingClient(clean.client, crash_after=None)
    carry_on(clean, start(Store(clean.table, counter)))
    expected, writes = _outcome(clean), counter.writes
    for k in range(1, writes + 1):
        store = new_store(f"{prefix}-{k}")
        _seed(store)
        refund = None
        with pytest.raises(Crash):
            refund = start(Store(store.table, CrashingClient(store.client, crash_after=k)))
        carry_on(store, refund)
        assert _outcome(store) == expected, f"after a crash at write {k} of {writes}"
    return writes, expected


def _any_refund(store: Store, refund: Refund | None) -> Refund | None:
    found = store.refunds_of_payment("pay_crash_000")
    return found[0] if found else refund


def test_a_transfer_refund_killed_after_any_write_pays_the_payer_once(aws, faked):
    # Given a transfer refund awaiting its payer (created by a clean request)
    tokens: dict[str, str] = {}

    def start(store: Store) -> Refund:
        plain = Store(store.table, getattr(store.client, "real", store.client))
        if not plain.refunds_of_payment("pay_crash_000"):
            merchant = plain.get_merchant("mer_crash")
            created = service.refund_payment(
                plain, merchant, "pay_crash_000", 300_000, None, base_url="https://x"
            )
            token = "payer-token"
            plain.replace_refund_token(created, service.token_hash(token))
            tokens[plain.table] = token
        # When the payer's post of the card is killed after its k-th write
        return payer.submit_card(store, tokens[plain.table], CARD)

    def carry_on(store: Store, refund: Refund | None) -> None:
        current = _any_refund(store, refund)
        assert current is not None
        if current.status is RefundStatus.AWAITING_PAYER:
            payer.submit_card(store, tokens[store.table], CARD)  # the payer posts again
        else:
            service.resolve(store, current)  # the resolver carries it on

    writes, expected = _crash_each_write("transfer", start, carry_on)
    # Then every run ends with one payout of 300,000 and the refund succeeded
    assert writes >= 3
    assert expected == (300_000, [(300_000, "transfer", "succeeded")], [(300_000, "paid")])


def test_a_reverse_killed_after_any_write_gives_the_money_back_once(aws, faked, monkeypatch):
    from datetime import timedelta

    # A claim to call the reverse that a crash left behind lapses (after REVERSE_CLAIM): carried on
    # here as if that time had passed.
    monkeypatch.setattr(service, "REVERSE_CLAIM", timedelta(0))

    def start(store: Store) -> Refund:
        merchant = store.get_merchant("mer_crash")
        faked.reversed_ = False
        return service.refund_payment(store, merchant, "pay_crash_000", None, None, base_url="https://x")

    def carry_on(store: Store, refund: Refund | None) -> None:
        current = _any_refund(store, refund)
        if current is not None:
            service.resolve(store, current)

    _, expected = _crash_each_write("reverse", start, carry_on)
    assert expected == (1_000_000, [(1_000_000, "reverse", "succeeded")], [])


def test_a_reverse_whose_answer_is_lost_is_resolved_by_inquiry_before_anything_else(aws, faked):
    store = new_store("lost")
    merchant, _ = _seed(store)
    faked.lose_answer = True
    # When the reverse call's answer is lost
    refund = service.refund_payment(store, merchant, "pay_crash_000", None, None, base_url="https://x")
    assert (refund.method, refund.status) == (RefundMethod.REVERSE, RefundStatus.PENDING)
    # Then the next step asks the gateway first, which says the money is back: no second reverse
    done = service.resolve(store, refund)
    assert done.status is RefundStatus.SUCCEEDED
    assert faked.calls == ["reverse", "inquire"]
    assert faked.reverse_calls == 1


def test_a_settle_run_killed_after_any_write_nets_each_refund_once(aws, faked):
    def scenario(store: Store) -> None:
        merchant = store.get_merchant("mer_crash")
        assert merchant is not None
        created = service.refund_payment(
            store, merchant, "pay_crash_000", 400_000, None, base_url="https://x"
        )
        # dated before the cutoff of SETTLE_DAY, as if made the day before
        store.client.update_item(
            TableName=store.table,
            Key={"pk": f"REFUND#{created.id}", "sk": "REFUND"},
            UpdateExpression="SET created_at = :at, gsi3sk = :sk",
            ExpressionAttributeValues={
                ":at": "2026-11-22T09:00:00.000000Z",
                ":sk": f"2026-11-22T09:00:00.000000Z#{created.id}",
            },
        )

    def step(store: Store) -> None:
        settle_day(store, SETTLE_DAY, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))

    def outcome(store: Store) -> tuple[Any, ...]:
        [settlement], _ = store.settlements_of("mer_crash", None)
        return (
            settlement.status.value,
            settlement.gross,
            settlement.fee,
            settlement.refunds,
            settlement.carried_in,
            settlement.net,
            store.merchant_owed("mer_crash"),
            (store.get_payout(settlement.id) or {}).get("amount"),
            [r.settlement_id is not None for r in store.refunds_of_payment("pay_crash_000")],
        )

    clean = new_store("net-clean")
    _seed(clean)
    scenario(clean)
    counter = CrashingClient(clean.client, crash_after=None)
    step(Store(clean.table, counter))
    expected = outcome(clean)
    assert expected[3] == 400_000
    assert expected[5] == expected[1] - expected[2] - 400_000
    assert expected[7] == expected[5]
    for k in range(1, counter.writes + 1):
        store = new_store(f"net-{k}")
        _seed(store)
        scenario(store)
        with pytest.raises(Crash):
            step(Store(store.table, CrashingClient(store.client, crash_after=k)))
        step(store)
        assert outcome(store) == expected, f"after a crash at write {k} of {counter.writes}"


def test_a_request_retried_after_a_crash_with_its_key_finds_its_refund(aws, faked):
    # Given a refund request whose worker died right after the refund was written
    store = new_store("keyed")
    merchant, _ = _seed(store)
    with pytest.raises(Crash):
        service.refund_payment(
            Store(store.table, CrashingClient(store.client, crash_after=1)),
            merchant, "pay_crash_000", 300_000, None, base_url="https://x", request_key="k-1",
        )  # fmt: skip
    # When the merchant retries with the same Idempotency-Key
    again = service.refund_payment(store, merchant, "pay_crash_000", 300_000, None, base_url="https://x",
                                   request_key="k-1")  # fmt: skip
    # Then it is the same refund: nothing more is refunded
    assert [r.id for r in store.refunds_of_payment("pay_crash_000")] == [again.id]
    assert store.get_payment("pay_crash_000").amount_refunded == 300_000  # type: ignore[union-attr]
