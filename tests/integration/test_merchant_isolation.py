"""One merchant reaches nothing of another's, on every route of the merchant API.

Two merchants, each with links (one an invoice), coupons, payments (checkouts and paid ones) and
two settlements, and lists one item per page so that every list has a cursor to steal. Another
merchant's object answers exactly like a missing one; lists, filters and cursors yield nothing of
the other's; coupons and Idempotency-Keys are the merchant's own. tests/integration/
test_merchant_api.py covers a link's GET/PATCH and the link list; this table covers every route.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from local.template import load_template, routes
from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import Answer, ApiClient
from tests.integration.test_invoice_notify import outbox  # noqa: F401 - the fixture

BUYER = {"name": "Ali", "phone": "09121234567"}
MISSING = {
    "code": "nosuchcode00", "payment": "pay_" + "Z" * 22, "settlement": "stl_20261123_" + "Z" * 16,
    "export": "exp_" + "Z" * 22,
}  # fmt: skip
# (paid at, the business day that settles it): two settlements per merchant
DAYS = (
    ("2026-11-22T08:00:00.000000Z", date(2026, 11, 23)),
    ("2026-11-23T08:00:00.000000Z", date(2026, 11, 24)),
)


@dataclass
class Shop:
    key: str
    code: str  # an item link, with two checkouts
    invoice: str  # an invoice with a payer
    payment: str
    settlement: str
    coupon: str
    merchant_id: str
    export: str  # a CSV export job

    @property
    def ids(self) -> dict[str, str]:
        return {
            "code": self.code,
            "payment": self.payment,
            "settlement": self.settlement,
            "export": self.export,
        }


def _made(answer: Answer) -> Any:
    assert answer.status in (200, 201, 303), answer.text
    return answer.json() if answer.status != 303 else answer.location


def _shop(api: ApiClient, store: Any, merchant: Any, key: str, prefix: str) -> Shop:
    from paylink.settlement.daily import settle_day
    from paylink.settlement.payouts import SandboxPayout
    from tests.settlement_data import add_paid_payment

    payer = {"name": "Sara", "phone": "09121234567", "email": "sara@example.com"}
    invoice_body = {"title": "Invoice", "amount": 500_000, "kind": "invoice", "payer": payer}
    invoice = _made(api.post_json("/v1/links", invoice_body, key=key))
    code = _made(api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=key))["code"]
    for _ in range(2):
        _made(api.post_form(f"/{code}", BUYER))
    for name in ("A", "B"):
        coupon = {"code": f"{prefix}{name}25", "kind": "percent", "value": 25}
        _made(api.post_json("/v1/coupons", coupon, key=key))
    settlements = []
    for n, (paid_at, day) in enumerate(DAYS):
        add_paid_payment(store, merchant, f"pay_{prefix.lower()}_{n:03d}", 1_000_000, paid_at=paid_at)
        settle_day(store, day, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))
        settlements.append(api.get("/v1/settlements", key=key).json()["items"][0]["id"])
    assert len(set(settlements)) == 2
    payment = api.get("/v1/payments", key=key).json()["items"][0]["id"]
    export = _export_job(store, merchant.id)
    return Shop(key, code, invoice["code"], payment, settlements[0], f"{prefix}A25", merchant.id, export)


def _export_job(store: Any, merchant_id: str) -> str:
    """A pending CSV export job of the merchant's payments (as the API starts one past the inline size)."""
    from paylink.core.models import iso, utcnow
    from paylink.exports.jobs import JOB_TTL_SECONDS, job_id
    from paylink.exports.model import ExportJob

    now = utcnow()
    job = ExportJob(
        id=job_id(merchant_id, "payments", {}, 0), merchant_id=merchant_id, kind="payments",
        filename="payments.csv", created_at=iso(now), ttl=int(now.timestamp()) + JOB_TTL_SECONDS,
    )  # fmt: skip
    return store.add_export_job(job)[0].id


@pytest.fixture
def shops(api, store, merchant, other_merchant, gateways, monkeypatch):  # type: ignore[no-untyped-def]
    """(mine, theirs): two merchants with one of everything (two of every listed thing)."""
    import paylink.store.table

    monkeypatch.setattr(paylink.store.table, "PAGE_SIZE", 1)
    mine = _shop(api, store, merchant, TEST_API_KEY, "MINE")
    return mine, _shop(api, store, other_merchant, OTHER_API_KEY, "THEIR")


