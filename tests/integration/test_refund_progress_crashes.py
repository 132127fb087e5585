"""The reconciler's refund steps killed after each of their writes, then run again, end like a clean
run; and two runs at once (with the API reading) act once. As tests/integration/test_refund_crashes.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.jibit import SANDBOX_API_KEY, SANDBOX_SECRET_KEY
from paylink.core.models import Refund, RefundStatus, utcnow
from paylink.refunds import payer, progress, service
from paylink.settlement.jibit_payout import JibitPayout, JibitTransferor
from paylink.store import Store
from tests.integration.test_concurrent_callbacks import moto_server  # noqa: F401 - the fixture
from tests.integration.test_refund_crashes import MASK, _seed
from tests.integration.test_settlement_crashes import Crash, CrashingClient
from tests.settlement_data import VALID_IBAN, new_store

BASE = "https://pay.example"
PAST = "2026-01-01T00:00:00.000000Z"


@pytest.fixture(scope="module")
def jibit() -> Iterator[Sandbox]:
    with Sandbox(instances={"p": "jibit"}, port=0, slow_seconds=1.5) as running:
        yield running


@pytest.fixture
def world(jibit, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    from paylink.merchants import identity

    jibit.set_mode("p", "ok")
    sent: list[str] = []
    events: list[tuple[str, str]] = []
    with httpx.Client() as http:
        client = JibitTransferor(http, f"{jibit.url}/p", SANDBOX_API_KEY, SANDBOX_SECRET_KEY, timeout=0.5)
        options: dict[str, Any] = {}
        monkeypatch.setattr(payer, "_payout", lambda store: JibitPayout(store, client, **options))
        monkeypatch.setattr(
            service, "send_payer_link", lambda payment, refund, token, base: sent.append(token)
        )
        monkeypatch.setattr(
            service,
            "emit_refund_event",
            lambda refund, store=None: events.append((refund.id, refund.status.value)) or refund.id,
        )
        monkeypatch.setattr(
            identity, "card_to_iban", lambda card: identity.CardOwner(VALID_IBAN, "Ali", "Bank", MASK)
        )
        yield {"sent": sent, "events": events, "jibit": jibit, "options": options}


def _awaiting(store: Store, *, expired: bool, reminders: int = 0) -> Refund:
    merchant, payment = _seed(store)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
        UpdateExpression="SET payer = :p",
        ExpressionAttributeValues={":p": {"name": "Ali", "phone": "09121234567"}},
    )
    refund = service.refund_payment(store, merchant, payment.id, 300_000, None, base_url="https://x")
    if expired:
        store.client.update_item(
            TableName=store.table,
            Key={"pk": f"REFUND#{refund.id}", "sk": "REFUND"},
            UpdateExpression="SET expires_at = :past, gsi2sk = :due, reminders = :n",
            ExpressionAttributeValues={":past": PAST, ":due": f"{PAST}#{refund.id}", ":n": reminders},
        )
    return store.get_refund(refund.id) or refund


def _first_attempt_sent_in(store: Store, world: dict[str, Any], mode: str) -> Refund:
    refund = _awaiting(store, expired=False)
    store.move_refund(
        refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.PENDING, iban=VALID_IBAN, transfer_attempts=1
    )
    fresh = store.get_refund(refund.id)
    assert fresh is not None
    world["jibit"].set_mode("p", mode)
    order = payer._pseudo_settlement(fresh)
    payer._payout(store).submit(order, attempt=1, day=order.date)
    world["jibit"].set_mode("p", "ok")
    return fresh


def _step(store: Store) -> None:
    """One reconciler step on the payment's refund (not the loop: it would swallow the crash)."""
    [refund] = store.refunds_of_payment("pay_crash_000")
    progress.carry_on(store, refund, utcnow() + timedelta(minutes=2), BASE)


