"""The sandbox's protocol plugin interface: how to teach the sandbox a real gateway's protocol.

A plugin is a module `local/sandbox/protocols/<id>.py` defining `Sim`, a subclass of `GatewaySim`
with `name = "<id>"` (e.g. "zibal", "payping", "zarinpal", "sep"). `Sandbox(instances={"a":
"zarinpal"})` loads `local.sandbox.protocols.zarinpal.Sim`; nothing else is registered. The core
(local/sandbox/core.py) owns everything protocol-neutral; a plugin only speaks the wire format.

What the core does for you
--------------------------
- Serves each instance under `/{instance}`; your route paths are relative to that prefix.
- Modes on your `api` routes, before your handler runs: `down` answers an HTML 502 page; `slow`
  sleeps `slow_seconds` first; `flaky` fails every second API call with `transient_failure(ctx)`
  (default: HTML 502; override to answer your protocol's own transient code, e.g. PayPing 155 or
  Zarinpal -12). Your handler never sees those three modes.
- The payment records, their states and the clock (`Payment`, states below), with lazy rules
  applied on every lookup: CREATED older than `token_ttl` -> EXPIRED; PAID (not verified) older
  than `verify_window` after `paid_at` -> REVERSED (automatic reversal). `None` windows disable
  the rule.
- The shared buyer page and the buyer's pay/cancel, with every buyer-side mode (decline, cancel,
  no_return, double_return, forged_return, amount_mismatch, token_expired) and sending the
  browser back: `303` to the callback URL + `?` your `return_fields` for `return_method = "GET"`,
  or a 200 page auto-submitting a POST form of them to the callback for `return_method = "POST"`.
- The verify and reverse state transitions with their modes (`core.verify`, `core.reverse`), so
  that verify_timeout, verify_in_progress and amount_mismatch behave alike in every protocol.
- Recording every call, thread safety (your handler runs while holding the sandbox's lock: do
  no I/O and no sleeping in it; use `Response.delay_seconds` / `Response.after` instead).

What a plugin writes
--------------------
    class Sim(GatewaySim):
        name = "zarinpal"; unit = "IRR"; return_method = "GET"
        token_ttl = timedelta(minutes=15); verify_window = None; reverse_window = timedelta(minutes=30)

        def make_token(self, seq: int) -> str: ...           # seq is unique in the sandbox
        def routes(self) -> list[Route]:
            return [Route("POST", r"/pg/v4/payment/request\\.json", self.request),
                    Route("GET", r"/pg/StartPay/(?P<token>\\w+)", self.start, kind="entry"),
                    Route("POST", r"/pg/StartPay/(?P<token>\\w+)", self.submit, kind="entry"), ...]
        def return_fields(self, payment, outcome) -> list[tuple[str, str]]: ...

A typical create handler checks the merchant (`ctx.core.merchant`) and the body, then calls
`ctx.core.new_payment(ctx, amount_irr=..., order_id=..., callback_url=...)` and answers JSON
with `payment.token`. Convert toman to rials at the boundary: the core counts in rials.

The entry routes (`kind="entry"`, not subject to down/slow/flaky) are where the gateway's
redirect lands. GET (or POST for bank-style auto-posted `Token` forms) renders the page with
`ctx.core.buyer_page(ctx, payment, action_url=ctx.instance_path(), hidden={...})`; the page's one `<form
method="post">` posts the hidden fields plus `action=pay|cancel` to `action_url` (relative
URLs are fine), where your handler calls `ctx.core.buyer_submit(ctx, payment, ctx.form["action"])`.
Unknown tokens: `ctx.core.page_not_found()`.

A verify handler: `payment = ctx.core.lookup(ctx, token)`; `None` -> your "unknown token"
answer; else `decision = ctx.core.verify(ctx, payment, amount_irr=<the amount the request
carries, in rials, or None if your protocol's verify takes none>)` and answer per decision:

    IN_PROGRESS      verify_in_progress mode, first verify of this token: your "in progress,
                     retry" answer (PayPing 155) or, without one, `html_error(503)`. Nothing changed.
    VERIFIED         committed now (state VERIFIED); report `payment.paid_amount_irr`.
    ALREADY_VERIFIED your repeated-verify answer (Zibal 201, Zarinpal 101, PayPing 409/110, SEP 0 again).
    AMOUNT_MISMATCH  the request's amount differs from the charged amount; nothing committed
                     (Zarinpal -50, PayPing 137). Never returned when amount_irr is None.
    WAITING          state CREATED: the buyer has not paid (yet).
    CANCELLED / FAILED / EXPIRED / REVERSED    the state, not paid. FAILED is a card decline.

In `verify_timeout` mode the core commits and then holds the answer `slow_seconds` (you do
nothing). An inquiry handler reads `payment.state` after `lookup` and never changes it.
A reverse handler calls `ctx.core.reverse(ctx, payment)` -> REVERSED_NOW | ALREADY_REVERSED |
NOT_PAID | WINDOW_OVER.

`return_fields(payment, outcome)` gives the fields the buyer's return carries, for outcome
`paid` | `cancelled` | `declined` | `expired` | `forged` (claims success, nothing was paid: make
up plausible references) in order. `payment.ref_number`, `payment.card_number` (masked) and
`payment.card_pan` (the paying card in full, from `paying_card()`) are set when paid; a gateway
that reports a hash of the card computes it from `card_pan` (`sha256_hex`). Keep protocol-specific
values (SEP RefNum, PayPing paymentRefId...) in `payment.extra`.

Answers: `json_response(payload, status=200)`, `html_error(status)` (an nginx-style HTML page,
what a real gateway's front answers when it is down), `Response(...)` for anything else. Set
`Response.result` to the code to record in the call log (default: the JSON body's `result`).
Dates: `ctx.core.now()` is the sandbox clock (aware UTC); `tehran_iso(dt)` formats Tehran time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol

__all__ = [
    "CREATED",
    "STATES",
    "Core",
    "Ctx",
    "GatewaySim",
    "Payment",
    "Response",
    "ReturnOutcome",
    "ReverseDecision",
    "Route",
    "VerifyDecision",
    "html_error",
    "json_response",
    "multipart_fields",
    "paying_card",
    "sha256_hex",
    "tehran_iso",
]

# Payment states, in rials; transitions: CREATED -> PAID -> VERIFIED | REVERSED;
# CREATED -> CANCELLED | FAILED | EXPIRED; PAID | VERIFIED -> REVERSED (reverse call).
CREATED = "CREATED"
PAID = "PAID"  # paid, not verified
VERIFIED = "VERIFIED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"  # card declined
EXPIRED = "EXPIRED"
REVERSED = "REVERSED"
STATES = (CREATED, PAID, VERIFIED, CANCELLED, FAILED, EXPIRED, REVERSED)

ReturnOutcome = Literal["paid", "cancelled", "declined", "expired", "forged"]


class VerifyDecision(StrEnum):
    IN_PROGRESS = "in_progress"
    VERIFIED = "verified"
    ALREADY_VERIFIED = "already_verified"
    AMOUNT_MISMATCH = "amount_mismatch"
    WAITING = "waiting"
    CANCELLED = "cancelled"
    FAILED = "failed"
    EXPIRED = "expired"
    REVERSED = "reversed"


class ReverseDecision(StrEnum):
    REVERSED_NOW = "reversed_now"
    ALREADY_REVERSED = "already_reversed"
    NOT_PAID = "not_paid"
    WINDOW_OVER = "window_over"


@dataclass
class Payment:
    """One token's record. Amounts in rials; times on the sandbox clock (aware UTC)."""

    token: str
    instance: str
    amount_irr: int  # requested
    order_id: str
    callback_url: str
    description: str
    created_at: datetime
    mobile: str | None = None
    state: str = CREATED
    paid_amount_irr: int | None = None  # charged; differs in amount_mismatch mode
    ref_number: str | None = None  # the gateway's reference for a payment (Shaparak RRN-like)
    card_number: str | None = None  # masked, e.g. 603799******1234
    card_pan: str | None = field(default=None, repr=False)  # the paying card in full (hashes only)
    fail_status: int | None = None  # decline code a plugin may report (core sets none)
    paid_at: datetime | None = None
    verified_at: datetime | None = None
    reversed_at: datetime | None = None
    verify_calls: int = 0
    in_progress_answered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # protocol-specific values


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    result: Any = None  # recorded as the call's "result"; default: the JSON body's "result"
    delay_seconds: float = 0.0  # the core waits this long (outside the lock) before answering
    after: list[Callable[[], None]] = field(default_factory=list)  # run outside the lock, before answering