def _send(api: ApiClient, method: str, target: str, body: Any, key: str, idem: str | None = None) -> Answer:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    if idem:
        headers["idempotency-key"] = idem
    raw = json.dumps(body).encode() if body is not None else b""
    return api.request(method, target, body=raw, headers=headers)


def _same(a: Answer, b: Answer) -> bool:
    """The same status, content type and body, byte for byte."""
    return (a.status, a.headers.get("Content-Type"), a.body) == (
        b.status,
        b.headers.get("Content-Type"),
        b.body,
    )


# ---- objects -----------------------------------------------------------------------------------

OBJECT_ROUTES = [
    ("GET", "/v1/links/{code}", None),
    ("PATCH", "/v1/links/{code}", {"active": False}),
    ("PATCH", "/v1/links/{code}", {"max_payments": 5}),
    ("POST", "/v1/links/{code}/send", {"via": ["sms", "email"]}),
    ("GET", "/v1/payments/{payment}", None),
    ("GET", "/v1/payments/{payment}/refunds", None),
    ("GET", "/v1/payments?link={code}", None),
    ("GET", "/v1/payments?link={code}&format=csv", None),
    ("GET", "/v1/settlements/{settlement}", None),
    ("GET", "/v1/settlements/{settlement}?format=csv", None),
    ("GET", "/v1/exports/{export}", None),
]


@pytest.mark.parametrize(("method", "target", "body"), OBJECT_ROUTES)
def test_another_merchants_object_answers_exactly_like_a_missing_one(
    api,
    shops,
    outbox,  # noqa: F811
    method,
    target,
    body,
):
    # Given my objects, seen by the other merchant
    mine, theirs = shops
    ids = {**mine.ids, "code": mine.invoice if target.endswith("/send") else mine.code}
    # When it asks for (or changes) one of mine, and one that does not exist
    foreign = _send(api, method, target.format(**ids), body, theirs.key)
    missing = _send(api, method, target.format(**MISSING), body, theirs.key)
    # Then both answer 404, byte for byte the same
    assert foreign.status == 404, foreign.text
    assert _same(foreign, missing), (foreign.text, missing.text)
    # and its own object of that kind answers (the route is reachable for its owner)
    own = {**theirs.ids, "code": theirs.invoice if target.endswith("/send") else theirs.code}
    assert _send(api, method, target.format(**own), body, theirs.key).status == 200


def test_another_merchants_writes_change_and_send_nothing_of_mine(api, shops, outbox):  # noqa: F811
    # Given my invoice and link as they are
    mine, theirs = shops
    before = [api.get(f"/v1/links/{c}", key=mine.key).json() for c in (mine.code, mine.invoice)]
    # When the other merchant tries to deactivate them and to send my invoice
    for code in (mine.code, mine.invoice):
        _send(api, "PATCH", f"/v1/links/{code}", {"active": False, "title": "gone"}, theirs.key)
    _send(api, "POST", f"/v1/links/{mine.invoice}/send", {"via": ["sms", "email"]}, theirs.key)
    # Then nothing of mine changed and nothing was sent to my payer
    assert [api.get(f"/v1/links/{c}", key=mine.key).json() for c in (mine.code, mine.invoice)] == before
    assert outbox() == {"sms": [], "email": []}


def test_another_merchants_refund_of_my_payment_answers_like_a_missing_payment_and_refunds_nothing(
    api, shops
):
    # Given my payment, seen by the other merchant
    mine, theirs = shops
    # When it posts a refund of it, and of a payment that does not exist
    foreign = _send(api, "POST", f"/v1/payments/{mine.payment}/refunds", {"amount": 1_000}, theirs.key)
    missing = _send(api, "POST", f"/v1/payments/{MISSING['payment']}/refunds", {"amount": 1_000}, theirs.key)
    # Then both answer 404, byte for byte the same, and my payment has no refund
    assert foreign.status == 404, foreign.text
    assert _same(foreign, missing)
    assert api.get(f"/v1/payments/{mine.payment}", key=mine.key).json()["amount_refunded"] == 0
    assert api.get(f"/v1/payments/{mine.payment}/refunds", key=mine.key).json()["items"] == []


# ---- lists -------------------------------------------------------------------------------------

LISTS = ["/v1/links", "/v1/payments", "/v1/payments?link={code}", "/v1/settlements", "/v1/coupons"]


def _with_cursor(target: str, cursor: str) -> str:
    return target + ("&" if "?" in target else "?") + f"cursor={cursor}"


