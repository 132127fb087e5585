"""Property tests for fees and rounding: settlement totals are the sums of their payments' own."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink.settlement.money import BASIS_POINTS, FeePlan, split, totals

AMOUNTS = st.lists(st.integers(min_value=1_000, max_value=10_000_000_000), min_size=1, max_size=8)


@st.composite
def fee_plans(draw: st.DrawFn) -> FeePlan:
    if draw(st.booleans()):
        return FeePlan.yearly()
    min_fee = draw(st.integers(0, 100_000))
    max_fee = draw(st.none() | st.integers(min_fee, 10_000_000))
    return FeePlan(bps=draw(st.integers(0, BASIS_POINTS)), min_fee=min_fee, max_fee=max_fee)


@given(amounts=AMOUNTS, plan=fee_plans())
def test_settlement_totals_are_the_sums_of_each_payments_split(amounts, plan):
    # Given any payments and any valid fee plan
    # When the settlement's totals are computed
    gross, fee, net = totals(amounts, plan)
    # Then they are the sums of each payment's own fee and net, and net + fee == gross
    splits = [split(a, plan) for a in amounts]
    assert gross == sum(amounts)
    assert fee == sum(f for f, _ in splits)
    assert net == sum(n for _, n in splits)
    assert net + fee == gross
    assert all(0 <= f <= a for (f, _), a in zip(splits, amounts, strict=True))


@given(amounts=AMOUNTS)
def test_a_yearly_plan_takes_no_commission(amounts):
    # Given a yearly plan
    # When any payments are settled
    gross, fee, net = totals(amounts, FeePlan.yearly())
    # Then the fee is 0 and the merchant gets the gross
    assert (fee, net) == (0, gross)


def test_a_yearly_plan_refuses_a_commission():
    # Given a yearly plan that also names a percentage
    # When it is made
    # Then it is refused: a yearly plan has no commission
    with pytest.raises(ValueError, match="no commission"):
        FeePlan(kind="yearly", bps=150)


def test_a_plan_stored_before_kinds_reads_back_as_a_percentage():
    # Given a fee plan stored without a kind
    plan = FeePlan.model_validate({"bps": 150, "min_fee": 0})
    # Then it is a percentage plan, as before
    assert plan.kind == "percentage"


EXAMPLES = [
    ([1_000, 1_033, 1_034, 1_100, 9_999_999_999], FeePlan(bps=150)),  # every rounding case
    ([10_000, 1_234_567, 9_999_999], FeePlan(bps=150, min_fee=2_000, max_fee=50_000)),  # clamps
    ([250_000, 3_000_000], FeePlan.yearly()),
]
_merchants = itertools.count()


# Driving the real settle code against moto for each hypothesis example took ~0.8 s an example;
# the property is proved on `totals` above (what settle sums) and on these examples end to end.
@pytest.mark.parametrize(("amounts", "plan"), EXAMPLES)
def test_the_settle_run_stores_totals_equal_to_its_payments_sums(aws, amounts, plan):
    # Given a merchant (new for each example) with these paid payments and this plan
    from paylink.settlement.daily import settle_merchant
    from paylink.settlement.payouts import SandboxPayout
    from paylink.store import get_store
    from tests.settlement_data import SETTLE_DAY, VALID_IBAN, add_merchant, add_paid_payment

    store = get_store()
    merchant = add_merchant(store, f"prop{next(_merchants)}", VALID_IBAN, plan)
    for n, amount in enumerate(amounts):
        add_paid_payment(store, merchant, f"pay_{merchant.id}_{n}", amount)
    # When the real settle code settles the day
    settlement = settle_merchant(
        store, merchant.id, SETTLE_DAY, "2026-11-22T20:30:00.000000Z", SandboxPayout(store)
    )
    # Then the stored settlement's gross, fee and net are its payments' sums, and net + fee == gross
    assert settlement is not None
    payments = store.payments_of_settlement(settlement.id)
    assert len(payments) == settlement.payment_count == len(amounts)
    assert settlement.gross == sum(p.amount for p in payments) == sum(amounts)
    assert settlement.fee == sum(p.fee or 0 for p in payments)
    assert settlement.net == sum(p.net or 0 for p in payments)
    assert settlement.net + settlement.fee == settlement.gross
    assert (settlement.gross, settlement.fee, settlement.net) == totals(amounts, plan)
    assert store.get_payout(settlement.id)["amount"] == settlement.net
