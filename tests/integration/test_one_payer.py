"""One payer, one payment: the last unit of a link is never open at two gateways at once; money
that cannot be accepted (sold out meanwhile, another amount) is reversed at the gateway."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import TEST_API_KEY
from tests.e2e.buyer import act, open_gateway
from tests.helpers import payment_ttl

BUYER = {"name": "Ali", "phone": "09121234567"}


def _restrict(store, merchant, *names):  # type: ignore[no-untyped-def]
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="SET gateways = :names",
        ExpressionAttributeValues={":names": list(names)},
    )


def _payments(api):  # type: ignore[no-untyped-def]
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def _requests(gateways, name):  # type: ignore[no-untyped-def]
    return [c for c in gateways.calls(name) if c["kind"] == "api" and "verify" not in c["path"]]


def test_an_invoice_in_progress_cannot_be_opened_twice(api, merchant, gateways):
    # Given an invoice whose payer is at the gateway
    invoice = api.post_json(
        "/v1/links", {"title": "Invoice 7", "amount": 400_000, "kind": "invoice", "payer": {"name": "Sara"}},
        key=TEST_API_KEY,
    ).json()  # fmt: skip
    assert api.post_form(f"/{invoice['code']}", BUYER).status == 303
    asked = len(_requests(gateways, "a"))
    # When a second attempt is made meanwhile
    second = api.post_form(f"/{invoice['code']}", BUYER)
    # Then it is told a payment is in progress, and no gateway is asked
    assert second.status == 409
    assert "text/html" in second.headers["Content-Type"]
    assert len(_requests(gateways, "a")) == asked
    assert len(_payments(api)) == 1


def test_a_unit_held_by_an_abandoned_payment_comes_back(api, merchant, gateways, store):
    # Given the last unit of an item held by a buyer who walked away
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    link = api.post_json("/v1/links", {"title": "Last lamp", "amount": 900_000, "max_payments": 1},
                         key=TEST_API_KEY).json()  # fmt: skip
    api.post_form(f"/{link['code']}", BUYER)
    assert api.post_form(f"/{link['code']}", BUYER).status == 409
    # When reconciliation expires that payment
    reconcile(store, utcnow() + timedelta(hours=1))
    # Then the next buyer can pay it
    assert api.post_form(f"/{link['code']}", BUYER).status == 303


def test_a_cancelled_payment_gives_its_unit_back_at_once(api, merchant, gateways):
    # Given the last unit held by a buyer who cancels at the gateway
    import httpx

    link = api.post_json("/v1/links", {"title": "Last lamp", "amount": 900_000, "max_payments": 1},
                         key=TEST_API_KEY).json()  # fmt: skip
    started = api.post_form(f"/{link['code']}", BUYER)
    with httpx.Client() as http:
        back = act(http, http.get(started.location), "cancel")
    assert back is not None
    api.get(back.url.replace("https://pay.example", ""))
    # When another buyer tries
    # Then the unit is free again
    assert api.post_form(f"/{link['code']}", BUYER).status == 303


def _pay_at_sep(api, code):  # type: ignore[no-untyped-def]
    """Check out at the SEP sandbox (auto-posted form) and press pay; returns the POST return."""
    import httpx

    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 200  # a bank gateway is entered through an auto-submitted POST form
    with httpx.Client() as http:
        page = open_gateway(http, _AsResponse(started))
        back = act(http, page, "pay")
    assert back is not None
    assert back.method == "POST"
    return back


class _AsResponse:
    """An in-process answer shaped like the httpx.Response the buyer helpers read."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.status_code = answer.status
        self.text = answer.text
        self.headers = {k.lower(): v for k, v in answer.headers.items()}
        self.url = "https://pay.example/"


def _deliver(api, back):  # type: ignore[no-untyped-def]
    from urllib.parse import urlencode

    target = back.url.replace("https://pay.example", "")
    return api.request("POST", target, body=urlencode(back.fields).encode(),
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip


def test_a_verified_amount_that_differs_is_reversed_by_reconciliation(api, merchant, gateways, store):
    # Given a bank gateway (SEP) that charged the buyer another amount than ours
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    _restrict(store, merchant, "sandbox-s")
    gateways.set_mode("s", "amount_mismatch")
    link = api.post_json("/v1/links", {"title": "Bag", "amount": 700_000}, key=TEST_API_KEY).json()
    back = _pay_at_sep(api, link["code"])
    # When the buyer returns
    _deliver(api, back)
    # Then nothing changed but the attempt is on record
    assert _payments(api)[0]["status"] == "redirected"
    # And reconciliation reverses it at the gateway and closes it as failed
    reconcile(store, utcnow() + timedelta(minutes=2))
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "amount_mismatch")
    assert any(c["path"].endswith("ReverseTransaction") for c in gateways.calls("s"))


