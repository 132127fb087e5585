"""Domain models: merchants, links, payments, settlements, and the input models of the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from paylink.core.link_rules import installment_status, link_status
from paylink.settlement.money import FeePlan

MIN_AMOUNT = 1_000  # rials: the lowest amount the gateways accept
MAX_QUANTITY = 100
MIN_INSTALLMENTS, MAX_INSTALLMENTS = 2, 24

CollectField = Literal["name", "phone", "email", "address", "note"]
DEFAULT_COLLECT: list[CollectField] = ["name", "phone"]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Amount = Annotated[StrictInt, Field(ge=MIN_AMOUNT, le=10_000_000_000)]


class Model(BaseModel):
    """Base of the domain models: each builds its validator on first use, so a path pays only for its own."""

    model_config = ConfigDict(defer_build=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z: the one time format we store and answer (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _https_url(value: str) -> str:
    from urllib.parse import urlsplit

    from paylink.core.settings import get_settings
    from paylink.web.origins import redirect_url_problem

    own_host = urlsplit(get_settings().public_base_url).hostname
    problem = redirect_url_problem(value, own_host)
    if problem:
        raise ValueError(problem)
    return value


HttpsUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_https_url)]


class AccountType(StrEnum):
    PERSONAL = "personal"
    BUSINESS = "business"


PERSONAL_PER_PAYMENT_CAP = 10_000_000
PERSONAL_DAILY_CAP = 30_000_000


class Merchant(Model):
    """A merchant account; limits are in rials, `None` means no limit (business accounts)."""

    id: str
    username: str
    name: str
    iban: str
    account_type: AccountType = AccountType.PERSONAL
    fee: FeePlan = FeePlan()
    per_payment_cap: int | None = PERSONAL_PER_PAYMENT_CAP
    daily_cap: int | None = PERSONAL_DAILY_CAP
    gateways: list[str] | None = None  # the gateways it accepts, in its order; None: all, by health
    created_at: str
    # Notifications (paylink.notify.notifications). The webhook secrets are HMAC keys, stored as they are:
    # never dumped (only Store.set_webhook writes them) and never shown in a repr or a log.
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, exclude=True, repr=False)
    webhook_secret_previous: str | None = Field(default=None, exclude=True, repr=False)
    telegram_chat_id: str | None = None
    notify_email: str | None = None  # an address that receives each payment's notice too
    # The webhook endpoint's dates (paylink.merchants.webhook_endpoint); written only by the store's
    # notification settings, so an operator's profile change never rewrites them.
    webhook_created_at: str | None = Field(default=None, exclude=True)
    webhook_rotated_at: str | None = Field(default=None, exclude=True)
    # Until when the previous secret still signs (ISO 8601 UTC); None: until the next rotation
    # (secrets rotated before this field existed).
    webhook_secret_previous_until: str | None = Field(default=None, exclude=True)


class LinkKind(StrEnum):
    ITEM = "item"
    INVOICE = "invoice"
    OPEN = "open"


class Payer(Model):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{7,15}$")] | None = None
    email: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
        ]
        | None
    ) = None


Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=40)],
        Annotated[str, StringConstraints(max_length=500)],
    ],
    Field(max_length=20),
]


class InstallmentCreate(Model):
    """One part of an invoice's schedule: what is due (rials) and when (the market's calendar day)."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt
    due_date: date


def schedule_problems(installments: list[InstallmentCreate], total: int | None, today: date) -> list[str]:
    """Every broken rule of an invoice's schedule, in words a merchant can act on (empty: valid)."""
    problems: list[str] = []
    if not MIN_INSTALLMENTS <= len(installments) <= MAX_INSTALLMENTS:
        problems.append(f"an invoice has {MIN_INSTALLMENTS} to {MAX_INSTALLMENTS} installments")
    small = [str(n) for n, part in enumerate(installments, 1) if part.amount < MIN_AMOUNT]
    if small:
        problems.append(f"installment {', '.join(small)}: each installment is at least {MIN_AMOUNT} rials")
    dates = [part.due_date for part in installments]
    if any(later <= earlier for earlier, later in pairwise(dates)):
        problems.append("due dates must increase from one installment to the next")
    past = [str(n) for n, part in enumerate(installments, 1) if part.due_date < today]
    if past:
        problems.append(
            f"installment {', '.join(past)}: a due date must not be in the past (today is {today})"
        )
    added = sum(part.amount for part in installments)
    if total is not None and added != total:
        problems.append(f"the installments add up to {added} rials, not the invoice's amount of {total}")
    return problems


