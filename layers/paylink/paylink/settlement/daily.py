"""Daily settlement: each merchant's paid money of past days becomes one settlement and one payout.

Settlement states (paylink.core.models.SETTLEMENT_MOVES), every move a conditional write:

    open -> pending -> submitted -> paid
    open -> held -> pending            (once the merchant's IBAN is valid again)
    submitted -> failed -> submitted   (retried by a later run: a new attempt)

A payment moves into an open settlement and adds to its totals in one transaction, once; the
payout provider is asked before the settlement records the attempt, and answers a repeat of an
attempt without paying again. So a run killed after any write, then run again, ends in the same
settlements with every payment settled once and at most one transfer paid per settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from paylink.core.ids import settlement_id
from paylink.core.models import Merchant, Settlement, SettlementStatus, iso, utcnow
from paylink.core.observability import Metric, correlate, count, logger, put_metrics
from paylink.merchants.accounts import iban_is_valid
from paylink.payments.archive import queue_settlement
from paylink.settlement.business_calendar import (
    is_business_day,
    local_date,
    next_business_day,
    start_of_day_utc,
)
from paylink.settlement.money import split
from paylink.settlement.payouts import PayoutDeferred, PayoutProvider, PayoutStatus
from paylink.store import Store

HELD_INVALID_IBAN = "the merchant's IBAN is not valid"


@dataclass
class SettleReport:
    date: str
    business_day: bool
    settlements: list[dict[str, Any]] = field(default_factory=list)


def expected_settlement_date(paid_at: str, *, tz: str, country: str) -> str:
    """The business day whose settlement will carry a payment paid at `paid_at` (ISO): the first
    business day after its calendar day in `tz`."""
    paid_day = local_date(datetime.fromisoformat(paid_at), tz)
    return next_business_day(paid_day, country).isoformat()


def business_day_of(event: dict[str, Any], tz: str) -> date:
    """The day a settle event asks for: `{"date": ...}` by hand, else the schedule's own time in `tz`."""
    if event.get("date"):
        return date.fromisoformat(str(event["date"]))
    moment = event.get("scheduled_time") or event.get("time")
    if moment:
        return local_date(datetime.fromisoformat(str(moment).replace("Z", "+00:00")), tz)
    return local_date(utcnow(), tz)


def settle_day(store: Store, day: date, *, tz: str, country: str, payout: PayoutProvider) -> SettleReport:
    """Settle every merchant's paid, unsettled payments made before `day` 00:00 in `tz`.

    Nothing happens on a weekly rest day or an official holiday: that money waits for the next
    business day. Running the same day again creates nothing new; a run that crashed halfway
    finishes what it started.
    """
    report = SettleReport(date=day.isoformat(), business_day=is_business_day(day, country))
    if not report.business_day:
        logger.info("not a business day; nothing settles", extra={"date": report.date})
        return report
    cutoff = iso(start_of_day_utc(day, tz))
    for merchant_id in list(store.merchants_with_unsettled_money()):
        settlement = settle_merchant(store, merchant_id, day, cutoff, payout)
        if settlement is not None:
            report.settlements.append(
                settlement.model_dump(
                    mode="json",
                    include={"id", "status", "payment_count", "gross", "fee", "refunds", "carried_in", "net"},
                )
            )
    return report


def settle_merchant(
    store: Store, merchant_id: str, day: date, cutoff: str, payout: PayoutProvider
) -> Settlement | None:
    """One merchant's settlement of `day`: gather, close, pay out; each step resumable.

    The same run also finishes the merchant's earlier settlements not yet paid: an open one a
    crash left behind is closed, a held one is released once the IBAN is valid, a failed payout
    is tried again (a new attempt), a submitted one is checked with the provider.
    """
    correlate(merchant_id=merchant_id)
    merchant = store.get_merchant(merchant_id)
    if merchant is None:
        return None
    sid = settlement_id(merchant_id, day.isoformat())
    unsettled = list(store.unsettled_payments(merchant_id))  # one query: due now, and later ones
    payments = [p for p in unsettled if (p.paid_at or "") < cutoff]
    settlement = store.get_settlement(sid)
    # A day with refunds waiting and no payment still gets its settlement (gross 0): the refunds are
    # netted and what they leave owing is carried, instead of waiting for the merchant's next sale.
    refunds_waiting = bool(store.refunds_due(merchant_id, before=cutoff)) if not payments else False
    if settlement is None and (payments or refunds_waiting):
        settlement = store.open_settlement(
            Settlement(
                id=sid,
                merchant_id=merchant_id,
                date=day.isoformat(),
                status=SettlementStatus.OPEN,
                iban=merchant.iban,
                created_at=iso(utcnow()),
            )
        )
    moved = 0
    if settlement is not None and settlement.status is SettlementStatus.OPEN:
        moved = store.settle_payments([(p, *split(p.amount, merchant.fee)) for p in payments], sid)
    if settlement is not None:  # its payments leave the table once past the refund window (issue 18)
        queue_settlement(store, sid, day.isoformat())
    # Payments of later days, or of this day arriving after its settlement closed, wait for a later run.
    payments_left = len(unsettled) > moved
    earlier = [due.id for due in store.payouts_due(merchant_id) if due.id != sid]
    earlier_unpaid = False
    for other in earlier:
        advanced = advance_settlement(store, other, merchant, payout, day.isoformat())
        earlier_unpaid |= advanced is not None and advanced.status is not SettlementStatus.PAID
    if settlement is not None:
        settlement = advance_settlement(store, sid, merchant, payout, day.isoformat())
    if settlement is not None:
        logger.info(
            "merchant settled",
            extra={
                "settlement_id": sid,
                "status": settlement.status.value,
                "payments": settlement.payment_count,
                "gross": settlement.gross,
                "fee": settlement.fee,
                "net": settlement.net,
            },
        )
    if not (payments_left or earlier_unpaid):
        _unflag_if_done(store, merchant_id, settlement)
    return settlement


