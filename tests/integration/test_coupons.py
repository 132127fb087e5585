"""Coupons: created by the merchant, applied on the link page, consumed once per payment."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}


@pytest.fixture
def link(api, merchant, gateways):  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Handmade scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    return answer.json()


def _coupon(api, **fields):  # type: ignore[no-untyped-def]
    body = {"code": "NOWRUZ", "kind": "percent", "value": 25, **fields}
    return api.post_json("/v1/coupons", body, key=TEST_API_KEY)


def _coupon_uses(api, code="NOWRUZ"):  # type: ignore[no-untyped-def]
    items = api.get("/v1/coupons", key=TEST_API_KEY).json()["items"]
    return next(c["uses"] for c in items if c["code"] == code)


def _payments(api):  # type: ignore[no-untyped-def]
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def test_merchant_creates_and_lists_coupons(api, link):
    answer = _coupon(api, max_uses=10, links=[link["code"]], expires_at="2099-01-01T00:00:00Z")
    assert answer.status == 201, answer.text
    created = answer.json()
    assert created["code"] == "NOWRUZ"
    assert (created["kind"], created["value"], created["max_uses"], created["uses"]) == ("percent", 25, 10, 0)
    assert "merchant_id" not in created
    listed = api.get("/v1/coupons", key=TEST_API_KEY).json()
    assert [c["code"] for c in listed["items"]] == ["NOWRUZ"]
    assert listed["next_cursor"] is None
    # another merchant sees none of them
    assert api.get("/v1/coupons", key=OTHER_API_KEY).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "ab"}, "code"),
        ({"code": "lower1"}, "code"),
        ({"code": "X" * 21}, "code"),
        ({"kind": "bogo"}, "kind"),
        ({"value": 0}, "value"),
        ({"value": 101}, "value"),
        ({"value": "10"}, "value"),
        ({"max_uses": 0}, "max_uses"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"links": ["nosuchlink"]}, "links"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_coupon_input_answers_400_with_the_field(api, link, body, field):
    answer = _coupon(api, **body)
    assert answer.status == 400, answer.text
    assert field in answer.json()["error"]["fields"]


def test_a_coupon_code_is_unique_per_merchant(api, link):
    assert _coupon(api).status == 201
    again = _coupon(api)
    assert again.status == 409
    assert "code" in again.json()["error"]["fields"]


def test_apply_shows_the_discounted_amount_in_toman(api, link):
    _coupon(api)
    # When the buyer applies the coupon (lower case is accepted)
    page = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "nowruz", "action": "apply"})
    # Then the page shows 120,000 - 25% = 90,000 toman to pay, and nothing was recorded
    assert page.status == 200, page.text
    assert 'id="quote"' in page.text
    assert "۹۰٬۰۰۰ تومان" in page.text
    assert "۳۰٬۰۰۰ تومان" in page.text
    assert _payments(api) == []


def test_apply_with_an_empty_form_does_not_show_payer_errors(api, link):
    _coupon(api)
    page = api.post_form(f"/{link['code']}?lang=en", {"coupon": "NOWRUZ", "action": "apply"})
    assert page.status == 200
    assert "90,000 Toman" in page.text
    assert "err-name" not in page.text


@pytest.mark.parametrize(
    ("coupon", "error"),
    [
        ("NOPE", "This coupon code is not valid."),
        ("%%", "This coupon code is not valid."),
    ],
)
def test_an_unknown_coupon_is_a_field_error(api, link, coupon, error):
    page = api.post_form(f"/{link['code']}?lang=en", {**BUYER, "coupon": coupon, "action": "apply"})
    assert page.status == 400
    assert 'id="err-coupon"' in page.text
    assert error in page.text


def test_a_coupon_for_other_links_is_refused(api, link):
    other = api.post_json("/v1/links", {"title": "Hat", "amount": 500_000}, key=TEST_API_KEY).json()
    _coupon(api, links=[other["code"]])
    page = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "NOWRUZ"})
    assert page.status == 400
    assert 'id="err-coupon"' in page.text
    assert _payments(api) == []


def test_an_expired_coupon_is_refused(api, store, link):
    _coupon(api)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"COUPON#{link_merchant(api, link)}#NOWRUZ", "sk": "COUPON"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": "2020-01-01T00:00:00.000000Z"},
    )
    page = api.post_form(f"/{link['code']}?lang=en", {**BUYER, "coupon": "NOWRUZ", "action": "apply"})
    assert page.status == 400
    assert "This coupon has expired." in page.text


def link_merchant(api, link):  # type: ignore[no-untyped-def]
    from paylink.store import get_store

    found = get_store().get_link(link["code"])
    assert found is not None
    return found.merchant_id


def test_paying_with_a_coupon_records_the_discounted_amount(api, link):
    _coupon(api)
    started = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "NOWRUZ"})
    assert started.status == 303, started.text
    api.get(local_target(act_at_gateway(started.location)))
    [payment] = _payments(api)
    assert (payment["status"], payment["amount"]) == ("paid", 900_000)
    assert (payment["coupon"], payment["discount"]) == ("NOWRUZ", 300_000)
    assert _coupon_uses(api) == 1
    assert api.get(f"/v1/links/{link['code']}", key=TEST_API_KEY).json()["paid_total"] == 900_000


def test_a_fixed_discount_never_leaves_less_than_the_gateway_minimum(api, link):
    _coupon(api, code="BIG", kind="fixed", value=5_000_000)
    started = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "BIG"})
    assert started.status == 303
    [payment] = _payments(api)
    assert (payment["amount"], payment["discount"]) == (1_000, 1_199_000)


def test_a_percent_discount_is_rounded_down_to_the_rial():
    from paylink.core.models import Coupon, CouponKind
    from paylink.merchants.coupons import discount_for

    # 33% of 12,345 rials is 4,073.85: the discount is 4,073 and 8,272 rials are paid
    coupon = Coupon(code="THIRD", merchant_id="m", kind=CouponKind.PERCENT, value=33, created_at="x")
    assert discount_for(coupon, 12_345) == 4_073


def test_max_uses_is_never_passed_while_the_first_payment_is_in_flight(api, link):
    _coupon(api, max_uses=1)
    # Given one buyer is at the gateway with the only use of the coupon
    first = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "NOWRUZ"})
    assert first.status == 303
    # When a second buyer tries to pay with it
    second = api.post_form(f"/{link['code']}?lang=en", {**BUYER, "coupon": "NOWRUZ"})
    # Then he is refused with a field error and no second payment is recorded
    assert second.status == 400
    assert "This coupon has been used up." in second.text
    assert len(_payments(api)) == 1
    assert _coupon_uses(api) == 1


def test_two_payments_at_once_for_a_single_use_coupon_let_one_through(api, store, link, monkeypatch):
    """The reservation's conditional write, not the read before it, enforces max_uses."""
    from paylink.core.errors import ValidationFailed
    from paylink.merchants import coupons
    from paylink.payments import checkout

    _coupon(api, max_uses=1)
    real_usable = coupons.usable

    def stale_read(store_, link_, raw, now=None):  # type: ignore[no-untyped-def]
        # Given both checkouts read the coupon before either reserved it (uses 0 for both)
        return real_usable(store_, link_, raw, now).model_copy(update={"uses": 0})

    monkeypatch.setattr(coupons, "usable", stale_read)
    # When both go on to reserve their payment
    answers = []
    for _ in range(2):
        try:
            checkout.start_payment(store, link["code"], {**BUYER, "coupon": "NOWRUZ"},
                                   base_url="https://pay.example", lang="fa")  # fmt: skip
            answers.append("started")
        except ValidationFailed as exc:
            answers.append(exc.fields["coupon"])
    # Then only the first holds the coupon's one use
    assert answers == ["started", "coupon_used_up"]
    assert _coupon_uses(api) == 1


