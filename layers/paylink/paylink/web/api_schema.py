"""The merchant API's answers as pydantic models: the schemas of `/v1/openapi.json` (see paylink.web.openapi).

Each output model lists, field by field, what merchant_api/links/coupons put in an answer; `extra="forbid"`
makes a field added to an answer but not here a schema violation that schemathesis reports. Imported only
to build the document, never on a request's path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paylink.core.models import (
    CollectField,
    CouponCreate,
    CouponKind,
    LinkCreate,
    LinkKind,
    LinkStatus,
    LinkUpdate,
    PaymentStatus,
    RefundCreate,
    RefundMethod,
    RefundStatus,
    SettlementStatus,
)
from paylink.web.openapi import COMPONENTS


class _Answer(BaseModel):
    # An answer has exactly these fields: a field added to the code but not here fails schemathesis.
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Answer):
    code: str = Field(examples=["validation_error"])
    message: str
    fields: dict[str, str] = Field(
        default_factory=dict, description="What is wrong with each field; only on field errors."
    )


class ErrorBody(_Answer):
    """Every 4xx of the merchant API."""

    error: ErrorDetail


class Throttled(BaseModel):
    """API Gateway's own answer when a route's throttling limit is reached."""

    message: str


class LinkOut(_Answer):
    code: str
    url: str
    qr_svg_url: str
    qr_png_url: str
    kind: LinkKind
    title: str
    description: str | None
    amount: int | None
    min_amount: int | None
    max_amount: int | None
    collect: list[CollectField]
    max_quantity: int
    max_payments: int | None
    expires_at: str | None
    redirect_url: str | None
    payer: dict[str, str] | None
    due_date: str | None
    reference: str | None
    metadata: dict[str, str] | None
    active: bool
    status: LinkStatus
    created_at: str
    paid_count: int
    paid_total: int


class PaymentOut(_Answer):
    id: str
    link_code: str
    link_title: str
    amount: int
    quantity: int
    status: PaymentStatus
    gateway: str | None
    gateway_reference: str | None
    card_mask: str | None
    payer: dict[str, str]
    redirect_url: str | None
    reference: str | None
    metadata: dict[str, str] | None
    failure_reason: str | None
    created_at: str
    paid_at: str | None
    settlement_id: str | None
    fee: int | None
    net: int | None
    coupon: str | None
    discount: int | None
    amount_refunded: int = Field(description="The sum of its refunds that have not failed (rials).")
    expected_settlement_date: str | None


class SettlementOut(_Answer):
    id: str
    date: str
    status: SettlementStatus
    payment_count: int
    gross: int
    fee: int
    refunds: int = Field(description="Refunds (not failed) created in its period, netted here.")
    carried_in: int = Field(description="What earlier refunds left owing, taken from this settlement.")
    carried_out: int = Field(description="What is still owing after it: carried to the next settlement.")
    net: int = Field(description="gross - fee - refunds - carried_in, never below zero.")
    iban: str
    payout_reference: str | None
    payout_attempts: int
    held_reason: str | None
    failure_reason: str | None
    created_at: str
    submitted_at: str | None
    paid_at: str | None


class SettlementWithPayments(SettlementOut):
    payments: list[PaymentOut]


class CouponOut(_Answer):
    code: str
    kind: CouponKind
    value: int
    max_uses: int | None
    uses: int
    expires_at: str | None
    links: list[str] | None
    created_at: str


class LinkPage(_Answer):
    items: list[LinkOut]
    next_cursor: str | None


class PaymentPage(_Answer):
    items: list[PaymentOut]
    next_cursor: str | None


class SettlementPage(_Answer):
    items: list[SettlementOut]
    next_cursor: str | None


class CouponPage(_Answer):
    items: list[CouponOut]
    next_cursor: str | None


class InvoiceSend(BaseModel):
    """Body of `POST /v1/links/{code}/send` (other fields are ignored). `email` only where the
    deployment has an email sender: elsewhere it is a 400 on `via` that names it."""

    via: list[Literal["sms", "email"]] = Field(
        min_length=1, max_length=2, json_schema_extra={"uniqueItems": True}
    )


class InvoiceSent(_Answer):
    sent: list[Literal["sms", "email"]]


class RefundOut(_Answer):
    id: str
    payment_id: str
    amount: int
    status: RefundStatus
    method: RefundMethod
    reason: str | None
    created_at: str
    completed_at: str | None


class RefundList(_Answer):
    items: list[RefundOut]


class CsvExport(_Answer):
    """A CSV export too large for one answer (`format=csv`): stored, and `303` to this `url`."""

    url: str = Field(description="Where to GET the CSV document (the `Location` too); a short-lived link.")
    expires_at: str = Field(description="When `url` stops working (ISO 8601 UTC).")
    rows: int
    bytes: int
    filename: str


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    LinkCreate,
    LinkUpdate,
    CouponCreate,
    InvoiceSend,
    RefundCreate,
)
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody, Throttled, LinkOut, LinkPage, PaymentOut, PaymentPage, SettlementPage, SettlementWithPayments,
    CouponOut, CouponPage, InvoiceSent, CsvExport, RefundOut, RefundList,
)  # fmt: skip


def component_schemas() -> dict[str, Any]:
    """JSON Schemas of every request and answer model (and what they use), by name."""
    from pydantic.json_schema import models_json_schema

    pairs: list[tuple[type[BaseModel], Literal["validation", "serialization"]]]
    pairs = [(m, "validation") for m in REQUEST_MODELS]
    pairs += [(m, "serialization") for m in ANSWER_MODELS]
    _, schemas = models_json_schema(pairs, ref_template=COMPONENTS + "{model}")
    return dict(schemas.get("$defs", {}))