def _market_today() -> date:
    from paylink.core.settings import get_settings
    from paylink.settlement.business_calendar import local_date

    return local_date(utcnow(), get_settings().timezone)


class LinkCreate(Model):
    """Body of `POST /v1/links`."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: ShortText | None = None
    kind: LinkKind = LinkKind.ITEM
    amount: Amount | None = None
    min_amount: Amount | None = None
    max_amount: Amount | None = None
    collect: list[CollectField] = Field(default_factory=lambda: list(DEFAULT_COLLECT), max_length=5)
    max_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] = 1
    max_payments: Annotated[StrictInt, Field(ge=1)] | None = None
    expires_at: AwareDatetime | None = None
    redirect_url: HttpsUrl | None = None
    payer: Payer | None = None
    due_date: date | None = None
    reference: Annotated[str, StringConstraints(max_length=100)] | None = None
    metadata: Metadata | None = None
    installments: Annotated[list[InstallmentCreate], Field(max_length=100)] | None = Field(
        default=None,
        description="An invoice paid in parts: 2 to 24, increasing due dates, adding up to `amount`.",
    )

    @field_validator("collect")
    @classmethod
    def _unique_collect(cls, value: list[CollectField]) -> list[CollectField]:
        if len(set(value)) != len(value):
            raise ValueError("fields must not repeat")
        return value

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value

    @model_validator(mode="after")
    def _amounts_fit_kind(self) -> Self:
        if self.kind is LinkKind.OPEN:
            if self.amount is not None:
                raise ValueError("amount: an open link has no fixed amount; use min_amount and max_amount")
            if self.min_amount and self.max_amount and self.min_amount > self.max_amount:
                raise ValueError("min_amount: must not be above max_amount")
        else:
            if self.amount is None:
                raise ValueError("amount: required for an item or an invoice")
            if self.min_amount is not None or self.max_amount is not None:
                raise ValueError("min_amount: only an open link has limits")
        if self.kind is LinkKind.INVOICE:
            if self.payer is None or not self.payer.name:
                raise ValueError("payer: an invoice needs the payer's name")
            if self.max_quantity != 1:
                raise ValueError("max_quantity: an invoice is paid once, as one unit")
        if self.installments is not None:
            if self.kind is not LinkKind.INVOICE:
                raise ValueError("installments: only an invoice is paid in installments")
            if self.due_date is not None:
                raise ValueError("due_date: an invoice in installments has a due date per installment")
            problems = schedule_problems(self.installments, self.amount, _market_today())
            if problems:
                raise ValueError("installments: " + "; ".join(problems))
        return self


class LinkUpdate(Model):
    """Body of `PATCH /v1/links/{code}`; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    active: StrictBool | None = None
    title: Title | None = None
    description: ShortText | None = None
    expires_at: AwareDatetime | None = None
    max_payments: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError(
                "body: nothing to change; send one of active, title, description, expires_at, max_payments"
            )
        for name in ("active", "title"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: must not be null")
        return self


class CouponKind(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"


CouponCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,20}$")]
LinkCode = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CouponCreate(Model):
    """Body of `POST /v1/coupons`: `value` is a percentage (1-100) or rials off."""

    model_config = ConfigDict(extra="forbid")

    code: CouponCode
    kind: CouponKind
    value: Annotated[StrictInt, Field(ge=1, le=10_000_000_000)]
    max_uses: Annotated[StrictInt, Field(ge=1)] | None = None
    expires_at: AwareDatetime | None = None
    links: Annotated[list[LinkCode], Field(min_length=1, max_length=100)] | None = None

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value

    @model_validator(mode="after")
    def _percent_range(self) -> Self:
        if self.kind is CouponKind.PERCENT and self.value > 100:
            raise ValueError("value: a percentage is 1-100")
        return self


class Coupon(Model):
    """A merchant's discount code; `uses` counts payments holding or having used it."""

    code: str
    merchant_id: str
    kind: CouponKind
    value: int
    max_uses: int | None = None
    uses: int = 0
    expires_at: str | None = None
    links: list[str] | None = None
    created_at: str


class LinkStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    EXPIRED = "expired"
    SOLD_OUT = "sold_out"
    PAID = "paid"


class InstallmentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    OVERDUE = "overdue"


class Installment(Model):
    """One part of an invoice's schedule, stored on the link item (a page stays one read)."""

    number: int
    amount: int
    due_date: str
    payment_id: str | None = None  # set with paid_at, in the transaction that marks its payment paid
    paid_at: str | None = None

    def status(self, today: date) -> InstallmentStatus:
        """Paid once its payment is; overdue from the day after its due date (the market's day)."""
        return InstallmentStatus(installment_status(self, today))


class Link(Model):
    """A stored payment link, with its running paid counters."""

    code: str
    merchant_id: str
    merchant_name: str
    kind: LinkKind
    title: str
    description: str | None = None
    amount: int | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    collect: list[CollectField] = Field(default_factory=lambda: list(DEFAULT_COLLECT))
    max_quantity: int = 1
    max_payments: int | None = None
    expires_at: str | None = None
    redirect_url: str | None = None
    payer: dict[str, str] | None = None
    due_date: str | None = None
    reference: str | None = None
    metadata: dict[str, str] | None = None
    active: bool = True
    created_at: str
    paid_count: int = 0
    paid_total: int = 0
    open_slots: int | None = None  # with max_payments: units neither sold nor held by a payment in flight
    # A snapshot of the merchant's limits and gateway choice, so a checkout reads one item.
    merchant_per_payment_cap: int | None = None
    merchant_daily_cap: int | None = None
    merchant_gateways: list[str] | None = None
    installments: list[Installment] | None = None  # an invoice's schedule, paid in order

    def next_installment(self) -> Installment | None:
        """The first unpaid installment (the only one a buyer may pay); None when all are paid."""
        return next((part for part in self.installments or [] if not part.payment_id), None)

    def status(self, now: datetime | None = None) -> LinkStatus:
        """What a buyer opening the link would meet (paylink.core.link_rules, shared with the click path)."""
        return LinkStatus(link_status(self, now or utcnow()))


class PaymentStatus(StrEnum):
    CREATED = "created"
    REDIRECTED = "redirected"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SETTLED = "settled"
    REVERSED = "reversed"
    REFUNDED = "refunded"  # shown only: amount_refunded reached the amount (see Payment.amount_refunded)


ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset(
        {PaymentStatus.REDIRECTED, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.REDIRECTED: frozenset(
        {PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.PAID: frozenset({PaymentStatus.SETTLED, PaymentStatus.REVERSED}),
}


def shown_status(stored: str, amount: int, amount_refunded: int) -> PaymentStatus:
    """The status a payment shows (DESIGN section 9): `refunded` once the refunds of a paid or
    settled payment reach its amount (such a payment is then no longer shown `paid` or `settled`);
    its stored status otherwise. The one rule for the API, exports and the lists' status filter."""
    status = PaymentStatus(stored)
    if status in (PaymentStatus.PAID, PaymentStatus.SETTLED) and amount_refunded >= amount:
        return PaymentStatus.REFUNDED
    return status


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    """True when `current -> target` is a move of the payment state machine; terminal states never move."""
    return target in ALLOWED_TRANSITIONS.get(current, frozenset())


def sources_of(target: PaymentStatus) -> list[PaymentStatus]:
    """The states from which `target` may be reached (the condition of its conditional write)."""
    return [state for state, targets in ALLOWED_TRANSITIONS.items() if target in targets]


class Payment(Model):
    """One attempt to pay a link; `amount` is the total in rials (unit amount x quantity)."""

    id: str
    merchant_id: str
    link_code: str
    link_title: str
    merchant_name: str
    amount: int
    quantity: int = 1
    status: PaymentStatus
    gateway: str | None = None
    gateway_token: str | None = None
    gateway_reference: str | None = None
    card_mask: str | None = None
    # The gateway's hash of the paying card as its verify gave it (Zarinpal card_hash, PayPing
    # cardHashPan, SEP HashedPan; Zibal gives none): the refund payer page's card must hash to it.
    # Stored on the item, never shown (API, webhooks, exports, archive) nor in repr (so never logged).
    card_hash: str | None = Field(default=None, exclude=True, repr=False)
    payer: dict[str, str] = Field(default_factory=dict)
    redirect_url: str | None = None
    reference: str | None = None
    metadata: dict[str, str] | None = None
    failure_reason: str | None = None
    lang: str = "fa"
    created_at: str
    redirected_at: str | None = None
    paid_at: str | None = None
    settlement_id: str | None = None
    fee: int | None = None
    net: int | None = None
    gateway_refs: dict[str, str] | None = None  # what the gateway's verify needs besides the token
    holds_slot: bool = False  # holds one unit of its link's stock until it is paid or ends
    holds: list[str] = Field(default_factory=list)  # its client's hold keys, counted on until it ends
    coupon: str | None = None  # the coupon code used; it holds one use of it until the payment ends unpaid
    discount: int | None = None  # rials taken off by the coupon (`amount` is what is left to pay)
    installment: int | None = None  # the number of the invoice's installment it pays
    # Refunds (paylink.refunds): the sum of its refunds not failed, kept by a conditional counter so
    # that concurrent refunds never exceed `amount`. The stored status stays paid/settled (settlement
    # moves on it); the API shows `refunded` once this reaches the amount.
    amount_refunded: int = 0

    @property
    def is_final(self) -> bool:
        return self.status not in (PaymentStatus.CREATED, PaymentStatus.REDIRECTED)


class SettlementStatus(StrEnum):
    OPEN = "open"  # payments being gathered into it
    PENDING = "pending"  # totals final, payout not yet sent
    SUBMITTED = "submitted"  # payout sent to the provider, its outcome not yet known
    PAID = "paid"  # the provider confirmed the transfer (final)
    FAILED = "failed"  # the provider refused or returned the transfer; the next run retries it
    HELD = "held"  # not paid out: the merchant's IBAN is not valid (see held_reason)


# The settlement state machine; every move is a conditional write on the expected state.
SETTLEMENT_MOVES: dict[SettlementStatus, frozenset[SettlementStatus]] = {
    SettlementStatus.OPEN: frozenset({SettlementStatus.PENDING, SettlementStatus.HELD}),
    SettlementStatus.HELD: frozenset({SettlementStatus.PENDING}),  # released once the IBAN is valid
    SettlementStatus.PENDING: frozenset({SettlementStatus.SUBMITTED}),
    SettlementStatus.SUBMITTED: frozenset({SettlementStatus.PAID, SettlementStatus.FAILED}),
    SettlementStatus.FAILED: frozenset({SettlementStatus.SUBMITTED}),  # the retry, a new attempt
}


class Settlement(Model):
    id: str
    merchant_id: str
    date: str
    status: SettlementStatus
    payment_count: int = 0
    gross: int = 0
    fee: int = 0
    net: int = 0
    iban: str
    payout_reference: str | None = None
    refunds: int = 0  # refunds (not failed) netted in this settlement: every one waiting when it closed
    carried_in: int = 0  # what earlier refunds left owing, taken from this settlement
    carried_out: int = 0  # what is still owing after it (net never below zero): the next one's carried_in
    payout_attempts: int = 0  # attempts submitted to the payout provider; each has its own reference
    held_reason: str | None = None
    failure_reason: str | None = None  # why the last payout attempt failed
    created_at: str
    submitted_at: str | None = None
    paid_at: str | None = None


class RefundStatus(StrEnum):
    PENDING = "pending"  # created; its money is on its way (a reverse being asked, a transfer sent)
    AWAITING_PAYER = "awaiting_payer"  # a transfer waiting for the payer to name the card that paid
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundMethod(StrEnum):
    REVERSE = "reverse"  # the gateway's reverse call: the whole payment, inside its reverse window
    TRANSFER = "transfer"  # a payout to the payer's own card (checked), any amount, any time


class Refund(Model):
    """Money given back for one payment; `amount` in rials."""

    id: str
    payment_id: str
    merchant_id: str
    amount: int
    status: RefundStatus
    method: RefundMethod
    reason: str | None = None
    created_at: str
    completed_at: str | None = None
    failure_reason: str | None = None
    token_hash: str | None = Field(default=None, exclude=True, repr=False)  # the payer page's token
    expires_at: str | None = None  # when the payer's link stops working
    reminders: int = 0
    transfer_attempts: int = 0
    iban: str | None = Field(default=None, exclude=True, repr=False)  # the checked account of the paying card
    payout_reference: str | None = None
    settlement_id: str | None = None  # the settlement that netted it


class RefundCreate(Model):
    """Body of `POST /v1/payments/{id}/refunds`."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[StrictInt, Field(ge=1, le=10_000_000_000)] | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
