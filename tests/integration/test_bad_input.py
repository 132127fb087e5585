"""Bad input on every route: a clear 4xx with field errors, never a 500, and nothing written."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import table_items

GOOD = {"title": "Scarf", "amount": 1_200_000}

BAD_LINK_BODIES = [
    pytest.param({"amount": 1_200_000}, "title", id="missing-title"),
    pytest.param({"title": "Scarf"}, "amount", id="missing-amount"),
    pytest.param({**GOOD, "amount": 12.5}, "amount", id="float-amount"),
    pytest.param({**GOOD, "amount": 1_200_000.0}, "amount", id="float-whole-amount"),
    pytest.param({**GOOD, "amount": "1200000"}, "amount", id="string-amount"),
    pytest.param({**GOOD, "amount": -5_000}, "amount", id="negative-amount"),
    pytest.param({**GOOD, "amount": 0}, "amount", id="zero-amount"),
    pytest.param({**GOOD, "amount": 20_000_000}, "amount", id="over-personal-cap"),
    pytest.param({**GOOD, "redirect_url": "http://shop.example/done"}, "redirect_url", id="http-redirect"),
    pytest.param({**GOOD, "redirect_url": "javascript:alert(1)"}, "redirect_url", id="js-redirect"),
    pytest.param(
        {**GOOD, "redirect_url": "https://a@evil.example/"}, "redirect_url", id="credentials-redirect"
    ),
    pytest.param({**GOOD, "title": ""}, "title", id="empty-title"),
    pytest.param({**GOOD, "title": "x" * 121}, "title", id="long-title"),
    pytest.param({**GOOD, "kind": "subscription"}, "kind", id="unknown-kind"),
    pytest.param({**GOOD, "collect": ["name", "ssn"]}, "collect.1", id="unknown-collect-field"),
    pytest.param({**GOOD, "max_quantity": 0}, "max_quantity", id="zero-quantity"),
    pytest.param({**GOOD, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at", id="expired"),
    pytest.param({**GOOD, "expires_at": "tomorrow"}, "expires_at", id="not-a-date"),
    pytest.param({**GOOD, "surprise": 1}, "surprise", id="unknown-field"),
    pytest.param({**GOOD, "metadata": {"k": 5}}, "metadata.k", id="metadata-not-string"),
    pytest.param({**GOOD, "kind": "invoice"}, "payer", id="invoice-without-payer"),
    pytest.param({"title": "Tip", "kind": "open", "amount": 5_000}, "amount", id="open-with-amount"),
    pytest.param([GOOD], "body", id="array-body"),
    pytest.param(b"{not json", "body", id="not-json"),
    pytest.param(b"", "body", id="empty-body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_LINK_BODIES)
def test_bad_link_body_is_400_with_the_field_named_and_nothing_written(api, merchant, aws, body, field):
    # Given the table as it is once the key has been used (its last-used stamp is kept a minute)
    api.get("/v1/links", key=TEST_API_KEY)
    before = table_items(aws)
    # When a bad link is posted
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    # Then it is a 400 naming the field, and nothing was written
    assert answer.status == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert table_items(aws) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "body", id="nothing-to-change"),
        pytest.param({"active": "yes"}, "active", id="active-not-bool"),
        pytest.param({"active": None}, "active", id="active-null"),
        pytest.param({"amount": 5}, "amount", id="amount-not-changeable"),
        pytest.param({"max_payments": 0}, "max_payments", id="zero-stock"),
    ],
)
def test_bad_patch_is_400_and_changes_nothing(api, merchant, aws, body, field):
    # Given a link
    code = api.post_json("/v1/links", GOOD, key=TEST_API_KEY).json()["code"]
    before = table_items(aws)
    # When a bad change is sent
    answer = api.patch_json(f"/v1/links/{code}", body, key=TEST_API_KEY)
    # Then it is a 400 naming the field and the link is unchanged
    assert answer.status == 400, answer.text
    assert field in answer.json()["error"]["fields"]
    assert table_items(aws) == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=bogus", "status", id="unknown-status"),
        pytest.param("from=yesterday", "from", id="bad-from"),
        pytest.param("from=2026-11-20&to=2026-11-01", "from", id="from-after-to"),
        pytest.param("format=xml", "format", id="unknown-format"),
        pytest.param("colour=red", "colour", id="unknown-filter"),
        pytest.param("cursor=!!!", "cursor", id="bad-cursor"),
    ],
)
def test_bad_payment_filters_are_400(api, merchant, query, field):
    answer = api.get(f"/v1/payments?{query}", key=TEST_API_KEY)
    assert answer.status == 400, answer.text
    assert field in answer.json()["error"]["fields"]


def test_a_cursor_of_another_merchant_is_refused(api, merchant, other_merchant):
    # Given a cursor made for another list
    import base64
    import json

    forged = base64.urlsafe_b64encode(
        json.dumps({"gsi2pk": f"MERCHANT#{other_merchant.id}#PAYMENTS"}).encode()
    )
    # When it is sent
    answer = api.get(f"/v1/payments?cursor={forged.decode()}", key=TEST_API_KEY)
    # Then it is refused, not followed
    assert answer.status == 400


@pytest.mark.parametrize(
    "target",
    [
        "/v1/links/nosuchcode00",
        "/v1/payments/pay_nosuch",
        "/v1/settlements/stl_nosuch",
        "/v1/payments?link=nosuch",
    ],
)
def test_unknown_objects_are_404_json(api, merchant, target):
    answer = api.get(target, key=TEST_API_KEY)
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1/links"),
        ("GET", "/v1/links"),
        ("GET", "/v1/links/abc"),
        ("PATCH", "/v1/links/abc"),
        ("GET", "/v1/payments"),
        ("GET", "/v1/payments/abc"),
        ("GET", "/v1/settlements"),
        ("GET", "/v1/settlements/abc"),
    ],
)
def test_every_merchant_route_needs_a_valid_key(api, merchant, method, target):
    answer = api.request(method, target, body=b"{}", headers={"authorization": "Bearer wrong"})
    assert answer.status == 401


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        pytest.param({}, ["name", "phone"], id="empty-form"),
        pytest.param({"name": "Ali", "phone": "12345"}, ["phone"], id="bad-phone"),
        pytest.param(
            {"name": "Ali", "phone": "09121234567", "quantity": "4"}, ["quantity"], id="over-quantity"
        ),
        pytest.param(
            {"name": "Ali", "phone": "09121234567", "quantity": "-1"}, ["quantity"], id="negative-qty"
        ),
        pytest.param({"name": "x" * 101, "phone": "09121234567"}, ["name"], id="long-name"),
    ],
)
def test_bad_checkout_form_rerenders_with_errors_and_writes_nothing(
    api, merchant, gateways, aws, form, fields
):
    # Given a link of which a buyer may take up to 3
    code = api.post_json("/v1/links", {**GOOD, "max_quantity": 3}, key=TEST_API_KEY).json()["code"]
    before = table_items(aws)
    calls = len(gateways.calls("a"))
    # When the buyer posts a bad form
    answer = api.post_form(f"/{code}", form)
    # Then the form comes back (400) with each field marked, no gateway asked and nothing written
    assert answer.status == 400
    assert "text/html" in answer.headers["Content-Type"]
    invalid = re.findall(r'<(?:input|textarea)[^>]*name="([a-z]+)"[^>]*aria-invalid="true"', answer.text)
    assert sorted(invalid) == sorted(fields)
    assert len(gateways.calls("a")) == calls
    assert table_items(aws) == before


def test_checkout_of_unknown_code_is_404_page(api, aws):
    answer = api.post_form("/nosuchcode00", {"name": "Ali", "phone": "09121234567"})
    assert answer.status == 404
    assert "text/html" in answer.headers["Content-Type"]


@pytest.mark.parametrize(
    "target",
    [
        "/callback/nosuchgateway?trackId=1",
        "/callback/sandbox-a?trackId=notdigits",
        "/callback/sandbox-a",
        "/r/pay_nosuch",
    ],
)
def test_bad_returns_and_receipts_are_4xx_pages_that_change_nothing(api, aws, target):
    # Given the table as it is
    before = table_items(aws)
    # When a bad return or an unknown receipt is requested
    answer = api.get(target)
    # Then it is a 4xx page, and nothing changed but, for a return, the record of the attempt
    assert 400 <= answer.status < 500
    assert "text/html" in answer.headers["Content-Type"]
    after = [item for item in table_items(aws) if not item["pk"].startswith("RETURN#")]
    assert after == before


DEEP = 100_000
DEEP_BODIES = {
    "arrays": b"[" * DEEP + b"]" * DEEP,
    "objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "metadata-just-past-the-limit": b'{"title":"Scarf","amount":1200000,"metadata":'
    + b'{"k":' * 40
    + b'"v"'
    + b"}" * 41,
}
JSON_ROUTES = [("POST", "/v1/links"), ("PATCH", "/v1/links/{code}"), ("POST", "/v1/coupons"),
               ("POST", "/v1/links/{code}/send")]  # fmt: skip


@pytest.mark.parametrize("idempotency", [False, True], ids=["plain", "with-idempotency-key"])
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
@pytest.mark.parametrize(("method", "route"), JSON_ROUTES, ids=[f"{m} {r}" for m, r in JSON_ROUTES])
def test_json_nested_too_deep_is_400_on_every_json_route(
    api, merchant, aws, method, route, body, idempotency
):
    # Given a link, and the table as it is
    code = api.post_json("/v1/links", GOOD, key=TEST_API_KEY).json()["code"]
    before = table_items(aws)
    headers = {"content-type": "application/json", "authorization": f"Bearer {TEST_API_KEY}"}
    if idempotency:
        headers["Idempotency-Key"] = "deep-1"
    # When a body nested far too deep is sent
    answer = api.request(method, route.format(code=code), body=body, headers=headers)
    # Then it is a 400 validation error on the body, and nothing was written
    assert answer.status == 400, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert "body" in error["fields"], error
    assert table_items(aws) == before