def _every_page(api: ApiClient, target: str, key: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    for _ in range(50):
        page = api.get(_with_cursor(target, cursor) if cursor else target, key=key)
        assert page.status == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the list never ended")


def _mine_in(text: str, mine: Shop) -> list[str]:
    found = [
        v
        for v in (mine.code, mine.invoice, mine.payment, mine.settlement, mine.coupon, mine.export)
        if v in text
    ]
    return found + ([mine.merchant_id] if mine.merchant_id in text else [])


@pytest.mark.parametrize("target", LISTS)
def test_a_list_holds_nothing_of_another_merchant(api, shops, target):
    # Given two merchants with objects of every kind
    mine, theirs = shops
    # When the other merchant reads every page of one of its lists
    items = _every_page(api, target.format(code=theirs.code), theirs.key)
    # Then it holds its own items (two or more) and nothing of mine
    assert len(items) >= 2
    assert _mine_in(json.dumps(items), mine) == []


@pytest.mark.parametrize("target", ["/v1/payments?format=csv", "/v1/settlements?format=csv"])
def test_a_csv_export_holds_nothing_of_another_merchant(api, shops, target):
    mine, theirs = shops
    answer = api.get(target, key=theirs.key)
    assert answer.status == 200
    assert answer.text.count("\n") >= 3  # a header and its own rows
    assert _mine_in(answer.text, mine) == []


@pytest.mark.parametrize("target", LISTS)
def test_a_cursor_from_another_merchants_list_is_refused(api, shops, target):
    # Given a cursor into one of my lists
    mine, theirs = shops
    cursor = api.get(target.format(code=mine.code), key=mine.key).json()["next_cursor"]
    assert cursor
    # When the other merchant pages its own list with it
    stolen = api.get(_with_cursor(target.format(code=theirs.code), cursor), key=theirs.key)
    # Then it is a 400 naming the cursor, and nothing of mine is in it
    assert stolen.status == 400, stolen.text
    assert "cursor" in stolen.json()["error"]["fields"]
    assert _mine_in(stolen.text, mine) == []


def _decode(cursor: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(cursor))  # type: ignore[no-any-return]


def _encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize("target", LISTS)
def test_a_forged_cursor_pointing_into_another_merchants_items_yields_none_of_them(api, shops, target):
    # Given a cursor of the other merchant's own list, rewritten to start at one of my items
    mine, theirs = shops
    their_key = _decode(api.get(target.format(code=theirs.code), key=theirs.key).json()["next_cursor"])
    my_key = _decode(api.get(target.format(code=mine.code), key=mine.key).json()["next_cursor"])
    index_pk = next(k for k in their_key if k.startswith("gsi") and k.endswith("pk"))
    forged = {**my_key, index_pk: their_key[index_pk]}
    # When it pages with it
    answer = api.get(_with_cursor(target.format(code=theirs.code), _encode(forged)), key=theirs.key)
    # Then it gets a 400 or its own items, never one of mine
    assert answer.status in (200, 400), answer.text
    assert _mine_in(answer.text, mine) == []


SPOILED_CURSORS = {
    "not-base64": lambda key: "not base64 at all!",
    "not-utf8": lambda key: base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "a-list": lambda key: _encode(["a", "list"]),
    "missing-part": lambda key: _encode({k: v for k, v in key.items() if k != "sk"}),
    "number": lambda key: _encode({**key, "sk": 5}),
    "nested": lambda key: _encode({**key, "sk": {"S": "PROFILE"}}),
    "extra-attribute": lambda key: _encode({**key, "status": "paid"}),
}


@pytest.mark.parametrize("target", LISTS)
def test_a_malformed_cursor_is_a_400_not_a_500(api, shops, target):
    # Given a merchant's own cursor, spoiled in each of these ways
    _, theirs = shops
    own = target.format(code=theirs.code)
    key = _decode(api.get(own, key=theirs.key).json()["next_cursor"])
    for name, spoil in SPOILED_CURSORS.items():
        # When it pages with it
        answer = api.get(_with_cursor(own, spoil(key)), key=theirs.key)
        # Then it is a clear 400 on the cursor
        assert answer.status == 400, (name, answer.text)
        assert "cursor" in answer.json()["error"]["fields"], name


# ---- coupons -----------------------------------------------------------------------------------


def test_another_merchants_coupon_is_refused_on_a_link_exactly_like_an_unknown_one(api, shops):
    # Given my coupon
    mine, theirs = shops
    # When a buyer of the other merchant's link types it, and a code nobody has
    foreign = api.post_form(f"/{theirs.code}?lang=en", {**BUYER, "coupon": mine.coupon, "action": "apply"})
    unknown = api.post_form(f"/{theirs.code}?lang=en", {**BUYER, "coupon": "NOBODY25", "action": "apply"})
    # Then both are the same field error, and no discount
    assert (foreign.status, unknown.status) == (400, 400)
    assert foreign.text.replace(mine.coupon, "X") == unknown.text.replace("NOBODY25", "X")
    assert "This coupon code is not valid." in foreign.text


def test_a_coupon_code_taken_by_another_merchant_is_free_for_me(api, shops):
    # Given the other merchant's coupon code
    mine, theirs = shops
    # When I create a coupon with the same code
    body = {"code": theirs.coupon, "kind": "fixed", "value": 1000}
    answer = api.post_json("/v1/coupons", body, key=mine.key)
    # Then it is mine: nothing tells me it exists elsewhere
    assert answer.status == 201, answer.text
    assert theirs.coupon in [c["code"] for c in _every_page(api, "/v1/coupons", mine.key)]


def test_a_coupon_naming_another_merchants_link_answers_like_a_missing_link(api, shops):
    mine, theirs = shops
    body = {"code": "LINKED25", "kind": "percent", "value": 10}
    foreign = api.post_json("/v1/coupons", {**body, "links": [mine.code]}, key=theirs.key)
    missing = api.post_json("/v1/coupons", {**body, "links": [MISSING["code"]]}, key=theirs.key)
    assert (foreign.status, missing.status) == (400, 400)
    assert foreign.text.replace(mine.code, "X") == missing.text.replace(MISSING["code"], "X")


# ---- idempotency keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("PATCH", "/v1/links/{code}", {"title": "renamed"}),
        ("POST", "/v1/links/{invoice}/send", {"via": ["email"]}),
    ],
)
def test_my_idempotency_key_never_replays_my_answer_to_another_merchant(
    api,
    shops,
    outbox,  # noqa: F811
    method,
    target,
    body,
):
    # Given a change of mine made under an Idempotency-Key
    mine, theirs = shops
    path = target.format(code=mine.code, invoice=mine.invoice)
    assert _send(api, method, path, body, mine.key, idem="shared-key-1").status == 200
    # When the other merchant sends the very same request under the same key
    again = _send(api, method, path, body, theirs.key, idem="shared-key-1")
    # Then it is not my replayed answer: it is the 404 of an object that is not its own
    assert again.status == 404, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert _mine_in(again.text, mine) == []