def advance_settlement(
    store: Store, sid: str, merchant: Merchant, payout: PayoutProvider, run_day: str
) -> Settlement | None:
    """Move one settlement as far along its state machine as this run can; every move conditional.

    open -> pending | held; held -> pending (IBAN valid again); pending | failed -> submitted
    (attempt n+1 sent to the provider first, so a crash in between re-sends the same attempt, which
    the provider answers without paying again); submitted -> paid | failed (the provider's word).
    A settlement that fails in this run is retried by the next run, not this one.
    """
    settlement = store.get_settlement(sid)
    if settlement is None:
        return None
    if settlement.status is SettlementStatus.OPEN:
        closed = _close(store, settlement)
        settlement = store.get_settlement(sid) or settlement
        if closed:
            _count_closed(settlement)  # read after the close: its totals can no longer grow
    if settlement.status is SettlementStatus.HELD and iban_is_valid(merchant.iban):
        store.move_settlement(
            sid,
            SettlementStatus.HELD,
            SettlementStatus.PENDING,
            iban=merchant.iban,
            remove=["held_reason"],
        )
        settlement = store.get_settlement(sid) or settlement
    if settlement.status in (SettlementStatus.PENDING, SettlementStatus.FAILED):
        settlement = _submit(store, settlement, merchant, payout, run_day)
    if settlement.status is SettlementStatus.SUBMITTED:
        settlement = check_submitted(store, settlement, payout)
    return settlement


CLOSE_TRIES = 5  # refunds arriving while it closes make it net them and try again


def _close(store: Store, settlement: Settlement) -> bool:
    """open -> pending (or held): every refund still waiting is netted into it (DESIGN 9: a refund
    is netted when the settlement after it closes), then its net after its refunds and what earlier
    ones left owing, never below zero; what is still owing is carried to the merchant's next
    settlement. The settlement, the merchant's balance and the payout's ledger entry move in one
    transaction, conditional on the balance read before the netting: a refund made (or failed)
    meanwhile makes the close net again, so no refund is left counting on money this payout takes."""
    for _ in range(CLOSE_TRIES):
        seen = store.merchant_balance(settlement.merchant_id)
        for refund in store.refunds_due(settlement.merchant_id):
            store.net_refund(refund, settlement.id)
        current = store.get_settlement(settlement.id)
        if current is None or current.status is not SettlementStatus.OPEN:
            return False
        owed = seen.owed
        total = current.gross - current.fee - current.refunds - owed
        net = max(0, total)
        held = not iban_is_valid(current.iban)
        if store.close_settlement(
            current.id,
            current.merchant_id,
            SettlementStatus.HELD if held else SettlementStatus.PENDING,
            seen=seen,
            claims=seen.claims - current.refunds - owed + (net - total),
            net=net,
            carried_in=owed,
            carried_out=net - total,
            at=iso(utcnow()),
            **({"held_reason": HELD_INVALID_IBAN} if held else {}),
        ):
            return True
    logger.warning("settlement left open: its balance kept changing", extra={"settlement_id": settlement.id})
    return False


def _count_closed(settlement: Settlement) -> None:
    """A settlement closed (its totals final): what it carries, once, by the run that closed it."""
    put_metrics(
        {
            Metric.SETTLEMENT_GROSS: settlement.gross,
            Metric.SETTLEMENT_FEE: settlement.fee,
            Metric.SETTLEMENT_NET: settlement.net,
            Metric.SETTLEMENT_PAYMENTS: settlement.payment_count,
        }
    )


NOTHING_TO_PAY = "none"  # the payout reference of a settlement whose net is 0: no transfer is made