@dataclass
class Ctx:
    """One inbound request to an instance, as a plugin's handler sees it."""

    core: Core
    sim: GatewaySim
    instance: str
    mode: str  # the instance's mode when the request arrived
    method: str
    path: str  # relative to the instance prefix, without the query
    match: re.Match[str]  # the route's regex match (named groups welcome)
    query: dict[str, str]
    form: dict[str, str]  # an application/x-www-form-urlencoded body, else {}
    json: Any  # a JSON body, else None
    headers: Mapping[str, str]
    raw: bytes
    delay_seconds: float = 0.0  # set by the core (verify_timeout): hold the answer this long

    def instance_path(self, rest: str | None = None) -> str:
        """An absolute path on this instance: `/{instance}{rest}` (default: this request's path)."""
        return f"/{self.instance}{self.path if rest is None else rest}"


@dataclass(frozen=True)
class Route:
    method: str  # "GET" | "POST" | "PUT" | "DELETE"
    pattern: str  # regex, full-matched against Ctx.path
    handler: Callable[[Ctx], Response]
    kind: Literal["api", "entry"] = "api"  # api: server-to-server (down/slow/flaky apply)


class Core(Protocol):
    """The helpers the core (the `Sandbox`) offers plugins. All run under the sandbox lock."""

    merchant: str  # the one merchant id / API key / terminal id the sandbox accepts
    slow_seconds: float

    def now(self) -> datetime: ...

    def new_payment(
        self,
        ctx: Ctx,
        *,
        amount_irr: int,
        order_id: str,
        callback_url: str,
        description: str = "",
        mobile: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Payment: ...

    def lookup(self, ctx: Ctx, token: str) -> Payment | None:
        """The instance's payment for `token` after the lazy clock rules, or None."""
        ...

    def find(self, ctx: Ctx, predicate: Callable[[Payment], bool]) -> Payment | None:
        """The instance's first payment matching `predicate` (e.g. by extra["RefNum"])."""
        ...

    def verify(self, ctx: Ctx, payment: Payment, *, amount_irr: int | None) -> VerifyDecision: ...

    def reverse(self, ctx: Ctx, payment: Payment) -> ReverseDecision: ...

    def buyer_page(
        self, ctx: Ctx, payment: Payment, *, action_url: str, hidden: Mapping[str, str]
    ) -> Response: ...

    def buyer_submit(self, ctx: Ctx, payment: Payment, action: str | None) -> Response: ...

    def page_not_found(self) -> Response: ...

    def page(self, status: int, title: str, body_html: str) -> Response: ...


class GatewaySim:
    """A gateway protocol. One object per protocol per sandbox; keep state in `Payment`s."""

    name: ClassVar[str] = ""
    unit: ClassVar[Literal["IRR", "IRT"]] = "IRR"
    return_method: ClassVar[Literal["GET", "POST"]] = "GET"
    token_ttl: ClassVar[timedelta | None] = timedelta(minutes=15)
    verify_window: ClassVar[timedelta | None] = timedelta(minutes=30)
    reverse_window: ClassVar[timedelta | None] = None  # None: no reverse API
    modes: ClassVar[tuple[str, ...]] = ()  # modes of this protocol's own, beside the core's MODES
    # The credential this protocol's instances accept, when not the sandbox's shared merchant id
    # (an SMS API key, an inquiry token): `GET /` shows it as the instance's `merchant`.
    merchant: ClassVar[str] = ""

    def make_token(self, seq: int) -> str:
        """A new token; `seq` is unique within the sandbox and increasing."""
        return str(seq)

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        raise NotImplementedError

    def return_method_for(self, payment: Payment) -> Literal["GET", "POST"]:
        """How this payment's buyer is sent back: the protocol's `return_method` unless the
        merchant asked for another one when sending the buyer (SEP's GetMethod)."""
        return self.return_method

    def transient_failure(self, ctx: Ctx) -> Response:
        """The answer to a failing call in flaky mode: HTML 502 unless the protocol has its own."""
        return html_error(502)

    def describe(self, payment: Payment) -> str:
        """A line under the amount on the buyer page (protocol, token)."""
        return f"{self.name} protocol · token {payment.token}"


def json_response(payload: Any, status: int = 200, *, result: Any = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    if result is None and isinstance(payload, dict):
        result = payload.get("result")
    return Response(status, body, "application/json; charset=utf-8", result=result)


_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def html_error(status: int = 502) -> Response:
    """The HTML error page a real gateway's nginx front answers (never JSON)."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, page.encode(), "text/html")


_TEHRAN = timezone(timedelta(hours=3, minutes=30))


def tehran_iso(moment: datetime | None) -> str | None:
    """Tehran local time without an offset, as Zibal's samples show: 2018-03-25T23:43:01.053000."""
    if moment is None:
        return None
    return moment.astimezone(_TEHRAN).replace(tzinfo=None).isoformat(timespec="microseconds")


def multipart_fields(headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """The fields of a multipart/form-data body ({} for any other); a file as a description of it
    ({"filename", "content_type", "size", "png"}), never its bytes, so call logs stay readable."""
    from email.parser import BytesParser
    from email.policy import HTTP

    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename():
            fields[name] = {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(data),
                "png": data.startswith(b"\x89PNG\r\n\x1a\n"),
            }
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields


def _luhn_valid(card: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(card)):
        digit = int(ch) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def paying_card(last_four: str) -> str:
    """The sandbox buyer's card: 603799, the smallest middle six digits that make it Luhn-valid,
    then `last_four`. Tests rebuild it from the masked card (the first such card of the mask);
    any other card of the same mask is "another person's card of the same bank"."""
    for middle in range(1_000_000):
        card = f"603799{middle:06d}{last_four}"
        if _luhn_valid(card):
            return card
    raise ValueError("no Luhn-valid card")  # unreachable: one digit cycles every residue


def sha256_hex(card: str | None) -> str:
    """SHA-256 of the card's digits in lower-case hex ("" without a card): the published form of
    the gateways' card hashes (Zarinpal documents card_hash as SHA256; each plugin picks the case)."""
    return hashlib.sha256(card.encode("ascii")).hexdigest() if card else ""