def test_a_cancelled_payment_gives_the_coupon_use_back(api, link):
    _coupon(api, max_uses=1)
    started = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "NOWRUZ"})
    assert _coupon_uses(api) == 1
    # When the buyer cancels at the gateway
    api.get(local_target(act_at_gateway(started.location, "cancel")))
    # Then the use is given back and the coupon works again
    [payment] = _payments(api)
    assert payment["status"] == "cancelled"
    assert _coupon_uses(api) == 0
    again = api.post_form(f"/{link['code']}", {**BUYER, "coupon": "NOWRUZ"})
    assert again.status == 303


def test_a_shop_wide_coupon_never_discounts_an_invoice(api, link):
    # Given a shop-wide coupon worth more than any invoice, and a 4,500,000-rial invoice
    _coupon(api, code="BIG", kind="fixed", value=5_000_000)
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": {"name": "Sara"}}
    invoice = api.post_json("/v1/links", body, key=TEST_API_KEY).json()
    # When the payer types the coupon on the invoice's page and pays
    page = api.post_form(f"/{invoice['code']}?lang=en", {**BUYER, "coupon": "BIG"})
    # Then the coupon is refused as a field error and nothing is recorded at a lower amount
    assert page.status == 400, page.text
    assert "Coupons do not apply to an invoice" in page.text
    assert all(p["amount"] == 4_500_000 for p in _payments(api))
    assert _coupon_uses(api, "BIG") == 0
