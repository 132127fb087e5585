"""Merchant API: links, QR codes, payments and settlements (read) and their CSV export jobs, the
webhook endpoint, API keys, Telegram chats."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.errors import PaylinkError
from paylink.core.models import Merchant, PaymentStatus
from paylink.core.observability import logged
from paylink.web import merchant_api
from paylink.web.http import (
    error_response,
    failed_on_our_side,
    form_fields,
    json_body,
    json_response,
    query,
    raw_body,
)
from paylink.web.idempotency import forget, idempotent
from paylink.web.openapi import (
    BEARER,
    answers,
    described,
    image_answers,
    no_content,
    openapi_document,
    request_body,
)

# Validation on: Powertools reads each route's declared parameters. They are declared for the OpenAPI
# document and passed on as sent (`described`); the domain reads the request and validates it, so its
# 400s and their fields are the contract's.
app = APIGatewayHttpResolver(enable_validation=True)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retries with the same key and body run once (24 h)."),
    described(str),
]
Cursor = Annotated[
    str | None,
    Query(
        description="`next_cursor` of the previous page. A filtered page may hold fewer items than a"
        " page, even none, and still a `next_cursor`: the list ends only when `next_cursor` is null."
    ),
    described(str),
]
Format = Annotated[
    str | None, Query(description="`csv` for a CSV document."), described(Literal["json", "csv"])
]
Day = described(date)
REMINDERS_SPENT: OpenAPIResponse = {
    "description": "`too_many_reminders`: the payer was reminded 3 times already (or API Gateway "
    "throttled the route).",
    "content": {"application/json": {"schema": {"anyOf": [
        {"$ref": "#/components/schemas/ErrorBody"}, {"$ref": "#/components/schemas/Throttled"}
    ]}}},
}  # fmt: skip


def _seconds_left() -> float | None:
    """What this invocation may still take (a large CSV export stops in time, with a clear answer)."""
    context = getattr(app, "lambda_context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else None


def _merchant() -> Merchant:
    known: Merchant | None = app.context.get("merchant")  # set by the idempotency middleware, if it ran
    if known is not None:
        return known
    return merchant_api.authenticate(app.current_event.headers.get("authorization"))


@app.post(
    "/v1/links",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("LinkCreate"),
    responses=answers(201, "LinkOut", 400, 409, 422),
)
def create_link(idempotency_key: IdempotencyKey = None) -> Response[str]:
    return json_response(
        201, merchant_api.create_link(_merchant(), json_body(app.current_event), app.current_event)
    )


@app.get("/v1/links", security=BEARER, responses=answers(200, "LinkPage", 400))
def list_links(cursor: Cursor = None) -> Response[str]:
    return json_response(
        200, merchant_api.list_links(_merchant(), query(app.current_event), app.current_event)
    )


@app.get("/v1/links/<code>", security=BEARER, responses=answers(200, "LinkOut", 404))
def get_link(code: str) -> Response[str]:
    return json_response(200, merchant_api.get_link(_merchant(), code, app.current_event))


@app.patch(
    "/v1/links/<code>",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("LinkUpdate"),
    responses=answers(200, "LinkOut", 400, 404, 409, 422),
)
def update_link(code: str, idempotency_key: IdempotencyKey = None) -> Response[str]:
    body = json_body(app.current_event)
    return json_response(200, merchant_api.update_link(_merchant(), code, body, app.current_event))


@app.post(
    "/v1/coupons",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("CouponCreate"),
    responses=answers(201, "CouponOut", 400, 409, 422),
)
def create_coupon(idempotency_key: IdempotencyKey = None) -> Response[str]:
    return json_response(201, merchant_api.create_coupon(_merchant(), json_body(app.current_event)))


@app.get("/v1/coupons", security=BEARER, responses=answers(200, "CouponPage", 400))
def list_coupons(cursor: Cursor = None) -> Response[str]:
    return json_response(200, merchant_api.list_coupons(_merchant(), query(app.current_event)))


@app.post(
    "/v1/links/<code>/send",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("InvoiceSend"),
    responses=answers(200, "InvoiceSent", 400, 404, 409, 410, 422, rate_limited=True),
)
def send_invoice(code: str, idempotency_key: IdempotencyKey = None) -> Response[str]:
    body = json_body(app.current_event)
    return json_response(200, merchant_api.send_invoice(_merchant(), code, body, app.current_event))


@app.get("/v1/payments", security=BEARER, responses=answers(200, "PaymentPage", 400, 404, 422, csv=True))
def list_payments(
    link: Annotated[str | None, Query(description="Only this link's payments."), described(str)] = None,
    status: Annotated[str | None, Query(), described(PaymentStatus)] = None,
    since: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD."), Day] = None,
    until: Annotated[str | None, Query(alias="to", description="Last day, YYYY-MM-DD."), Day] = None,
    cursor: Cursor = None,
    format: Format = None,
) -> Response[str]:
    return merchant_api.list_payments(_merchant(), query(app.current_event), _seconds_left())


@app.get("/v1/payments/<payment_id>", security=BEARER, responses=answers(200, "PaymentOut", 404))
def get_payment(payment_id: str) -> Response[str]:
    return json_response(200, merchant_api.get_payment(_merchant(), payment_id))


@app.post(
    "/v1/payments/<payment_id>/refunds",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("RefundCreate"),
    responses=answers(201, "RefundOut", 400, 404, 409, 422),
)
def create_refund(payment_id: str, idempotency_key: IdempotencyKey = None) -> Response[str]:
    # The body is optional: none refunds all that is left.
    body = json_body(app.current_event) if raw_body(app.current_event).strip() else {}
    return json_response(201, merchant_api.create_refund(_merchant(), payment_id, body, app.current_event))


@app.get("/v1/payments/<payment_id>/refunds", security=BEARER, responses=answers(200, "RefundList", 404))
def list_refunds(payment_id: str) -> Response[str]:
    return json_response(200, merchant_api.list_refunds(_merchant(), payment_id, app.current_event))


@app.post(
    "/v1/payments/<payment_id>/refunds/<refund_id>/remind",
    middlewares=[idempotent],
    security=BEARER,
    responses=answers(200, "RefundOut", 400, 404, 409) | {429: REMINDERS_SPENT},
)
def remind_refund_payer(
    payment_id: str, refund_id: str, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    # No body: a new link to the payer of a refund awaiting them (at most 3 reminders).
    answer = merchant_api.remind_refund_payer(_merchant(), payment_id, refund_id, app.current_event)
    return json_response(200, answer)


@app.get("/v1/settlements", security=BEARER, responses=answers(200, "SettlementPage", 400, 422, csv=True))
def list_settlements(cursor: Cursor = None, format: Format = None) -> Response[str]:
    return merchant_api.list_settlements(_merchant(), query(app.current_event), _seconds_left())


@app.get(
    "/v1/settlements/<settlement_id>",
    security=BEARER,
    responses=answers(200, "SettlementWithPayments", 400, 404, 422, csv=True),
)
def get_settlement(settlement_id: str, format: Format = None) -> Response[str]:
    return merchant_api.get_settlement(_merchant(), settlement_id, query(app.current_event), _seconds_left())


@app.get("/v1/balance", security=BEARER, responses=answers(200, "BalanceOut"))
def get_balance() -> Response[str]:
    return json_response(200, merchant_api.get_balance(_merchant()))


@app.get("/v1/ledger", security=BEARER, responses=answers(200, "LedgerPage", 400, 422))
def list_ledger(
    since: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD."), Day] = None,
    until: Annotated[str | None, Query(alias="to", description="Last day, YYYY-MM-DD."), Day] = None,
    cursor: Cursor = None,
) -> Response[str]:
    return json_response(200, merchant_api.list_ledger(_merchant(), query(app.current_event)))


# ---- settings: the webhook endpoint and API keys -------------------------------------------------


@app.get("/v1/webhook", security=BEARER, responses=answers(200, "WebhookEndpoint", 404))
def get_webhook() -> Response[str]:
    return json_response(200, merchant_api.get_webhook(_merchant()))


@app.put(
    "/v1/webhook",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("WebhookSet"),
    responses=answers(200, "WebhookEndpoint", 400, 409, 422, created="WebhookEndpointWithSecret"),
)
def put_webhook(idempotency_key: IdempotencyKey = None) -> Response[str]:
    status, answer = merchant_api.put_webhook(_merchant(), json_body(app.current_event))
    return json_response(status, answer)


@app.delete("/v1/webhook", security=BEARER, responses=no_content(404))
def delete_webhook() -> Response[None]:
    merchant_api.delete_webhook(_merchant())
    return Response(status_code=204, body=None, headers={"Cache-Control": "no-store"})


@app.post(
    "/v1/webhook/rotate",
    middlewares=[idempotent],
    security=BEARER,
    responses=answers(200, "WebhookEndpointWithSecret", 400, 404, 409, 422),
)
def rotate_webhook(idempotency_key: IdempotencyKey = None) -> Response[str]:
    return json_response(200, merchant_api.rotate_webhook(_merchant()))


@app.post(
    "/v1/webhook/test",
    middlewares=[idempotent],
    security=BEARER,
    responses=answers(202, "WebhookTestQueued", 400, 404, 409, 422, 503),
)
def send_test_webhook(idempotency_key: IdempotencyKey = None) -> Response[str]:
    return json_response(202, merchant_api.send_test_webhook(_merchant()))


@app.get("/v1/webhook/deliveries", security=BEARER, responses=answers(200, "WebhookDeliveryPage", 400))
def webhook_deliveries(cursor: Cursor = None) -> Response[str]:
    return json_response(200, merchant_api.webhook_deliveries(_merchant(), query(app.current_event)))


@app.get("/v1/api-keys", security=BEARER, responses=answers(200, "ApiKeyList"))
def list_api_keys() -> Response[str]:
    return json_response(200, merchant_api.list_api_keys(_merchant()))


@app.post(
    "/v1/api-keys",
    middlewares=[idempotent],
    security=BEARER,
    openapi_extensions=request_body("ApiKeyCreate"),
    responses=answers(201, "ApiKeyCreated", 400, 409, 422),
)
def create_api_key(idempotency_key: IdempotencyKey = None) -> Response[str]:
    forget(app, "key")  # only the key's SHA-256 is kept: a replay shows its metadata, `key` null
    return json_response(201, merchant_api.create_api_key(_merchant(), json_body(app.current_event)))


@app.delete("/v1/api-keys/<key_id>", security=BEARER, responses=answers(200, "ApiKeyOut", 404, 409))
def revoke_api_key(key_id: str) -> Response[str]:
    return json_response(200, merchant_api.revoke_api_key(_merchant(), key_id))


@app.post("/v1/telegram/link", security=BEARER, responses=answers(201, "TelegramLink", 503))
def telegram_link() -> Response[str]:
    return json_response(201, merchant_api.telegram_link(_merchant()))


@app.get("/v1/telegram/chats", security=BEARER, responses=answers(200, "TelegramChats"))
def telegram_chats() -> Response[str]:
    return json_response(200, merchant_api.telegram_chats(_merchant()))


_UNLINKED: dict[int, OpenAPIResponse] = {
    204: {"description": "Unlinked: the chat gets no more notices or commands."}
}


@app.delete(
    "/v1/telegram/chats/<chat_id>",
    security=BEARER,
    responses={**_UNLINKED, **{k: v for k, v in answers(204, "TelegramChats", 404).items() if k != 204}},
)
def unlink_telegram_chat(chat_id: str) -> Response[str]:
    merchant_api.unlink_telegram_chat(_merchant(), chat_id)
    return Response(status_code=204, body="")


@app.get("/v1/exports/<export_id>", security=BEARER, responses=answers(200, "ExportJob", 404))
def get_export(export_id: str) -> Response[str]:
    return json_response(200, merchant_api.get_export(_merchant(), export_id))


# The payer's page of a transfer refund (public, HTML): not part of the merchant API's document.
@app.get("/refund/<token>", include_in_schema=False, enable_validation=False)
def refund_page(token: str) -> Response[Any]:
    from paylink.refunds import page
    from paylink.web.hosted import language

    return page.show(token, language(query(app.current_event)))


@app.post("/refund/<token>", include_in_schema=False, enable_validation=False)
def refund_submit(token: str) -> Response[Any]:
    from paylink.refunds import page
    from paylink.web.hosted import language

    form = form_fields(app.current_event)
    return page.submit(token, form, language(query(app.current_event)), app.current_event)


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    return json_response(200, openapi_document(app), {"Cache-Control": "public, max-age=300"})


# Images: Powertools would serialise the PNG bytes as JSON text; the only parameter is the path's.
@app.get("/u/<username>/qr.svg", responses=image_answers(), enable_validation=False)
def personal_qr_svg(username: str) -> Response[Any]:
    return merchant_api.personal_qr(username, "svg", app.current_event)


@app.get("/u/<username>/qr.png", responses=image_answers(), enable_validation=False)
def personal_qr_png(username: str) -> Response[Any]:
    return merchant_api.personal_qr(username, "png", app.current_event)


@app.get("/<code>/qr.svg", responses=image_answers(), enable_validation=False)
def qr_svg(code: str) -> Response[Any]:
    return merchant_api.qr(code, "svg", app.current_event)


@app.get("/<code>/qr.png", responses=image_answers(), enable_validation=False)
def qr_png(code: str) -> Response[Any]:
    return merchant_api.qr(code, "png", app.current_event)


@app.exception_handler(PaylinkError)
def domain_error(exc: PaylinkError) -> Response[str]:
    return error_response(exc)


@app.exception_handler(Exception)
def failed(exc: Exception) -> Response[str]:
    """Not a domain error: a failure on our side (the payer's refund page gets a page, not JSON)."""
    if str(app.current_event.raw_event.get("rawPath") or "").startswith("/refund/"):
        from paylink.web import hosted

        return hosted.failed_on_our_side(app.current_event.raw_event, exc)
    return failed_on_our_side(exc)


@app.not_found
def no_route(_: Exception) -> Response[str]:
    return error_response(merchant_api.NotFound("no such route"))


@logged(http=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
