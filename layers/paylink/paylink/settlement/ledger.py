"""A merchant's balance and ledger: what its refunds may use, what waits, what it owes, and entries.

The ledger's entries (signed rials, positive: money for the merchant) are:
- `payment` (+amount) and `fee` (-our fee): the payment items themselves, paid or settled; no write
  on the checkout or callback paths is added for them;
- `refund` (-amount), `reversal` (+amount: a refund that failed, its money back to the balance) and
  `payout` (-net, when a settlement closes): ledger items written in the transactions that make
  those changes (paylink.store.refunds).
Payments archived to S3 past their refund window (paylink.payments.archive) keep their entries: the
ledger reads them back from their settlements' archive objects, under the same keys (start, id), so
a cursor means the same before and after a payment is archived and a page lists it once.
Their sum is the merchant's balance: what waits to be paid out less what it owes. A carried balance
is that sum when it is negative (`owed`, shown on GET /v1/balance and on each settlement as
`carried_in`/`carried_out`); it is no entry of its own, since the refunds that made it are.

What a refund may use (`cover`) is the net of the payments not yet in a closed settlement, read after
the merchant's balance item; the balance item's `claims` (refunds not netted, refunds netted in open
settlements, and `owed`) must stay within it, a condition of the refund's own transaction. Payments
only raise that net (a stale read is conservative); only a settlement's close lowers it, and every
close bumps the balance's version, which every refund's transaction conditions on.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from paylink.core.errors import ValidationFailed
from paylink.core.models import Merchant, Payment, PaymentStatus, SettlementStatus, iso
from paylink.settlement.money import split
from paylink.store import Store
from paylink.store.refunds import Balance

# A payment settles on the first business day after it is paid (a missed run is caught up the next
# day); this bounds how much later than its start a payment's settlement day can be, with a margin
# beyond Iran's longest run of holidays (Nowruz). The archive objects a ledger page reads for
# payments started before a day are those of settlements up to this long after it.
SETTLE_LAG = timedelta(days=14)

# A cursor is the key of the last entry shown: an ISO instant, '#', then ids and kinds.
_CURSOR_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+Z#[A-Za-z0-9_#-]{1,120}$")


@dataclass(frozen=True)
class Cover:
    seen: Balance  # the balance item, read first
    pending: int  # net of the merchant's payments not yet in a closed settlement, read after it

    @property
    def room(self) -> int:
        """What new refunds may still take (before any allowance of a settled payment's own net)."""
        return self.pending - self.seen.claims


def read_cover(store: Store, merchant: Merchant) -> Cover:
    """The balance item, then the open settlements' net, then the unsettled payments' net.

    In that order: a close after the first read changes the version the refund's write checks,
    and a payment moving into an open settlement between the last two reads is counted in neither
    (too little, never twice)."""
    seen = store.merchant_balance(merchant.id)
    in_open = sum(
        s.gross - s.fee for s in store.payouts_due(merchant.id) if s.status is SettlementStatus.OPEN
    )
    unsettled = sum(split(p.amount, merchant.fee)[1] for p in store.unsettled_payments(merchant.id))
    return Cover(seen=seen, pending=in_open + unsettled)


def own_allowance(store: Store, payment: Payment) -> int:
    """The net we paid out for this payment once its settlement closed: a refund of it may take that
    back from the merchant's next settlements (carried owing). Its net is still in `pending` while
    its settlement is open, so nothing more then."""
    if payment.status is not PaymentStatus.SETTLED or not payment.settlement_id:
        return 0
    settlement = store.get_settlement(payment.settlement_id)
    if settlement is None or settlement.status is SettlementStatus.OPEN:
        return 0
    return payment.net or 0


def balance(store: Store, merchant: Merchant, *, next_settlement_date: str) -> dict[str, Any]:
    """GET /v1/balance: what waits for the next settlements, what refunds take from it, what is owed."""
    cover = read_cover(store, merchant)
    refunds_due = cover.seen.claims - cover.seen.owed
    waiting = cover.pending - refunds_due - cover.seen.owed
    busy = cover.pending > 0 or refunds_due > 0
    return {
        "pending": cover.pending,
        "refunds_due": refunds_due,
        "owed": cover.seen.owed,
        "waiting": max(0, waiting),
        "next_settlement_date": next_settlement_date if busy else None,
    }


def _entry(kind: str, amount: int, at: str, obj: str, object_id: str) -> dict[str, Any]:
    return {"type": kind, "amount": amount, "created_at": at, "object": obj, "object_id": object_id}


OBJECTS = {"refund": "refund", "reversal": "refund", "payout": "settlement"}


def decode_ledger_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    refused = ValidationFailed("invalid cursor", fields={"cursor": "not a cursor of this list"})
    try:
        key = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise refused from exc
    if not _CURSOR_KEY.match(key):
        raise refused
    return key


def ledger_page(
    store: Store,
    merchant: Merchant,
    *,
    cursor: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the merchant's ledger, newest first: its paid payments (each a `payment` and a
    `fee` entry, placed by when the payment started) merged with its ledger items."""
    below = decode_ledger_cursor(cursor)
    payments, more_payments, read_down_to = store.paid_payments_page(
        merchant.id, below=below, since=since, until=until, limit=limit
    )
    archived, more_archived = archived_page(merchant, below=below, since=since, until=until, limit=limit)
    items, more_items = store.ledger_entries(merchant.id, below=below, since=since, until=until, limit=limit)
    by_key: dict[str, list[dict[str, Any]]] = {}
    # archived first: a payment in both (archived, its stub not yet written) is listed once, as hot
    for p in [*archived, *payments]:
        fee = p.fee if p.fee is not None else split(p.amount, merchant.fee)[0]
        at = p.paid_at or p.created_at
        entries = [_entry("payment", p.amount, at, "payment", p.id)]
        if fee:
            entries.append(_entry("fee", -fee, at, "payment", p.id))
        by_key[_payment_key(p)] = entries
    for item in items:
        kind = str(item["type"])
        at, object_id = str(item["created_at"]), str(item["object_id"])
        by_key[str(item["gsi1sk"])] = [_entry(kind, int(item["amount"]), at, OBJECTS[kind], object_id)]
    rows = sorted(by_key.items(), key=lambda row: row[0], reverse=True)
    if read_down_to:  # payments below it are not read yet: nothing below it may be shown before them
        rows = [row for row in rows if row[0] >= read_down_to]
    shown = rows[:limit]
    more = more_payments or more_archived or more_items or len(rows) > limit
    # A page cut short by the payments' key budget (even empty) goes on from where their reading stopped.
    last = shown[-1][0] if shown and (len(shown) == limit or not read_down_to) else read_down_to
    next_cursor = base64.urlsafe_b64encode(last.encode()).decode() if more and last else None
    return [entry for _, entries in shown for entry in entries], next_cursor


def _payment_key(payment: Payment) -> str:
    """A payment's place in the ledger: the payments index's key (gsi2sk), archived or not."""
    return f"{payment.created_at}#{payment.id}"


def archived_page(
    merchant: Merchant, *, below: str | None, since: str | None, until: str | None, limit: int
) -> tuple[list[Payment], bool]:
    """The newest `limit` archived payments with keys below `below`, started from `since` to
    `until`, and whether more may follow; read from the archive objects of those days only.

    Objects are read newest day first. An object of day D holds payments paid, so started, before
    D's cutoff (the settle run's): objects whose cutoff is not after `since` are skipped, and once
    limit + 1 are found at or above an object's cutoff, older objects cannot change the page and
    are not read. Objects more than SETTLE_LAG after the page's upper bound hold only later
    payments and are not read either."""
    from paylink.core.settings import get_settings
    from paylink.payments import archive
    from paylink.settlement.business_calendar import start_of_day_utc

    settings = get_settings()
    if not settings.archive_bucket:  # a function without the archive: no payment of it is archived
        return [], False
    high = min((h for h in (below, until + "\uffff" if until else None) if h), default=None)
    objects = list(archive.archive_objects(merchant.id, since))
    if high:
        last_day = (date.fromisoformat(high[:10]) + SETTLE_LAG).isoformat()
        objects = [(day, sid) for day, sid in objects if day <= last_day]
    found: dict[str, Payment] = {}
    for day, settlement_id in reversed(objects):
        cutoff = iso(start_of_day_utc(date.fromisoformat(day), settings.timezone))
        if since and cutoff <= since:
            break  # this object and older ones hold only payments started before the window
        if len(found) > limit and cutoff <= sorted(found, reverse=True)[limit]:
            break
        for payment in archive.archived_of_settlement(settlement_id):
            key = _payment_key(payment)
            if payment.merchant_id != merchant.id:
                continue
            if (below and key >= below) or (high and key > high) or (since and key < since):
                continue
            found[key] = payment
    keys = sorted(found, reverse=True)
    return [found[k] for k in keys[:limit]], len(keys) > limit
