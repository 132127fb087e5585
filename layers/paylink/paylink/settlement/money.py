"""Integer-rial arithmetic: fees and nets, never a float."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

BASIS_POINTS = 10_000


class FeePlan(BaseModel):
    """How a merchant pays for the service; stored on the merchant (`Merchant.fee`).

    - `percentage` (the default): `bps` basis points of each payment (150 = 1.5%), raised to
      `min_fee` and capped at `max_fee` per payment.
    - `yearly`: a yearly subscription paid outside settlement; no commission on payments, so
      every payment's fee is 0 and its net is its amount. Its `bps`, `min_fee`, `max_fee` are 0/None.

    Plans stored before `kind` existed read back as `percentage`, unchanged.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["percentage", "yearly"] = "percentage"
    bps: int = Field(default=150, ge=0, le=BASIS_POINTS)
    min_fee: int = Field(default=0, ge=0)
    max_fee: int | None = Field(default=None, ge=0)

    @classmethod
    def yearly(cls) -> FeePlan:
        """The yearly plan: no commission per payment."""
        return cls(kind="yearly", bps=0, min_fee=0, max_fee=None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_fee is not None and self.min_fee > self.max_fee:
            raise ValueError("min_fee must not be above max_fee")
        if self.kind == "yearly" and (self.bps or self.min_fee or self.max_fee):
            raise ValueError("a yearly plan takes no commission: bps, min_fee and max_fee must be 0")
        return self


def fee_for(amount: int, plan: FeePlan) -> int:
    """Fee of one payment in rials.

    Rounding rule: the percentage is rounded half up to the whole rial, then clamped to
    [min_fee, max_fee], and never exceeds the amount itself. A yearly plan's fee is 0.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    if plan.kind == "yearly":
        return 0
    fee = (amount * plan.bps + BASIS_POINTS // 2) // BASIS_POINTS
    fee = max(fee, plan.min_fee)
    if plan.max_fee is not None:
        fee = min(fee, plan.max_fee)
    return min(fee, amount)


def split(amount: int, plan: FeePlan) -> tuple[int, int]:
    """(fee, net) of one payment; fee + net == amount."""
    fee = fee_for(amount, plan)
    return fee, amount - fee


def totals(amounts: list[int], plan: FeePlan) -> tuple[int, int, int]:
    """(gross, fee, net) of a settlement of these payments: the sums of each payment's own split.

    Fees are never computed on the total: a settlement's fee is exactly the sum of its payments'.
    """
    splits = [split(amount, plan) for amount in amounts]
    return sum(amounts), sum(f for f, _ in splits), sum(n for _, n in splits)
