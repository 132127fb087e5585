"""The checkout function's router: the hosted pages and the start of a payment.

app.py sends a click (`GET /{code}`) to paylink.web.click and loads this module for everything
else (and for a click that failed there), on first use.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import logged
from paylink.web import hosted
from paylink.web.http import form_fields, query

app = APIGatewayHttpResolver()


@app.get("/u/<username>")
def personal_page(username: str) -> Response[str]:
    return hosted.personal_page(username, hosted.language(query(app.current_event)))


@app.post("/u/<username>")
def personal_payment(username: str) -> Response[str]:
    form = form_fields(app.current_event)
    lang = hosted.language({**form, **query(app.current_event)})
    return hosted.personal_submit(username, form, lang, app.current_event)


@app.get("/<code>")
def link_page(code: str) -> Response[str]:
    return hosted.link_page(code, hosted.language(query(app.current_event)))


@app.post("/<code>")
def start_payment(code: str) -> Response[str]:
    form = form_fields(app.current_event)
    lang = hosted.language({**form, **query(app.current_event)})
    return hosted.submit(code, form, lang, app.current_event)


@app.exception_handler(Exception)
def failed(exc: Exception) -> Response[str]:
    return hosted.failed_on_our_side(app.current_event.raw_event, exc)


@app.not_found
def no_route(_: Exception) -> Response[str]:
    return hosted.error_page(404, "not_found", hosted.language(query(app.current_event)))


@logged(http=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
