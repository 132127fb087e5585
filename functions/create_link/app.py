"""Merchant API: links, QR codes, payments and settlements (read)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink import merchant_api
from paylink.errors import PaylinkError
from paylink.http import error_response, json_body, json_response, query
from paylink.idempotency import idempotent
from paylink.models import Merchant
from paylink.observability import logger

app = APIGatewayHttpResolver()


def _merchant() -> Merchant:
    known: Merchant | None = app.context.get("merchant")  # set by the idempotency middleware, if it ran
    if known is not None:
        return known
    return merchant_api.authenticate(app.current_event.headers.get("authorization"))


@app.post("/v1/links", middlewares=[idempotent])
def create_link() -> Response[str]:
    return json_response(
        201, merchant_api.create_link(_merchant(), json_body(app.current_event), app.current_event)
    )


@app.get("/v1/links")
def list_links() -> Response[str]:
    return json_response(
        200, merchant_api.list_links(_merchant(), query(app.current_event), app.current_event)
    )


@app.get("/v1/links/<code>")
def get_link(code: str) -> Response[str]:
    return json_response(200, merchant_api.get_link(_merchant(), code, app.current_event))


@app.patch("/v1/links/<code>", middlewares=[idempotent])
def update_link(code: str) -> Response[str]:
    body = json_body(app.current_event)
    return json_response(200, merchant_api.update_link(_merchant(), code, body, app.current_event))


@app.post("/v1/coupons", middlewares=[idempotent])
def create_coupon() -> Response[str]:
    return json_response(201, merchant_api.create_coupon(_merchant(), json_body(app.current_event)))


@app.get("/v1/coupons")
def list_coupons() -> Response[str]:
    return json_response(200, merchant_api.list_coupons(_merchant(), query(app.current_event)))


@app.post("/v1/links/<code>/send", middlewares=[idempotent])
def send_invoice(code: str) -> Response[str]:
    body = json_body(app.current_event)
    return json_response(200, merchant_api.send_invoice(_merchant(), code, body, app.current_event))


@app.get("/v1/payments")
def list_payments() -> Response[str]:
    return merchant_api.list_payments(_merchant(), query(app.current_event))


@app.get("/v1/payments/<payment_id>")
def get_payment(payment_id: str) -> Response[str]:
    return json_response(200, merchant_api.get_payment(_merchant(), payment_id))


@app.get("/v1/settlements")
def list_settlements() -> Response[str]:
    return merchant_api.list_settlements(_merchant(), query(app.current_event))


@app.get("/v1/settlements/<settlement_id>")
def get_settlement(settlement_id: str) -> Response[str]:
    return merchant_api.get_settlement(_merchant(), settlement_id, query(app.current_event))


@app.get("/u/<username>/qr.svg")
def personal_qr_svg(username: str) -> Response[str]:
    return merchant_api.personal_qr(username, "svg", app.current_event)


@app.get("/u/<username>/qr.png")
def personal_qr_png(username: str) -> Response[str]:
    return merchant_api.personal_qr(username, "png", app.current_event)


@app.get("/<code>/qr.svg")
def qr_svg(code: str) -> Response[str]:
    return merchant_api.qr(code, "svg", app.current_event)


@app.get("/<code>/qr.png")
def qr_png(code: str) -> Response[str]:
    return merchant_api.qr(code, "png", app.current_event)


@app.exception_handler(PaylinkError)
def domain_error(exc: PaylinkError) -> Response[str]:
    return error_response(exc)


@app.not_found
def no_route(_: Exception) -> Response[str]:
    return error_response(merchant_api.NotFound("no such route"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