def _submit(
    store: Store, settlement: Settlement, merchant: Merchant, payout: PayoutProvider, run_day: str
) -> Settlement:
    if settlement.net == 0:
        return _nothing_to_pay(store, settlement)
    attempt = settlement.payout_attempts + 1
    iban = settlement.iban
    if settlement.status is SettlementStatus.FAILED and iban_is_valid(merchant.iban):
        iban = merchant.iban  # a retry goes to the account the merchant has now
    order = settlement.model_copy(update={"iban": iban})
    try:
        receipt = payout.submit(order, attempt=attempt, day=run_day)
    except PayoutDeferred as exc:
        logger.info("payout deferred", extra={"settlement_id": settlement.id, "reason": str(exc)})
        return settlement
    store.move_settlement(
        settlement.id,
        settlement.status,
        SettlementStatus.SUBMITTED,
        attempts=settlement.payout_attempts,
        payout_attempts=attempt,
        payout_reference=receipt.reference,
        iban=iban,
        submitted_at=iso(utcnow()),
        remove=["failure_reason"],
    )
    current = store.get_settlement(settlement.id) or settlement
    if receipt.confirmed and current.status is SettlementStatus.SUBMITTED:
        if store.move_settlement(
            settlement.id,
            SettlementStatus.SUBMITTED,
            SettlementStatus.PAID,
            attempts=attempt,
            paid_at=iso(utcnow()),
        ):
            logger.info("payout paid", extra={"settlement_id": settlement.id, "attempt": attempt})
        current = store.get_settlement(settlement.id) or current
    return current


def check_submitted(store: Store, settlement: Settlement, payout: PayoutProvider) -> Settlement:
    """A submitted settlement moved to what its provider says of its latest attempt."""
    if settlement.status is not SettlementStatus.SUBMITTED:
        return settlement
    if settlement.net == 0 and settlement.payout_reference == NOTHING_TO_PAY:
        return _nothing_to_pay(store, settlement)
    outcome = payout.status(settlement)
    attempts = settlement.payout_attempts
    if outcome is PayoutStatus.PAID:
        store.move_settlement(
            settlement.id,
            SettlementStatus.SUBMITTED,
            SettlementStatus.PAID,
            attempts=attempts,
            paid_at=iso(utcnow()),
        )
    elif outcome is PayoutStatus.FAILED:
        reason = payout.failure_reason(settlement) or "the bank did not make the transfer"
        if store.move_settlement(
            settlement.id,
            SettlementStatus.SUBMITTED,
            SettlementStatus.FAILED,
            attempts=attempts,
            failure_reason=reason,
        ):
            count(Metric.SETTLEMENT_PAYOUT_FAILED)
        logger.warning(
            "payout failed; the next run retries it",
            extra={"settlement_id": settlement.id, "attempt": attempts, "reason": reason},
        )
    else:
        return settlement
    return store.get_settlement(settlement.id) or settlement


def _nothing_to_pay(store: Store, settlement: Settlement) -> Settlement:
    """A settlement whose refunds took all its money (net 0) is done without asking for a transfer
    of nothing: pending -> submitted (reference `none`) -> paid, each move conditional."""
    if settlement.status is not SettlementStatus.SUBMITTED:
        store.move_settlement(
            settlement.id,
            settlement.status,
            SettlementStatus.SUBMITTED,
            attempts=settlement.payout_attempts,
            payout_reference=NOTHING_TO_PAY,
            submitted_at=iso(utcnow()),
            remove=["failure_reason"],
        )
    store.move_settlement(
        settlement.id, SettlementStatus.SUBMITTED, SettlementStatus.PAID, paid_at=iso(utcnow())
    )
    return store.get_settlement(settlement.id) or settlement


def confirm_bank_batch(
    store: Store, day: str, failed: dict[str, str], payout: PayoutProvider
) -> list[Settlement]:
    """The operator's record of the bank's answer on a day's issued batch file.

    Every line is paid except the settlements named in `failed` (id -> reason); their submitted
    settlements move to paid or failed at once (a failed one is retried by the next settle run).
    """
    from paylink.settlement.bank_batch import record_bank_answers

    record_bank_answers(store, day, failed)
    file = store.get_batch_file(day) or {}
    moved = []
    for entry in file.get("lines", []):
        settlement = store.get_settlement(str(entry["settlement_id"]))
        if settlement is not None and settlement.payout_attempts == int(entry["attempt"]):
            moved.append(check_submitted(store, settlement, payout))
    return moved


def _unflag_if_done(store: Store, merchant_id: str, settlement: Settlement | None) -> None:
    """Take the merchant's balance off the list to visit once no refund waits to be netted.

    Paid payments and unpaid settlements keep a merchant on the list by their own entries
    (store.settlements: the shared gsi3 lists), so only the refunds' flag is cleared here; a
    refund made since the balance was read keeps it (the condition on its claims and version).
    """
    if settlement is not None and settlement.status is not SettlementStatus.PAID:
        return  # its refunds are netted in it: the flag goes once it is paid
    balance = store.merchant_balance(merchant_id)  # before the refunds waiting are listed
    if balance.flagged and not store.refunds_due(merchant_id):
        store.clear_refund_flag(merchant_id, balance)
