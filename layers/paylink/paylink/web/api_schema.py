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
    InstallmentStatus,
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


class InstallmentOut(_Answer):
    """One installment of an invoice's schedule, as reads show it."""

    number: int = Field(ge=1, description="1..n, in the order they are paid.")
    amount: int = Field(description="Rials.")
    due_date: str = Field(description="YYYY-MM-DD (the market's calendar day).")
    status: InstallmentStatus = Field(description="`overdue`: unpaid after its due date.")
    payment_id: str | None = Field(description="The payment that paid it, once paid.")
    paid_at: str | None


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
    installments: list[InstallmentOut] | None = Field(
        description="An invoice in installments: its schedule (null for any other link)."
    )


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
    installment: int | None = Field(description="The number of the invoice's installment it pays.")
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


class BalanceOut(_Answer):
    """`GET /v1/balance`, in rials. `waiting` is what the next settlements would pay out if nothing
    else happened: `pending` less `refunds_due` less `owed`, never below zero."""

    pending: int = Field(description="Net (after our fee) of paid payments not yet in a closed settlement.")
    refunds_due: int = Field(description="Refunds not yet taken from a closed settlement.")
    owed: int = Field(description="What refunds left owing after the last settlement (carried).")
    waiting: int
    next_settlement_date: str | None = Field(description="The next business day, when anything waits.")


class LedgerEntry(_Answer):
    """One entry of the merchant's ledger; `amount` in signed rials (positive: for the merchant)."""

    type: Literal["payment", "fee", "refund", "reversal", "payout"]
    amount: int
    created_at: str
    object: Literal["payment", "refund", "settlement"]
    object_id: str


class LedgerPage(_Answer):
    items: list[LedgerEntry]
    next_cursor: str | None


class ExportJob(_Answer):
    """A CSV export too large to answer inline (`format=csv`): `202` at first, then
    `GET /v1/exports/{id}` until `done` (with `url`) or `failed` (with `error`)."""

    id: str
    status: Literal["pending", "running", "done", "failed"]
    rows: int = Field(description="Rows written so far (all of them once done).")
    bytes: int = Field(description="Bytes written so far (the document's size once done).")
    created_at: str
    url: str | None = Field(
        default=None, description="Only when done: where to GET the CSV document; a link valid a few minutes."
    )
    expires_at: str | None = Field(default=None, description="Only when done: when `url` stops working.")
    error: str | None = Field(default=None, description="Only when failed: why (ask again, or narrow it).")


class WebhookSet(BaseModel):
    """Body of `PUT /v1/webhook`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000, pattern="^https://", description="An https URL of a public host (no credentials)."
    )


class WebhookEndpoint(_Answer):
    """The merchant's webhook endpoint; its secret is never read back."""

    url: str
    created_at: str | None
    rotated_at: str | None
    previous_secret_expires_at: str | None = Field(
        description="Until when the secret before the last rotation still signs (a second `v1=`)."
    )


class WebhookEndpointWithSecret(WebhookEndpoint):
    """The endpoint as created or rotated: `secret` is shown this once (it checks `Paylink-Signature`)."""

    secret: str


class WebhookTestQueued(_Answer):
    """A signed `ping` event queued for the endpoint; it appears in the deliveries once tried."""

    id: str
    type: Literal["ping"]
    created: str


class WebhookDelivery(_Answer):
    event_id: str
    type: str | None
    created: str | None
    tries: int
    outcome: Literal["delivered", "retrying", "failed"]
    last_try_at: str | None
    last_status: int | None = Field(description="The HTTP status of the last try; null when none came back.")
    last_answer: str | None = Field(description="The start of the last answer (or why it failed).")
    next_try_at: str | None


class WebhookDeliveryPage(_Answer):
    items: list[WebhookDelivery]
    next_cursor: str | None


class ApiKeyCreate(BaseModel):
    """Body of `POST /v1/api-keys`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, description="What the key is for (shown in the list).")


class ApiKeyOut(_Answer):
    id: str
    name: str
    last4: str | None
    created_at: str
    last_used_at: str | None = Field(description="Updated at most once a minute.")
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut):
    """The new key: `key` is shown this once (only its SHA-256 is kept)."""

    key: str | None = Field(
        description="The key, shown this once; null in a replay (`Idempotent-Replayed: true`): the key "
        "is kept nowhere, so revoke this one by `id` and create another if it was lost."
    )


class ApiKeyList(_Answer):
    items: list[ApiKeyOut]
    next_cursor: None = Field(description="Always null: every key is on one page.")


class TelegramLink(_Answer):
    """`POST /v1/telegram/link`: a one-time deep link that links a Telegram chat to the merchant."""

    deep_link: str = Field(
        description="`https://t.me/<bot>?start=<token>`: opened in Telegram, it links that chat."
    )
    expires_at: str = Field(description="When the link stops working (ISO 8601 UTC); it works once.")


class TelegramChat(_Answer):
    id: str = Field(description="The Telegram chat id.")
    language: Literal["fa", "en"]
    linked_at: str


class TelegramChats(_Answer):
    items: list[TelegramChat]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    LinkCreate, LinkUpdate, CouponCreate, InvoiceSend, WebhookSet, ApiKeyCreate, RefundCreate,
)  # fmt: skip
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody, Throttled, LinkOut, LinkPage, PaymentOut, PaymentPage, SettlementPage, SettlementWithPayments,
    CouponOut, CouponPage, InvoiceSent, WebhookEndpoint, WebhookEndpointWithSecret,
    WebhookTestQueued, WebhookDeliveryPage, ApiKeyOut, ApiKeyCreated, ApiKeyList, TelegramLink, TelegramChat,
    TelegramChats, ExportJob, RefundOut, RefundList, BalanceOut, LedgerPage,
)  # fmt: skip


def component_schemas() -> dict[str, Any]:
    """JSON Schemas of every request and answer model (and what they use), by name."""
    from pydantic.json_schema import models_json_schema

    pairs: list[tuple[type[BaseModel], Literal["validation", "serialization"]]]
    pairs = [(m, "validation") for m in REQUEST_MODELS]
    pairs += [(m, "serialization") for m in ANSWER_MODELS]
    _, schemas = models_json_schema(pairs, ref_template=COMPONENTS + "{model}")
    return dict(schemas.get("$defs", {}))
