"""Refunds carried on by the reconciler (every 5 minutes), not only when someone reads them.

Its work list is the sparse REFUNDWORK index (store.refunds_needing_work): a refund is on it while
`pending` (due a minute after it became so: the request that made it pending goes first) or
`awaiting_payer` (due when its link expires), and leaves it once final. For each:

- `pending` reverse: the gateway's inquiry decides before any new reverse (service.resolve);
- `pending` transfer: its payout asked about, a failed attempt followed by a new one or a new link
  to the payer (payer.resolve_transfer);
- `succeeded` or `failed` whose event is not queued yet (a crash right after the change): told;
- `awaiting_payer` whose link expired: the payer is reminded automatically (a new link by SMS,
  counted as one of the MAX_REMINDERS) while reminders are left and the payer has a phone; after
  that the refund fails ("the payer did not name a card"), its amount back on the merchant's
  balance and `refund.failed` sent, so the merchant can refund again another way.

A final refund stays on the list until its event is queued (service.tell).
Every step is a conditional write on the refund (its status, attempt or token), so two runs at once,
or a run and the API, act once; a crash after any write leaves the refund on the list for the next.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from paylink.core.models import Refund, RefundStatus, iso
from paylink.core.observability import logger
from paylink.refunds.service import MAX_REMINDERS, _finish, remind, resolve, tell
from paylink.store import Store

LINK_EXPIRED = "the payer did not name a card before the last link expired"


def carry_on_refunds(store: Store, now: datetime, base_url: str) -> dict[str, int]:
    """Carry on every refund whose next look is due; counts of what each became."""
    seen: Counter[str] = Counter()
    for refund in store.refunds_needing_work(iso(now)):
        with logger.append_context_keys(refund_id=refund.id, payment_id=refund.payment_id):
            try:
                after = carry_on(store, refund, now, base_url)
            except Exception:  # one refund's provider failing must not stop the others
                logger.exception("refund not carried on; the next run tries again")
                seen["error"] += 1
                continue
        seen[after.status.value] += 1
    if seen:
        logger.info("refunds carried on", extra={"refunds": dict(seen)})
    return dict(seen)


def carry_on(store: Store, refund: Refund, now: datetime, base_url: str) -> Refund:
    """One refund one step further, as far as its providers and its payer allow now."""
    if refund.status in (RefundStatus.SUCCEEDED, RefundStatus.FAILED):
        tell(store, refund)  # its event was not queued yet (a crash, the queue down)
        return refund
    if refund.status is RefundStatus.PENDING:
        return resolve(store, refund, base_url=base_url or None)
    if refund.status is RefundStatus.AWAITING_PAYER and (refund.expires_at or "") < iso(now):
        return link_expired(store, refund, base_url)
    return refund


def link_expired(store: Store, refund: Refund, base_url: str) -> Refund:
    """Remind the payer automatically while reminders are left; then fail the refund."""
    payment = store.get_payment(refund.payment_id)
    phone = (payment.payer or {}).get("phone") if payment else None
    if refund.reminders < MAX_REMINDERS and phone:
        if not base_url:
            logger.error("PUBLIC_BASE_URL is not set: no refund link can be sent")
            return refund
        reminded = remind(store, refund, base_url)
        if reminded is not None:
            logger.info("refund payer reminded automatically", extra={"reminders": reminded.reminders})
        return reminded or store.get_refund(refund.id) or refund
    # Only while this expired link is still the refund's: a reminder at the same moment wins.
    return _finish(
        store,
        refund,
        RefundStatus.FAILED,
        LINK_EXPIRED,
        expected=(RefundStatus.AWAITING_PAYER,),
        while_token=refund.token_hash,
    )
