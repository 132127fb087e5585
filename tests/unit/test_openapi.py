"""The OpenAPI document of the merchant API: complete, and its answer models exactly the domain's answers."""

from __future__ import annotations

import re

import pytest

from functions.create_link.app import app
from local.template import load_template, routes
from paylink.core.models import (
    Coupon,
    CouponKind,
    Link,
    LinkCreate,
    LinkKind,
    Payment,
    PaymentStatus,
    Settlement,
    SettlementStatus,
)
from paylink.merchants import coupons, links
from paylink.web import api_schema, merchant_api
from paylink.web.openapi import complete, openapi_document

NOW = "2026-12-01T10:00:00.000000Z"
LINK = Link(
    code="abcDEF123456", merchant_id="m_1", merchant_name="Shop", kind=LinkKind.INVOICE, title="Rent",
    description="December", amount=1_200_000, max_payments=1, expires_at="2027-01-01T00:00:00.000000Z",
    redirect_url="https://shop.example/done", payer={"name": "Ali", "phone": "09121234567"},
    due_date="2026-12-10", reference="INV-1", metadata={"order": "7"}, created_at=NOW, paid_count=1,
    paid_total=1_200_000, open_slots=0, merchant_per_payment_cap=10_000_000, merchant_daily_cap=30_000_000,
)  # fmt: skip
PAYMENT = Payment(
    id="pay_1", merchant_id="m_1", link_code=LINK.code, link_title="Rent", merchant_name="Shop",
    amount=1_080_000, status=PaymentStatus.PAID, gateway="sandbox-a", gateway_token="tok",
    gateway_reference="ref", card_mask="6037-****-1234", payer={"name": "Ali"}, created_at=NOW,
    redirected_at=NOW, paid_at=NOW, fee=16_200, net=1_063_800, gateway_refs={"x": "y"}, coupon="WELCOME",
    discount=120_000,
)  # fmt: skip
SETTLEMENT = Settlement(
    id="stl_1", merchant_id="m_1", date="2026-12-02", status=SettlementStatus.PAID, payment_count=1,
    gross=1_080_000, fee=16_200, net=1_063_800, iban="IR062960000000100324200001", payout_reference="p1",
    payout_attempts=1, created_at=NOW, submitted_at=NOW, paid_at=NOW,
)  # fmt: skip
COUPON = Coupon(
    code="WELCOME", merchant_id="m_1", kind=CouponKind.PERCENT, value=10, max_uses=5, uses=1,
    expires_at="2027-01-01T00:00:00.000000Z", links=[LINK.code], created_at=NOW,
)  # fmt: skip


@pytest.fixture(scope="module")
def document() -> dict:  # type: ignore[type-arg]
    return openapi_document(app)


def test_link_answer_model_has_exactly_the_fields_the_api_answers():
    # Given a link as the merchant API answers it
    answer = links.public_link(LINK, "https://pay.example")
    # Then the answer model takes it as it is (no field missing, none extra)
    assert api_schema.LinkOut.model_validate(answer).model_dump(mode="json") == answer


def test_payment_answer_model_has_exactly_the_fields_the_api_answers():
    # Given a paid payment as the merchant API answers it
    answer = merchant_api.public_payment(PAYMENT)
    # Then the answer model takes it as it is
    assert api_schema.PaymentOut.model_validate(answer).model_dump(mode="json") == answer


def test_settlement_answer_model_has_exactly_the_fields_the_api_answers():
    # Given a settlement with its payments as `GET /v1/settlements/{id}` answers it
    answer = {
        **merchant_api.public_settlement(SETTLEMENT),
        "payments": [merchant_api.public_payment(PAYMENT)],
    }
    # Then the answer model takes it as it is
    assert api_schema.SettlementWithPayments.model_validate(answer).model_dump(mode="json") == answer


def test_coupon_answer_model_has_exactly_the_fields_the_api_answers():
    # Given a coupon as the merchant API answers it
    answer = coupons.public_coupon(COUPON)
    # Then the answer model takes it as it is
    assert api_schema.CouponOut.model_validate(answer).model_dump(mode="json") == answer


def test_error_answer_model_takes_the_error_body_with_and_without_fields():
    # Given error bodies with and without field errors
    from paylink.core.errors import NotFound, ValidationFailed

    bodies = [
        ValidationFailed("bad", fields={"title": "required"}).to_body(),
        NotFound("no such link").to_body(),
    ]
    # Then the error model takes both
    for body in bodies:
        assert (
            api_schema.ErrorBody.model_validate(body).model_dump(mode="json", exclude_defaults=True) == body
        )


def test_document_has_every_merchant_api_route_of_the_template(document):
    # Given the routes template.yaml sends to the merchant API function (the document's own aside)
    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    wanted = {
        (r.method, shape(r.path))
        for r in routes(load_template())
        if r.function_id == "CreateLinkFunction"
        and r.path != "/v1/openapi.json"
        and not r.path.startswith("/refund/")  # the payer's refund page: HTML, not the merchant API
    }
    # Then the document has an operation for each, and no other
    found = {(method.upper(), shape(path)) for path, ops in document["paths"].items() for method in ops}
    assert found == wanted


