"""Integer-rial arithmetic: fees and nets, never a float."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

BASIS_POINTS = 10_000


class FeePlan(BaseModel):
    """A percentage in basis points (150 = 1.5%) with an optional minimum and maximum per payment.

    A yearly plan with no commission is `FeePlan(bps=0)`.
    """

    model_config = ConfigDict(frozen=True)

    bps: int = Field(default=150, ge=0, le=BASIS_POINTS)
    min_fee: int = Field(default=0, ge=0)
    max_fee: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.max_fee is not None and self.min_fee > self.max_fee:
            raise ValueError("min_fee must not be above max_fee")
        return self


def fee_for(amount: int, plan: FeePlan) -> int:
    """Fee of one payment in rials.

    Rounding rule: the percentage is rounded half up to the whole rial, then clamped to
    [min_fee, max_fee], and never exceeds the amount itself.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    fee = (amount * plan.bps + BASIS_POINTS // 2) // BASIS_POINTS
    fee = max(fee, plan.min_fee)
    if plan.max_fee is not None:
        fee = min(fee, plan.max_fee)
    return min(fee, amount)


def split(amount: int, plan: FeePlan) -> tuple[int, int]:
    """(fee, net) of one payment; fee + net == amount."""
    fee = fee_for(amount, plan)
    return fee, amount - fee
