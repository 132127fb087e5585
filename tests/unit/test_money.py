"""paylink.settlement.money: integer-rial fees, rounding half up, clamps, and the sum invariant."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from paylink.settlement.money import BASIS_POINTS, FeePlan, fee_for, split

PLAN_150 = FeePlan(bps=150)


def test_fee_is_the_exact_percentage_when_it_is_a_whole_rial():
    # Given 1.5% of 1,000 rials, which is exactly 15
    # When the fee is computed
    fee = fee_for(1_000, PLAN_150)
    # Then it is 15 rials
    assert fee == 15


def test_fee_rounds_down_below_half_a_rial():
    # Given 1.5% of 1,033 rials = 15.495
    # When the fee is computed
    fee = fee_for(1_033, PLAN_150)
    # Then the fraction below one half is dropped
    assert fee == 15


def test_fee_rounds_up_above_half_a_rial():
    # Given 1.5% of 1,034 rials = 15.51
    # When the fee is computed
    fee = fee_for(1_034, PLAN_150)
    # Then it rounds up to 16
    assert fee == 16


def test_fee_rounds_half_up_to_the_rial():
    # Given 1.5% of 1,100 rials = 16.5, exactly half a rial over
    # When the fee is computed
    fee = fee_for(1_100, PLAN_150)
    # Then the half rounds up, not to even
    assert fee == 17


def test_fee_is_raised_to_the_plan_minimum():
    # Given a plan with a 5,000-rial minimum and a payment whose percentage is 150
    plan = FeePlan(bps=150, min_fee=5_000)
    # When the fee is computed
    fee = fee_for(10_000, plan)
    # Then the minimum applies
    assert fee == 5_000


def test_fee_is_capped_at_the_plan_maximum():
    # Given a plan with a 20,000-rial maximum and a payment whose percentage is 150,000
    plan = FeePlan(bps=150, max_fee=20_000)
    # When the fee is computed
    fee = fee_for(10_000_000, plan)
    # Then the maximum applies
    assert fee == 20_000


def test_yearly_plan_with_zero_bps_charges_nothing():
    # Given the yearly plan with no commission
    plan = FeePlan(bps=0)
    # When a large payment is split
    fee, net = split(10_000_000, plan)
    # Then the merchant keeps everything
    assert (fee, net) == (0, 10_000_000)


def test_fee_never_exceeds_the_amount_even_with_a_higher_minimum():
    # Given a minimum fee larger than the payment itself
    plan = FeePlan(bps=150, min_fee=5_000)
    # When a 1,000-rial payment is split
    fee, net = split(1_000, plan)
    # Then the fee is the whole amount and the net is zero, never negative
    assert (fee, net) == (1_000, 0)


def test_negative_amount_is_refused():
    # Given a negative amount
    # When a fee is asked for
    # Then it is refused
    with pytest.raises(ValueError, match="negative"):
        fee_for(-1, PLAN_150)


def test_split_returns_fee_and_net_that_add_up_to_the_amount():
    # Given 1.5% of 1,034 rials
    # When split
    fee, net = split(1_034, PLAN_150)
    # Then fee is 16 and net is the rest
    assert (fee, net) == (16, 1_018)


def test_default_plan_is_150_bps_without_clamps():
    # Given the default plan
    plan = FeePlan()
    # Then it is 1.5% with no minimum and no maximum
    assert (plan.bps, plan.min_fee, plan.max_fee) == (150, 0, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bps": -1},
        {"bps": BASIS_POINTS + 1},
        {"min_fee": -1},
        {"max_fee": -1},
        {"bps": 1.5},
        {"min_fee": 5_000, "max_fee": 1_000},
    ],
    ids=[
        "negative-bps",
        "bps-above-100-percent",
        "negative-min",
        "negative-max",
        "fractional-bps",
        "min-above-max",
    ],
)
def test_fee_plan_outside_its_bounds_is_refused(kwargs):
    # Given plan parameters outside the allowed bounds
    # When a plan is built
    # Then validation refuses it
    with pytest.raises(ValidationError):
        FeePlan(**kwargs)


@pytest.mark.parametrize("bps", [0, BASIS_POINTS])
def test_fee_plan_accepts_its_bounds(bps):
    # Given the extreme percentages 0% and 100%
    # When a plan is built
    plan = FeePlan(bps=bps)
    # Then it is accepted as given
    assert plan.bps == bps


def test_full_percentage_plan_takes_the_whole_amount():
    # Given a 100% plan
    # When a payment is split
    # Then the fee is the amount
    assert split(12_345, FeePlan(bps=BASIS_POINTS)) == (12_345, 0)


@st.composite
def plans(draw: st.DrawFn) -> FeePlan:
    """Any valid plan: a percentage, a minimum, and no maximum or one not below the minimum."""
    min_fee = draw(st.integers(0, 1_000_000))
    max_fee = draw(st.none() | st.integers(min_fee, 1_000_000))
    return FeePlan(bps=draw(st.integers(0, BASIS_POINTS)), min_fee=min_fee, max_fee=max_fee)


amounts = st.lists(st.integers(0, 10_000_000_000), max_size=50)


@given(amounts=amounts, plan=plans())
def test_fees_and_nets_always_sum_to_the_gross(amounts, plan):
    # Given any payments and any plan
    # When each payment is split
    parts = [split(a, plan) for a in amounts]
    # Then the sum of fees and nets equals the sum of amounts
    assert sum(f for f, _ in parts) + sum(n for _, n in parts) == sum(amounts)


@given(amount=st.integers(0, 10_000_000_000), plan=plans())
def test_fee_is_an_int_between_zero_and_the_amount(amount, plan):
    # Given any payment and any plan
    # When split
    fee, net = split(amount, plan)
    # Then fee and net are exact ints (never floats) and the fee is within [0, amount]
    assert type(fee) is int
    assert type(net) is int
    assert 0 <= fee <= amount


@given(amount=st.integers(0, 10_000_000_000), bps=st.integers(0, BASIS_POINTS))
@example(amount=1_100, bps=150)  # exactly half a rial: must round up
@example(amount=1_033, bps=150)
def test_unclamped_fee_is_the_percentage_rounded_half_up(amount, bps):
    # Given a plan without clamps
    # When the fee is computed
    fee = fee_for(amount, FeePlan(bps=bps))
    # Then it is within half a rial of the exact percentage, and a half rounds up
    # (fee - 1/2) <= amount * bps / BASIS_POINTS < (fee + 1/2), multiplied by 2 * BASIS_POINTS
    twice_exact = 2 * amount * bps
    assert 2 * fee * BASIS_POINTS - BASIS_POINTS <= twice_exact < 2 * fee * BASIS_POINTS + BASIS_POINTS