def test_my_idempotency_key_on_a_coupon_gives_another_merchant_its_own_coupon(api, shops):
    # Given my coupon created under an Idempotency-Key
    mine, theirs = shops
    body = {"code": "SAMEBODY", "kind": "percent", "value": 10}
    first = _send(api, "POST", "/v1/coupons", body, mine.key, idem="shared-key-2")
    # When the other merchant sends the same body under the same key
    again = _send(api, "POST", "/v1/coupons", body, theirs.key, idem="shared-key-2")
    # Then it gets a coupon of its own, freshly created, not my replay
    assert (first.status, again.status) == (201, 201)
    assert "Idempotent-Replayed" not in again.headers
    assert "SAMEBODY" in [c["code"] for c in _every_page(api, "/v1/coupons", theirs.key)]


# ---- completeness ------------------------------------------------------------------------------

# Routes of the merchant API function that are public (the QR code of a URL anyone can scan).
PUBLIC = {
    "GET /{code}/qr.svg", "GET /{code}/qr.png", "GET /u/{username}/qr.svg", "GET /u/{username}/qr.png",
    "GET /v1/openapi.json",  # the API description: the same document for everyone
    # the payer's page of a refund: per unguessable token, no merchant (test_refund_payer.py)
    "GET /refund/{token}", "POST /refund/{token}",
}  # fmt: skip
CREATES = {
    "POST /v1/links",
    "POST /v1/coupons",
    "POST /v1/payments/{id}/refunds",
}  # covered above by idempotency, coupons and test_idempotency
# The merchant's own settings: tests/integration/test_merchant_settings_api.py (another merchant's
# endpoint and deliveries invisible, another's key id answers exactly like a missing one).
SETTINGS = {
    "GET /v1/webhook", "PUT /v1/webhook", "DELETE /v1/webhook", "POST /v1/webhook/rotate",
    "POST /v1/webhook/test", "GET /v1/webhook/deliveries", "GET /v1/api-keys", "POST /v1/api-keys",
    "DELETE /v1/api-keys/{id}",
}  # fmt: skip
# Covered below (test_another_merchants_telegram_chat_...); POST makes a token of the caller's only.
TELEGRAM = {"POST /v1/telegram/link", "GET /v1/telegram/chats", "DELETE /v1/telegram/chats/{id}"}
# A refund's payer reminded: tests/integration/test_refund_remind_api.py (another merchant's refund, or
# one named under another payment, answers exactly like a missing one and texts nothing).
REFUND_ACTIONS = {"POST /v1/payments/{id}/refunds/{refund_id}/remind"}
# The merchant's own money: no object id, no other merchant's entries (tested below).
BALANCE = {"GET /v1/balance", "GET /v1/ledger"}


