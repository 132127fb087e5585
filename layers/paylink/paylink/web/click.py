"""The click path, `GET /{code}`: a link's page from one read, served without the router.

What a buyer waits for on a cold start is init plus this first request (bench/coldstart.py), so it
loads only what the page needs: boto3's DynamoDB client (made during init, `prepare`), the compiled
templates (paylink.web.pages) and the standard library. Not pydantic (the models, the settings:
~90 ms), not Powertools' router, nothing of a payment. Every other route of the checkout function
goes through its router (functions/checkout/routes.py), and so does a click whose read or render
raises, so an error is answered and logged as it always was. The page is the router's own, byte
for byte, for every kind of link and state (tests/integration/test_click_path.py), because the
link's status comes from the same rules (paylink.core.link_rules) and the page from the same
template, context and headers.

This module reads one item itself instead of through paylink.store: any module of that package
loads the whole Store (every model and the settings, pydantic) through the package's __init__.
The key is the store's (`LINK#{code}`/`LINK`, see paylink.store); the test above reads links the
store wrote.

A viral link (docs/BENCHMARKS.md, bench/viral.py): each function instance keeps a page for
`PAYLINK_PAGE_CACHE_SECONDS` (template parameter PageCacheSeconds; absent: no cache), so one
link's thousands of clicks a second cost each instance one read per period instead of one per
click, and no partition runs hot. The bound holds for every change: a link deactivated, sold out
or edited is offered by no instance longer than that after the read that saw it, and never past
its own expiry. What a cached page offers is advisory: the checkout POST reads the link again
and reserves with a conditional write, so a cached page can never oversell. Only what is the
same for every buyer is kept: the GET page (no form values, no errors, no cookies, no header of
the request), keyed by code and language; invoices (one payer's schedule) are never kept.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from paylink.core.link_rules import installment_status, link_status
from paylink.web.http import HTML, page_headers, page_policy

ROUTE_KEY = "GET /{code}"
# The store's key of a link (paylink.store: LINK#{code}/LINK).
LINK_PK, LINK_SK = "LINK#{code}", "LINK"
# Settings read straight from the environment (paylink.core.settings would load pydantic); the
# names and defaults are the Settings model's (tests/unit/test_click_settings.py).
TABLE_ENV, TABLE_DEFAULT = "TABLE_NAME", "paylink"
ENDPOINT_ENV = "DYNAMODB_ENDPOINT_URL"
TIMEZONE_ENV, TIMEZONE_DEFAULT = "PAYLINK_TIMEZONE", "Asia/Tehran"
GATEWAYS_ENV = "PAYLINK_GATEWAYS"
CACHE_ENV = "PAYLINK_PAGE_CACHE_SECONDS"
MAX_CACHE_SECONDS = 30.0  # the staleness a buyer may meet is bounded, whatever the setting says
CACHE_ENTRIES = 512  # pages kept per instance (~10 KB each): a scan of random codes evicts, not grows
PERSONAL_PREFIX = "u-"  # paylink.merchants.links.PERSONAL_PREFIX (a merchant's /u/{username} link)
# The Link model's defaults of the fields the page reads (tests/unit/test_click_settings.py).
LINK_DEFAULTS: dict[str, Any] = {
    "description": None, "amount": None, "min_amount": None, "max_amount": None,
    "collect": ["name", "phone"], "max_quantity": 1, "max_payments": None, "expires_at": None,
    "active": True, "paid_count": 0, "paid_total": 0, "installments": None,
}  # fmt: skip

Answer = dict[str, Any]


class Part:
    """One installment of an invoice's schedule, as the page reads it."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.number: int = item["number"]
        self.amount: int = item["amount"]
        self.due_date: str = item["due_date"]
        self.payment_id: str | None = item.get("payment_id")
        self.paid_at: str | None = item.get("paid_at")

    def status(self, today: date) -> _Value:
        return _Value(installment_status(self, today))