def test_a_payment_verified_after_its_stock_was_lowered_is_reversed(api, merchant, gateways, store):
    # Given two buyers at SEP for a link of two, and the merchant lowers the stock to one meanwhile
    _restrict(store, merchant, "sandbox-s")
    link = api.post_json("/v1/links", {"title": "Seat", "amount": 500_000, "max_payments": 2},
                         key=TEST_API_KEY).json()  # fmt: skip
    first, second = _pay_at_sep(api, link["code"]), _pay_at_sep(api, link["code"])
    assert api.patch_json(f"/v1/links/{link['code']}", {"max_payments": 1}, key=TEST_API_KEY).status == 200
    # When both return
    _deliver(api, first)
    _deliver(api, second)
    # Then one is paid and the other reversed at the bank and failed as sold out
    statuses = sorted((p["status"], p["failure_reason"]) for p in _payments(api))
    assert statuses == [("failed", "sold_out"), ("paid", None)]
    assert any(c["path"].endswith("ReverseTransaction") for c in gateways.calls("s"))
    assert api.get(f"/v1/links/{link['code']}", key=TEST_API_KEY).json()["paid_count"] == 1


def test_a_payment_of_another_amount_reversed_at_the_bank_stays_in_the_table(api, merchant, gateways, store):
    # Given a SEP payment of another amount than ours
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    _restrict(store, merchant, "sandbox-s")
    gateways.set_mode("s", "amount_mismatch")
    link = api.post_json("/v1/links", {"title": "Bag", "amount": 700_000}, key=TEST_API_KEY).json()
    _deliver(api, _pay_at_sep(api, link["code"]))
    # When reconciliation reverses it at the bank and closes it as failed
    reconcile(store, utcnow() + timedelta(minutes=2))
    # Then it has no TTL: the buyer's money moved, and the payment is its record
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "amount_mismatch")
    assert payment_ttl(store, payment["id"]) is None


def test_a_payment_reversed_because_its_link_sold_out_stays_in_the_table(api, merchant, gateways, store):
    # Given two buyers at SEP for a link of two, and the merchant lowers the stock to one meanwhile
    _restrict(store, merchant, "sandbox-s")
    link = api.post_json("/v1/links", {"title": "Seat", "amount": 500_000, "max_payments": 2},
                         key=TEST_API_KEY).json()  # fmt: skip
    first, second = _pay_at_sep(api, link["code"]), _pay_at_sep(api, link["code"])
    api.patch_json(f"/v1/links/{link['code']}", {"max_payments": 1}, key=TEST_API_KEY)
    # When both return (the second is reversed at the bank and failed as sold out)
    _deliver(api, first)
    _deliver(api, second)
    # Then the failed one has no TTL: its buyer's money moved, and the payment is its record
    [failed] = [p for p in _payments(api) if p["status"] == "failed"]
    assert failed["failure_reason"] == "sold_out"
    assert payment_ttl(store, failed["id"]) is None


def test_a_reused_bank_reference_is_not_credited_twice(api, merchant, gateways, store):
    # Given a paid SEP payment and a second payment whose return carries the first one's RefNum
    _restrict(store, merchant, "sandbox-s")
    link = api.post_json("/v1/links", {"title": "Bag", "amount": 700_000}, key=TEST_API_KEY).json()
    first = _pay_at_sep(api, link["code"])
    _deliver(api, first)
    second = _pay_at_sep(api, link["code"])
    forged = second.__class__(second.method, second.url, {**second.fields, "RefNum": first.fields["RefNum"]})
    # When that return arrives (SEP confirms a re-submitted RefNum again)
    _deliver(api, forged)
    # Then the second payment is not credited and the attempt is on record
    statuses = sorted(p["status"] for p in _payments(api))
    assert statuses == ["paid", "redirected"]
    assert api.get(f"/v1/links/{link['code']}", key=TEST_API_KEY).json()["paid_count"] == 1