def test_every_merchant_api_route_of_the_template_is_in_these_tables():
    # Given the routes template.yaml gives the merchant API function
    template_routes = routes(load_template())
    declared = {f"{r.method} {r.path}" for r in template_routes if r.function_id == "CreateLinkFunction"}
    # Then each is checked above (its path parameters named as the template names them), or public
    object_routes = {f"{m} {t.split('?')[0]}" for m, t, _ in OBJECT_ROUTES}
    object_routes = {
        r.replace("{payment}", "{id}").replace("{settlement}", "{id}").replace("{export}", "{id}")
        for r in object_routes
    }
    lists = {f"GET {t.split('?')[0]}" for t in LISTS}
    checked = PUBLIC | CREATES | SETTINGS | TELEGRAM | REFUND_ACTIONS | BALANCE | object_routes | lists
    assert declared - checked == set()


def _linked_chat(store: Any, merchant: Any, chat_id: int) -> None:
    from paylink.bot.linking import _hash, link_chat

    store.put_telegram_token(_hash(f"token-{chat_id}"), merchant.id, int(time.time()) + 600)
    assert link_chat(store, f"token-{chat_id}", chat_id, "fa")[0] == "linked"


def test_another_merchants_telegram_chat_answers_exactly_like_a_missing_one(
    api, store, merchant, other_merchant
):
    # Given a chat linked to me and one linked to the other merchant
    _linked_chat(store, merchant, 5551)
    _linked_chat(store, other_merchant, 5552)
    # When the other merchant lists its chats, Then mine is not among them
    listed = api.get("/v1/telegram/chats", key=OTHER_API_KEY).json()["items"]
    assert [c["id"] for c in listed] == ["5552"]
    # When it unlinks mine, and one that does not exist, Then both answer 404 byte for byte
    foreign = _send(api, "DELETE", "/v1/telegram/chats/5551", None, OTHER_API_KEY)
    missing = _send(api, "DELETE", "/v1/telegram/chats/999", None, OTHER_API_KEY)
    assert foreign.status == 404
    assert _same(foreign, missing)
    # And mine stays linked, while its own unlinks
    assert [c["id"] for c in api.get("/v1/telegram/chats", key=TEST_API_KEY).json()["items"]] == ["5551"]
    assert _send(api, "DELETE", "/v1/telegram/chats/5552", None, OTHER_API_KEY).status == 204


def test_another_merchants_ledger_and_balance_hold_nothing_of_mine(api, shops):
    # Given two merchants with objects of every kind
    mine, theirs = shops
    # When the other merchant reads its balance and every page of its ledger
    balance = api.get("/v1/balance", key=theirs.key)
    entries = _every_page(api, "/v1/ledger", theirs.key)
    # Then both answer, its ledger lists its own entries, and nothing of mine is in either
    assert balance.status == 200, balance.text
    assert len(entries) >= 2
    assert _mine_in(balance.text + json.dumps(entries), mine) == []


def test_a_ledger_cursor_from_another_merchant_yields_none_of_its_entries(api, shops):
    # Given a cursor into my ledger (a position in time, not a key of mine)
    mine, theirs = shops
    first = api.get("/v1/ledger", key=mine.key)
    assert first.status == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor
    # When the other merchant pages its own ledger with it
    answer = api.get(f"/v1/ledger?cursor={cursor}", key=theirs.key)
    # Then it gets its own entries or a 400, never one of mine
    assert answer.status in (200, 400), answer.text
    assert _mine_in(answer.text, mine) == []