def test_merchant_routes_need_the_bearer_key_and_qr_codes_do_not(document):
    # Given the document's operations
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # Then /v1 operations name the bearer scheme and the public QR codes name none
            assert (operation.get("security") == [{"bearerAuth": []}]) == path.startswith("/v1/"), path
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_link_body_is_the_domain_input_model(document):
    # Given the request body of POST /v1/links
    body = document["paths"]["/v1/links"]["post"]["requestBody"]
    # Then it is required, and it is LinkCreate's schema
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/LinkCreate"}
    assert set(document["components"]["schemas"]["LinkCreate"]["properties"]) == set(LinkCreate.model_fields)


def test_document_has_no_powertools_validation_error(document):
    # Given every response of every operation
    refs = str(document["paths"]) + str(document["components"])
    # Then none is Powertools' own 422 shape, which this API never answers
    assert "HTTPValidationError" not in refs


def test_a_route_naming_an_unknown_model_is_refused():
    # Given a generated document whose operation names a schema no model provides
    generated = {"paths": {"/x": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Nope"}}}}}}
    # When it is completed
    # Then it is refused with the missing name
    with pytest.raises(ValueError, match="Nope"):
        complete(generated, {})


def test_sending_an_invoice_documents_its_own_429_with_retry_after(document):
    # Given the send route's answers
    answer = document["paths"]["/v1/links/{code}/send"]["post"]["responses"]["429"]
    # Then a 429 is either paylink's rate_limited error or API Gateway's throttle, with Retry-After
    schema = answer["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/ErrorBody"} in schema["anyOf"]
    assert {"$ref": "#/components/schemas/Throttled"} in schema["anyOf"]
    assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"


@pytest.mark.parametrize("path", ["/v1/payments", "/v1/settlements", "/v1/settlements/{settlement_id}"])
def test_a_csv_export_documents_its_202_export_job_with_its_location(document, path):
    # Given an operation that answers CSV with format=csv
    answers = document["paths"][path]["get"]["responses"]
    # Then past the inline size it is a 202 with an export job and its Location, and no more a 303
    assert answers["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExportJob"
    }
    assert "Location" in answers["202"]["headers"]
    assert "303" not in answers


def test_an_export_jobs_status_is_documented_with_its_404(document):
    answers = document["paths"]["/v1/exports/{export_id}"]["get"]["responses"]
    assert answers["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExportJob"
    }
    assert "404" in answers


@pytest.mark.parametrize(
    "body",
    [
        {"id": "exp_1", "status": "pending", "rows": 0, "bytes": 0, "created_at": NOW},
        {"id": "exp_1", "status": "done", "rows": 2, "bytes": 300, "created_at": NOW, "url": "https://s3/x",
         "expires_at": NOW},
        {"id": "exp_1", "status": "failed", "rows": 0, "bytes": 0, "created_at": NOW, "error": "ask again"},
    ],
)  # fmt: skip
def test_export_job_model_takes_what_the_api_answers(body):
    assert api_schema.ExportJob.model_validate(body).model_dump(exclude_unset=True) == body


JSON_ROUTES = [("/v1/links", "post"), ("/v1/links/{code}", "patch"), ("/v1/coupons", "post"),
               ("/v1/links/{code}/send", "post")]  # fmt: skip


@pytest.mark.parametrize(("path", "method"), JSON_ROUTES)
def test_every_json_route_documents_its_400_for_a_body_nested_too_deep(document, path, method):
    answer = document["paths"][path][method]["responses"]["400"]
    assert "nested" in answer["description"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_ledger_answer_model_takes_what_the_api_answers():
    # Given a page of ledger entries as `GET /v1/ledger` answers it
    from paylink.settlement import ledger

    answer = {
        "items": [
            ledger._entry("payment", 1_000_000, NOW, "payment", "pay_1"),
            ledger._entry("fee", -15_000, NOW, "payment", "pay_1"),
            ledger._entry("refund", -300_000, NOW, "refund", "ref_1"),
            ledger._entry("reversal", 300_000, NOW, "refund", "ref_1"),
            ledger._entry("payout", -985_000, NOW, "settlement", "stl_1"),
        ],
        "next_cursor": None,
    }
    # Then the answer model takes it as it is
    assert api_schema.LedgerPage.model_validate(answer).model_dump(mode="json") == answer


def test_reminding_a_refunds_payer_documents_its_409_and_its_429_without_a_window(document):
    # Given the remind route's answers
    answers = document["paths"]["/v1/payments/{payment_id}/refunds/{refund_id}/remind"]["post"]["responses"]
    # Then 200 is the refund, 404 and 409 are errors, and 429 (the 3 reminders spent) names no Retry-After
    assert answers["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RefundOut"
    }
    assert {"400", "404", "409"} <= set(answers)  # 400: an empty Idempotency-Key
    assert "too_many_reminders" in answers["429"]["description"]
    assert "headers" not in answers["429"]
