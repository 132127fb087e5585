"""Gateway returns (verified server to server) and receipts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import logged, traced
from paylink.web import hosted
from paylink.web.http import form_fields, query

app = APIGatewayHttpResolver()


@app.get("/callback/<gateway>")
def gateway_return_get(gateway: str) -> Response[str]:
    return hosted.gateway_return(gateway, query(app.current_event), {})


@app.post("/callback/<gateway>")
def gateway_return_post(gateway: str) -> Response[str]:
    return hosted.gateway_return(gateway, query(app.current_event), form_fields(app.current_event))


@app.get("/r/<payment_id>")
def receipt(payment_id: str) -> Response[str]:
    return hosted.receipt_page(payment_id, query(app.current_event).get("lang"))


@app.exception_handler(Exception)
def failed(exc: Exception) -> Response[str]:
    return hosted.failed_on_our_side(app.current_event.raw_event, exc)


@app.not_found
def no_route(_: Exception) -> Response[str]:
    return hosted.error_page(404, "not_found", hosted.language(query(app.current_event)))


@logged(http=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


@logged()
@traced
def reconcile_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled every 5 minutes: decide payments stuck between redirect and verification."""
    return hosted.reconcile_now(event or {})


@logged()
@traced
def probe_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled every minute: probe each gateway's health."""
    return hosted.probe_now(event or {})
