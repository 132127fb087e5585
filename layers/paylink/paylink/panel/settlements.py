"""The panel's settlement pages: the list, and one settlement with its payments and payout reference,
read through the merchant API's own settlement reads (paylink.web.merchant_api)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import NotFound
from paylink.core.models import Merchant
from paylink.panel import sessions
from paylink.panel.pages import page, signed_in

MAX_ID = 64


@signed_in
def settlement_page(
    event: Any, merchant: Merchant, session: sessions.Session, lang: str, settlement_id: str
) -> Response[str]:
    """One settlement; another merchant's answers exactly as a missing one (NotFound -> 404 page)."""
    from paylink.web import merchant_api

    if not settlement_id or len(settlement_id) > MAX_ID:
        raise NotFound("no such settlement")
    answer = merchant_api.get_settlement(merchant, settlement_id, {})
    found: dict[str, Any] = json.loads(str(answer.body))
    return page(
        200, "panel/settlement.html", lang, merchant=merchant, nav="settlements",
        s=found, payments=found.get("payments", []),
    )  # fmt: skip
