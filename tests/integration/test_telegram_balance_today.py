"""The bot's /balance (what the merchant will receive, as GET /v1/balance) and /today (a bounded read)."""

from __future__ import annotations

from typing import Any

import pytest

from paylink.bot import commands
from paylink.core.formatting import format_date, format_number, format_toman
from paylink.core.models import iso, utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from paylink.settlement.money import FeePlan
from paylink.store import Store
from tests.settlement_data import VALID_IBAN, add_merchant, add_paid_payment


def _next_day() -> str:
    return next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_balance_shows_what_the_merchant_receives_net_of_fees_and_refunds_and_when(
    store: Store, lang: str
) -> None:
    from paylink.refunds.service import refund_payment

    # Given two payments paid now (fee 1%) and a refund of 20,000 rials of one, not yet netted
    merchant = add_merchant(store, "tgbal", VALID_IBAN, FeePlan(bps=100))
    now = iso(utcnow())
    add_paid_payment(store, merchant, "pay_tgbal_1", 100_000, paid_at=now)
    add_paid_payment(store, merchant, "pay_tgbal_2", 50_000, paid_at=now)
    refund_payment(store, merchant, "pay_tgbal_1", 20_000, "broken", base_url="https://pay.example")
    # When the merchant asks /balance
    answer = commands._balance(store, merchant, lang)
    # Then it shows 150,000 less 1,500 of fees less the 20,000 refund, the refund, and the next day
    assert format_toman(128_500, lang) in answer
    assert format_toman(150_000, lang) not in answer
    assert format_toman(20_000, lang) in answer
    assert format_date(_next_day(), lang) in answer


def test_balance_shows_what_earlier_refunds_left_owing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from paylink.settlement import ledger

    # Given a merchant with nothing waiting but 7,000 rials owed from earlier refunds
    merchant = add_merchant(store, "tgowe", VALID_IBAN, FeePlan(bps=100))
    real = ledger.balance

    def owing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return real(*args, **kwargs) | {"owed": 7_000}

    monkeypatch.setattr(ledger, "balance", owing)
    # When it asks /balance, Then the debt is shown, not "nothing waits"
    answer = commands._balance(store, merchant, "en")
    assert "Owed from earlier refunds: " + format_toman(7_000, "en") in answer


def test_balance_with_nothing_waiting_says_so(store: Store) -> None:
    merchant = add_merchant(store, "tgnone", VALID_IBAN, FeePlan(bps=100))
    assert commands._balance(store, merchant, "en") == "Nothing waits for settlement."


def _count_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    limits: list[int] = []
    real = store.client.query

    def query(**kwargs: Any) -> Any:
        limits.append(int(kwargs.get("Limit", 0)))
        return real(**kwargs)

    monkeypatch.setattr(store.client, "query", query)
    return limits


def test_today_reads_a_bounded_number_of_payments_and_says_when_it_stopped(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given six payments paid today, and /today's read capped at 4, 2 a query
    merchant = add_merchant(store, "tgday", VALID_IBAN, FeePlan(bps=100))
    for n in range(6):
        add_paid_payment(store, merchant, f"pay_tgday_{n}", 10_000, paid_at=iso(utcnow()))
    monkeypatch.setattr(commands, "TODAY_PAGE_SIZE", 2)
    monkeypatch.setattr(commands, "TODAY_MAX_READ", 4)
    limits = _count_reads(store, monkeypatch)
    # When the merchant asks /today
    answer = commands._today(store, merchant, "en")
    # Then at most 4 payments were read, in queries of at most 2, and the answer says it counted the latest 4
    assert sum(limits) <= 4
    assert all(0 < limit <= 2 for limit in limits)
    assert f"{format_number(4, 'en')} payments" in answer
    assert "Only the latest 4 payments were counted" in answer


def test_today_under_the_cap_counts_every_payment_of_the_day(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three payments paid today and the cap above them
    merchant = add_merchant(store, "tgday2", VALID_IBAN, FeePlan(bps=100))
    for n in range(3):
        add_paid_payment(store, merchant, f"pay_tgday2_{n}", 10_000, paid_at=iso(utcnow()))
    monkeypatch.setattr(commands, "TODAY_PAGE_SIZE", 2)
    monkeypatch.setattr(commands, "TODAY_MAX_READ", 4)
    # When the merchant asks /today (fa), Then all three count and nothing says it stopped
    answer = commands._today(store, merchant, "fa")
    assert format_number(3, "fa") in answer
    assert format_toman(30_000, "fa") in answer
    assert "پنل" not in answer
