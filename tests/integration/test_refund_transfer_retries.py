"""A refund's failed payout, against the Jibit sandbox over HTTP: a passing failure is sent again as a
new transfer (at most MAX_TRANSFER_ATTEMPTS, one live at a time), a refused destination asks the
payer again, and only then does the refund fail with its amount back on the merchant's balance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from local.sandbox import Sandbox
from local.sandbox.protocols.jibit import BANK_ERROR_REASON, SANDBOX_API_KEY, SANDBOX_SECRET_KEY
from paylink.core.models import Refund, RefundStatus, iso, utcnow
from paylink.refunds import payer, progress, service
from paylink.settlement.jibit_payout import JibitPayout, JibitTransferor
from paylink.store import Store
from tests.integration.test_refund_crashes import CARD, MASK, _seed
from tests.settlement_data import VALID_IBAN, new_store

LATER = timedelta(minutes=2)


@pytest.fixture
def jibit() -> Iterator[Sandbox]:
    with Sandbox(instances={"p": "jibit"}, port=0, slow_seconds=1.5) as running:
        yield running


@pytest.fixture
def world(aws, jibit, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Refund payouts through the Jibit sandbox; the inquiry finds the paying card's account; the
    payer's links and the refund events recorded."""
    from paylink.merchants import identity

    sent: list[str] = []
    events: list[tuple[str, str]] = []
    with httpx.Client() as http:
        client = JibitTransferor(http, f"{jibit.url}/p", SANDBOX_API_KEY, SANDBOX_SECRET_KEY, timeout=0.5)
        monkeypatch.setattr(payer, "_payout", lambda store: JibitPayout(store, client))
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
        monkeypatch.setattr(
            identity, "iban_owner", lambda iban: identity.IbanOwner(VALID_IBAN, ("Ali",), "Bank", "ACTIVE")
        )
        yield {"sent": sent, "events": events, "jibit": jibit}


def _awaiting(store: Store) -> Refund:
    """A 300,000-rial transfer refund awaiting its payer, who has a phone."""
    merchant, payment = _seed(store)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
        UpdateExpression="SET payer = :p",
        ExpressionAttributeValues={":p": {"name": "Ali", "phone": "09121234567"}},
    )
    return service.refund_payment(store, merchant, payment.id, 300_000, None, base_url="https://x")


def _paid_out(store: Store, world: dict[str, Any]) -> Refund:
    """The payer names the card (the link's token is the last one texted): attempt 1 is sent."""
    refund = _awaiting(store)
    payer.submit_card(store, world["sent"][-1], CARD)
    return store.get_refund(refund.id) or refund


def _first_attempt_sent_in(store: Store, world: dict[str, Any], mode: str) -> Refund:
    """The payer's card checked and attempt 1 sent while the sandbox is in `mode` (not asked about
    yet: the sandbox's bank decides at the first inquiry), then the sandbox back to `ok`."""
    refund = _awaiting(store)
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


def _transfers(jibit: Sandbox) -> list[str]:
    """The transfer ids Jibit took a submission for, in order."""
    return [
        c["body"]["transfers"][0]["transferID"]
        for c in jibit.calls("p")
        if c["method"] == "POST" and c["path"] == "/v2/transfers"
    ]


def _run(store: Store) -> dict[str, int]:
    return progress.carry_on_refunds(store, utcnow() + LATER, "https://pay.example")


def _order(refund: Refund) -> str:
    return "rfd_" + refund.id.removeprefix("ref_")


def test_a_transfer_the_bank_failed_for_a_passing_reason_is_sent_again_as_a_new_transfer(world):
    store = new_store("retry-passing")
    jibit = world["jibit"]
    # Given the bank fails the refund's first transfer for a passing reason
    refund = _first_attempt_sent_in(store, world, "bank_error")
    # When the reconciler runs (the bank is fine again)
    _run(store)
    # Then a second transfer went under its own id, and the next run finds it paid
    assert _transfers(jibit) == [f"{_order(refund)}-1", f"{_order(refund)}-2"]
    assert store.get_refund(refund.id).failure_reason == BANK_ERROR_REASON  # type: ignore[union-attr]
    assert _run(store) == {"succeeded": 1}
    after = store.get_refund(refund.id)
    assert after is not None
    assert (after.status, after.transfer_attempts) == (RefundStatus.SUCCEEDED, 2)
    assert world["events"].count((refund.id, "succeeded")) == 1


