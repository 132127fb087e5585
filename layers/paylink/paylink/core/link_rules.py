"""What a buyer opening a link meets, as plain functions over a link's fields.

The Link model (paylink.core.models) and the click path's view of a stored link
(paylink.web.click, which must not load pydantic) both answer with these, so the two can never
disagree. Standard library only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def link_status(link: Any, now: datetime) -> str:
    """A LinkStatus value: inactive, paid (an invoice), sold_out, expired or active."""
    if not link.active:
        return "inactive"
    if link.kind == "invoice" and link.paid_count >= len(link.installments or [None]):
        return "paid"
    if link.max_payments is not None and link.paid_count >= link.max_payments:
        return "sold_out"
    if link.expires_at and datetime.fromisoformat(link.expires_at) <= now:
        return "expired"
    return "active"


def installment_status(part: Any, today: date) -> str:
    """An InstallmentStatus value: paid once its payment is, overdue from the day after its due
    date (the market's day), else pending."""
    if part.payment_id:
        return "paid"
    return "overdue" if date.fromisoformat(part.due_date) < today else "pending"
