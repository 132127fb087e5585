"""How long a payment that ended unpaid stays in the table (data minimization and cost, issue 18).

An attempt that ended with nothing charged leaves the table UNPAID_KEPT after it ended, by the
table's TTL: the buyer's name, phone and email of an abandoned attempt serve no one after that.
Where money moved or may have moved, the payment stays (it is the record a question about that
money is answered from): verified and then reversed (`amount_mismatch`, `sold_out`), owed back by
hand (`*_refund_due`), reversed by the gateway (`reversed_by_gateway`), and closed without the
gateway's word on it (`no_return`, `not_verified`: the buyer may have paid and been reversed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

UNPAID_KEPT = timedelta(days=90)

# The unpaid ends (paylink.payments.callback, .reconcile, .checkout) where no gateway took the
# payment, or its gateway's own answer says nothing was charged. Any other reason, a new one
# included, keeps its payment.
NOTHING_CHARGED = frozenset({"no_gateway", "not_started", "abandoned", "expired", "cancelled", "declined"})


def unpaid_gone_after(reason: str, ended: datetime) -> datetime | None:
    """When a payment that ended unpaid for `reason` at `ended` leaves the table; None: it stays."""
    return ended + UNPAID_KEPT if reason in NOTHING_CHARGED else None