def test_a_refused_submission_is_sent_again_then_the_refund_fails_after_the_last_attempt(world):
    store = new_store("retry-limit")
    jibit = world["jibit"]
    # Given Jibit rejects every submission
    jibit.set_mode("p", "rejected")
    refund = _paid_out(store, world)
    # When the reconciler runs until nothing is left to do
    for _ in range(payer.MAX_TRANSFER_ATTEMPTS + 2):
        _run(store)
    # Then each attempt was sent once under its own id, and after the last the refund failed
    assert _transfers(jibit) == [f"{_order(refund)}-{n}" for n in range(1, payer.MAX_TRANSFER_ATTEMPTS + 1)]
    after = store.get_refund(refund.id)
    assert after is not None
    assert after.status is RefundStatus.FAILED
    assert "after 3 attempts" in (after.failure_reason or "")
    # And its amount is back: refundable again, on the merchant's balance
    assert store.get_payment(refund.payment_id).amount_refunded == 0  # type: ignore[union-attr]
    assert world["events"].count((refund.id, "failed")) == 1


def test_a_closed_destination_account_asks_the_payer_again_with_a_new_link(world):
    store = new_store("ask-again")
    jibit = world["jibit"]
    # Given the bank fails the transfer: the destination account is closed
    jibit.set_mode("p", "transfer_fails")
    refund = _paid_out(store, world)
    first_link = world["sent"][-1]
    # When the reconciler learns it
    assert _run(store) == {"awaiting_payer": 1}
    # Then no second transfer went; the payer got a new link, the old one no longer works
    assert _transfers(jibit) == [f"{_order(refund)}-1"]
    after = store.get_refund(refund.id)
    assert after is not None
    assert after.status is RefundStatus.AWAITING_PAYER
    assert after.iban is None
    assert len(world["sent"]) == 2
    assert store.refund_for_token(service.token_hash(first_link)) is None
    # And when the payer names the card again, attempt 2 goes under its own id and is paid
    jibit.set_mode("p", "ok")
    assert payer.submit_card(store, world["sent"][-1], CARD).status is RefundStatus.SUCCEEDED
    assert _transfers(jibit) == [f"{_order(refund)}-1", f"{_order(refund)}-2"]


def test_reading_the_refunds_through_the_api_asks_the_payer_again_too(world):
    store = new_store("ask-again-api")
    world["jibit"].set_mode("p", "transfer_fails")
    refund = _paid_out(store, world)
    merchant = store.get_merchant(refund.merchant_id)
    assert merchant is not None
    [seen] = service.refunds_of(store, merchant, refund.payment_id, base_url="https://pay.example")
    assert seen.status is RefundStatus.AWAITING_PAYER
    assert len(world["sent"]) == 2


def test_the_failure_reasons_that_name_the_destination_ask_the_payer_and_others_retry():
    assert payer.destination_refused("the destination account is closed")
    assert payer.destination_refused("Jibit refused the transfer (transfer.destination_invalid)")
    assert payer.destination_refused("the sandbox bank refused the account")
    assert not payer.destination_refused(BANK_ERROR_REASON)
    assert not payer.destination_refused("Jibit rejected the transfer (destination rejected)")
    assert not payer.destination_refused("Jibit never received the transfer")
    assert not payer.destination_refused(None)


def test_a_refund_paid_out_is_off_the_work_list(world):
    store = new_store("off-list")
    refund = _paid_out(store, world)
    _run(store)
    assert store.get_refund(refund.id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
    assert list(store.refunds_needing_work(iso(utcnow() + timedelta(days=400)))) == []


@pytest.mark.parametrize(("lang", "words"), [("en", "did not go through"), ("fa", "واریز قبلی")])
def test_the_payers_new_page_says_why_the_card_is_asked_again(world, lang, words):
    from paylink.refunds import page

    store = new_store(f"again-page-{lang}")
    world["jibit"].set_mode("p", "transfer_fails")
    _paid_out(store, world)
    _run(store)
    view = payer.view(store, world["sent"][-1])
    assert view is not None
    html = str(page._page(view, world["sent"][-1], lang, None).body)
    assert words in html
    assert 'name="card"' in html
