"""Daily settlement: each merchant's paid money of past days becomes one settlement and one payout."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from paylink.business_calendar import is_business_day, local_date, start_of_day_utc
from paylink.ids import settlement_id
from paylink.merchants import iban_is_valid
from paylink.models import Settlement, SettlementStatus, iso, utcnow
from paylink.money import split
from paylink.observability import logger
from paylink.payouts import PayoutProvider
from paylink.store import Store


@dataclass
class SettleReport:
    date: str
    business_day: bool
    settlements: list[dict[str, Any]] = field(default_factory=list)


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
                    mode="json", include={"id", "status", "payment_count", "gross", "fee", "net"}
                )
            )
    return report


def settle_merchant(
    store: Store, merchant_id: str, day: date, cutoff: str, payout: PayoutProvider
) -> Settlement | None:
    """One merchant's settlement of `day`: gather, close, pay out; each step resumable."""
    merchant = store.get_merchant(merchant_id)
    if merchant is None:
        return None
    last_paid_seen = store.last_paid_at(merchant_id)
    sid = settlement_id(merchant_id, day.isoformat())
    payments = list(store.unsettled_payments(merchant_id, before=cutoff))
    settlement = store.get_settlement(sid)
    if settlement is None and not payments:
        _unflag_if_done(store, merchant_id, last_paid_seen)
        return None
    if settlement is None:
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
    if settlement.status is SettlementStatus.OPEN:
        for payment in payments:
            fee, net = split(payment.amount, merchant.fee)
            store.settle_payment(payment, sid, fee, net)
        if iban_is_valid(settlement.iban):
            store.move_settlement(sid, SettlementStatus.OPEN, SettlementStatus.PENDING)
        else:
            store.move_settlement(
                sid,
                SettlementStatus.OPEN,
                SettlementStatus.HELD,
                held_reason="the merchant's IBAN is not valid",
            )
        settlement = store.get_settlement(sid) or settlement
    if settlement.status is SettlementStatus.PENDING:
        reference = payout.pay(settlement)
        store.move_settlement(
            sid, SettlementStatus.PENDING, SettlementStatus.PAID, payout_reference=reference
        )
        settlement = store.get_settlement(sid) or settlement
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
    _unflag_if_done(store, merchant_id, last_paid_seen)
    return settlement


def _unflag_if_done(store: Store, merchant_id: str, last_paid_seen: str | None) -> None:
    if not store.has_unsettled_payments(merchant_id):
        store.clear_unsettled_flag(merchant_id, last_paid_seen)