def _outcome(store: Store, world: dict[str, Any]) -> tuple[Any, ...]:
    """What a run leaves: the refund, the payment's counter, the payout attempts (each sent once,
    at most one paid), the events told."""
    [refund] = store.refunds_of_payment("pay_crash_000")
    payment = store.get_payment("pay_crash_000")
    assert payment is not None
    order = "rfd_" + refund.id.removeprefix("ref_")
    taken = [
        c["body"]["transfers"][0]["transferID"]
        for c in world["jibit"].calls("p")
        if c["method"] == "POST" and c["path"] == "/v2/transfers" and order in str(c["body"])
    ]
    assert len(taken) == len(set(taken)), taken  # no transfer id sent twice
    attempts = [store.transfer(order, n) for n in range(1, refund.transfer_attempts + 1)]
    paid = [a for a in attempts if a and a.get("status") == "paid"]
    token_works = bool(refund.token_hash) and store.refund_for_token(refund.token_hash or "") is not None
    return (
        refund.status.value,
        refund.reminders,
        token_works,
        payment.amount_refunded,
        len(paid),
        sorted({s for r, s in world["events"] if r == refund.id}),
    )


def _crash_each_write(
    world: dict[str, Any], prefix: str, seed: Callable[[Store], Any], runs: int = 2
) -> tuple[int, tuple[Any, ...]]:
    clean = new_store(f"{prefix}-clean")
    seed(clean)
    counter = CrashingClient(clean.client, crash_after=None)
    _step(Store(clean.table, counter))
    for _ in range(runs - 1):
        _step(clean)
    expected, writes = _outcome(clean, world), counter.writes
    for k in range(1, writes + 1):
        store = new_store(f"{prefix}-{k}")
        seed(store)
        with pytest.raises(Crash):
            _step(Store(store.table, CrashingClient(store.client, crash_after=k)))
        for _ in range(runs):
            _step(store)
        assert _outcome(store, world) == expected, f"after a crash at write {k} of {writes}"
    return writes, expected


def test_an_automatic_reminder_killed_after_any_write_reminds_once(aws, world):
    writes, expected = _crash_each_write(world, "remind", lambda s: _awaiting(s, expired=True), runs=1)
    assert writes >= 1
    assert expected[:3] == ("awaiting_payer", 1, True)


def test_a_refund_failed_at_its_last_expiry_killed_after_any_write_gives_its_amount_back_once(aws, world):
    _, expected = _crash_each_write(
        world, "expire", lambda s: _awaiting(s, expired=True, reminders=service.MAX_REMINDERS), runs=1
    )
    assert expected[0] == "failed"
    assert expected[3] == 0  # the payment's whole amount is refundable again


def test_a_new_payout_attempt_killed_after_any_write_is_sent_once(aws, world):
    # A claimed attempt that a crash kept from leaving is failed at once here (in production an
    # hour after its claim, UNKNOWN_AFTER), so the run after it sends the next attempt.
    world["options"]["unknown_after"] = timedelta(0)
    seed = lambda s: _first_attempt_sent_in(s, world, "bank_error")  # noqa: E731
    writes, expected = _crash_each_write(world, "retry", seed, runs=3)
    assert writes >= 3
    assert expected[0] == "succeeded"
    assert expected[4] == 1  # one transfer paid


def test_asking_the_payer_again_killed_after_any_write_texts_one_working_link(aws, world):
    _, expected = _crash_each_write(
        world, "again", lambda s: _first_attempt_sent_in(s, world, "transfer_fails"), runs=1
    )
    assert expected[:3] == ("awaiting_payer", 0, True)
    assert expected[4] == 0


# ---- two runs at once, and the API reading at the same time --------------------------------------