class _Value(str):
    """A status as the template reads it (`part.status(today).value`), like the model's enums."""

    @property
    def value(self) -> str:
        return str(self)


class LinkView:
    """A stored link as the page reads it: the item's fields with the Link model's defaults."""

    def __init__(self, item: dict[str, Any]) -> None:
        fields = {**LINK_DEFAULTS, **{k: v for k, v in item.items() if v is not None}}
        self.code: str = fields["code"]
        self.merchant_name: str = fields["merchant_name"]
        self.kind: str = fields["kind"]
        self.title: str = fields["title"]
        self.description: str | None = fields["description"]
        self.amount: int | None = fields["amount"]
        self.min_amount: int | None = fields["min_amount"]
        self.max_amount: int | None = fields["max_amount"]
        self.collect: list[str] = list(fields["collect"])
        self.max_quantity: int = fields["max_quantity"]
        self.max_payments: int | None = fields["max_payments"]
        self.expires_at: str | None = fields["expires_at"]
        self.active: bool = fields["active"]
        self.paid_count: int = fields["paid_count"]
        self.paid_total: int = fields["paid_total"]
        parts = fields["installments"]
        self.installments: list[Part] | None = None if parts is None else [Part(p) for p in parts]

    def next_installment(self) -> Part | None:
        return next((part for part in self.installments or [] if not part.payment_id), None)

    def status(self, now: datetime) -> str:
        return link_status(self, now)


def setting(name: str, default: str | None) -> str | None:
    """A setting by its variable's name, as paylink.core.settings would read it: the function's own
    settings where the local runner scopes them (FUNCTION_SETTINGS; that module is never loaded by
    a deployed click), else the process environment."""
    settings = sys.modules.get("paylink.core.settings")
    scoped = settings.FUNCTION_SETTINGS.get() if settings is not None else None
    if scoped is None:
        return os.environ.get(name, default)
    field = next(field for field, info in type(scoped).model_fields.items() if info.alias == name)
    value = getattr(scoped, field)
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    """DynamoDB's numbers back to ints (we store no fractions), lists and maps recursively."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


@cache
def reader() -> tuple[Any, str, Callable[[Any], Any]]:
    """The DynamoDB client, the table and a deserializer: made once, during init (`prepare`)."""
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    client = boto3.client("dynamodb", endpoint_url=setting(ENDPOINT_ENV, None) or None)
    return client, setting(TABLE_ENV, TABLE_DEFAULT) or TABLE_DEFAULT, TypeDeserializer().deserialize


def read_link(code: str) -> dict[str, Any] | None:
    """The stored link item (eventually consistent, as the store reads it for the page), or None."""
    client, table, deserialize = reader()
    key = {"pk": {"S": LINK_PK.format(code=code)}, "sk": {"S": LINK_SK}}
    item = client.get_item(TableName=table, Key=key).get("Item")
    return None if item is None else {k: _plain(deserialize(v)) for k, v in item.items()}


@cache
def _policy(gateways_json: str) -> str:
    """The pages' Content-Security-Policy for the configured gateways (paylink.web.http.page_policy)."""
    import json

    from paylink.web.origins import origin_of

    origins: list[str] = []
    for gateway in json.loads(gateways_json or "[]"):
        origin = origin_of(str(gateway.get("base_url", "")))
        if origin and origin not in origins:
            origins.append(origin)
    return page_policy(origins)


def _answer(status: int, html: str) -> Answer:
    """The HTTP API answer the router would build for `html_response(status, html)`."""
    headers = {"Content-Type": HTML, **page_headers(_policy(setting(GATEWAYS_ENV, "[]") or "[]"))}
    return {"statusCode": status, "body": html, "isBase64Encoded": False, "headers": headers, "cookies": []}


def _lang(event: Answer) -> str:
    return "en" if (event.get("queryStringParameters") or {}).get("lang") == "en" else "fa"