def _together(*calls: Callable[[], Any]) -> None:
    """Start every call at the same moment (a barrier), in threads; re-raise the first error."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _runs(store: Store, merchant_reads: int = 1) -> list[Callable[[], Any]]:
    merchant = store.get_merchant("mer_crash")
    assert merchant is not None
    now = utcnow() + timedelta(minutes=2)
    calls: list[Callable[[], Any]] = [lambda: progress.carry_on_refunds(store, now, BASE) for _ in range(3)]
    calls += [
        lambda: service.refunds_of(store, merchant, "pay_crash_000", base_url=BASE)
        for _ in range(merchant_reads)
    ]
    return calls


def test_runs_at_once_remind_an_expired_payer_once(world, moto_store):
    # Given an expired link with reminders left
    refund = _awaiting(moto_store, expired=True)
    # When three reconciler runs and the merchant's read happen at once
    _together(*_runs(moto_store))
    # Then one reminder: one more link texted, the count up by one
    after = moto_store.get_refund(refund.id)
    assert after is not None
    assert after.reminders == 1
    assert len(world["sent"]) == 2


def test_runs_at_once_fail_an_expired_refund_once_and_give_its_amount_back_once(world, moto_store):
    refund = _awaiting(moto_store, expired=True, reminders=service.MAX_REMINDERS)
    _together(*_runs(moto_store))
    after = moto_store.get_refund(refund.id)
    assert after is not None
    assert after.status is RefundStatus.FAILED
    assert moto_store.get_payment("pay_crash_000").amount_refunded == 0  # type: ignore[union-attr]
    assert world["events"].count((refund.id, "failed")) == 1


def test_runs_at_once_send_one_new_attempt_after_a_failed_one(world, moto_store):
    # Given attempt 1 failed at the bank for a passing reason
    refund = _first_attempt_sent_in(moto_store, world, "bank_error")
    # When three runs and the merchant's read learn it at once
    _together(*_runs(moto_store))
    # Then one attempt 2 was sent (never two live at once), and no attempt 3
    order = "rfd_" + refund.id.removeprefix("ref_")
    sent = [
        c["body"]["transfers"][0]["transferID"]
        for c in world["jibit"].calls("p")
        if c["method"] == "POST" and c["path"] == "/v2/transfers" and order in str(c["body"])
    ]
    assert sent == [f"{order}-1", f"{order}-2"]
    assert moto_store.get_refund(refund.id).transfer_attempts == 2  # type: ignore[union-attr]


@pytest.fixture
def moto_store(moto_server) -> Store:  # type: ignore[no-untyped-def]  # noqa: F811
    """A store on the DynamoDB server that applies requests atomically (as test_refund_race.py)."""
    from paylink.store import get_store

    return get_store()


def test_runs_at_once_call_the_gateways_reverse_once(world, moto_store, monkeypatch):
    from paylink.payments import routing
    from paylink.payments.gateways.base import ErrorKind, GatewayError
    from tests.integration.test_refund_crashes import FakeGateway

    class Unanswered(FakeGateway):
        """The first reverse call never reached the bank (timeout); later ones reverse."""

        def reverse(self, *, token: str, amount_irr: int, refs: Any = None) -> bool:
            if not self.calls:
                self.calls.append("reverse")
                self.reverse_calls += 1
                raise GatewayError(ErrorKind.TRANSIENT, "timeout", "no answer")
            return super().reverse(token=token, amount_irr=amount_irr, refs=refs)

        def inquire(self, *, token: str, amount_irr: int, refs: Any = None) -> Any:
            answer = super().inquire(token=token, amount_irr=amount_irr, refs=refs)
            time.sleep(0.3)  # every caller has its answer (paid) before any calls the reverse
            return answer

        verify = inquire

    gateway = Unanswered()
    monkeypatch.setattr(routing, "adapter", lambda name: gateway)
    # Given a reverse whose first call went unanswered (the gateway still says paid), its claim lapsed
    merchant, payment = _seed(moto_store)
    with monkeypatch.context() as lapsed:
        lapsed.setattr(service, "REVERSE_CLAIM", timedelta(0))
        refund = service.refund_payment(moto_store, merchant, payment.id, None, None, base_url="https://x")
    assert refund.status is RefundStatus.PENDING
    # When three reconciler runs and the merchant's read ask at once
    _together(*_runs(moto_store))
    # Then one more reverse was called, and the refund succeeded
    assert gateway.reverse_calls == 2
    assert moto_store.get_refund(refund.id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