def _render(template: str, lang: str, **context: Any) -> str:
    from paylink.web.pages import render

    return render(template, lang=lang, **context)


def page(code: str, lang: str, now: datetime) -> tuple[Answer, LinkView | None]:
    """The page of `code` at `now` (the router's 404, 410 or link page) and the link it shows."""
    item = read_link(code)
    if item is None:
        return _answer(404, _render("error.html", lang, status=404, reason="not_found", retry_url=None)), None
    link = LinkView(item)
    status = link.status(now)
    if status != "active":
        reason = "already_paid" if status == "paid" else status
        return _answer(410, _render("error.html", lang, status=410, reason=reason, retry_url=None)), link
    personal = code.startswith(PERSONAL_PREFIX)
    action = f"/u/{code.removeprefix(PERSONAL_PREFIX)}" if personal else f"/{code}"
    today = now.astimezone(ZoneInfo(setting(TIMEZONE_ENV, TIMEZONE_DEFAULT) or TIMEZONE_DEFAULT)).date()
    html = _render(
        "link.html",
        lang,
        link=link,
        personal=personal,
        merchant_name=link.merchant_name,
        values={},
        errors={},
        quote=None,
        form_action=action + ("?lang=en" if lang == "en" else ""),
        next_part=link.next_installment(),
        today=today if link.installments else None,
    )
    return _answer(200, html), link


class PageCache:
    """Pages by (code, language) for a bounded time, least recently used evicted first.

    Lambda sends an instance one request at a time; the lock is for the local runner, whose
    invocations share the module from threads."""

    def __init__(self, entries: int = CACHE_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.entries = entries
        self.clock = clock
        self._pages: OrderedDict[tuple[str, str], tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Answer | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] <= self.clock():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str, str], answer: Answer, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._pages[key] = (self.clock() + seconds, answer)
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


PAGES = PageCache()


def cache_seconds() -> float:
    """How long an instance may keep a page: the setting, within 0 and MAX_CACHE_SECONDS."""
    try:
        seconds = float(setting(CACHE_ENV, None) or 0)
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_CACHE_SECONDS)


def keep_for(link: LinkView | None, now: datetime, seconds: float) -> float:
    """How long this page may be served again: `seconds`, never past the link's own expiry, and
    not at all for an invoice (one payer's page)."""
    if link is None:
        return seconds
    if link.kind == "invoice":
        return 0.0
    if link.expires_at and link.status(now) == "active":
        left = (datetime.fromisoformat(link.expires_at) - now).total_seconds()
        return min(seconds, max(left, 0.0))
    return seconds


def serve(event: Answer, cache: PageCache = PAGES) -> Answer:
    """The answer to a `GET /{code}` event, from the cache when it holds the page."""
    code = str((event.get("pathParameters") or {}).get("code", ""))
    lang = _lang(event)
    key = (code, lang)
    answer = cache.get(key)
    if answer is None:
        now = datetime.now(UTC)
        answer, link = page(code, lang, now)
        cache.put(key, answer, keep_for(link, now, cache_seconds()))
    return {**answer, "headers": dict(answer["headers"])}  # the kept page stays as it was


def prepare() -> None:
    """Lambda init: the client made and the page environment loaded before the first click.

    A client that cannot be made here (no region: a tool importing the handler) is made again at
    the first click, where a failure is the router's to answer."""
    with contextlib.suppress(Exception):  # init only warms: the first click owns the error
        reader()
    from paylink.web.pages import environment

    env = environment()
    for name in ("link.html", "error.html"):
        env.get_template(name)
    with contextlib.suppress(Exception):  # a bad gateway list is the first click's to answer
        _policy(setting(GATEWAYS_ENV, "[]") or "[]")


def forget() -> None:
    """Tests: a new environment's client and table, and no page kept."""
    reader.cache_clear()
    _policy.cache_clear()
    PAGES.clear()
