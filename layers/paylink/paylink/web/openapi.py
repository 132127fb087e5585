"""What the merchant API's routes declare for its OpenAPI document, and the document itself.

The domain stays the one that validates (paylink.core.validation, merchant_api), so answers and their error
fields are exactly the contract's: parameters are documented with their real types but passed on as
sent (`described`), request bodies are the domain's input models, answers are paylink.web.api_schema's
models. Schemas are named here and built only when the document is asked for (cold start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import PlainValidator

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.openapi.types import (
        OpenAPIResponse,
        OpenAPIResponseContentSchema,
    )

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
COMPONENTS = "#/components/schemas/"
SECURITY_SCHEME = "bearerAuth"
BEARER: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]

ERRORS = {
    400: (
        "Bad input: a bad field or filter, or a body that is not JSON or is nested deeper than "
        "32 levels; `fields` names each field (or `body`) and what is wrong with it."
    ),
    401: "No valid API key in `Authorization: Bearer ...`.",
    404: "No such object of this merchant (another merchant's answers the same).",
    409: "A conflicting change, or the first request with this `Idempotency-Key` still running.",
    410: "The link can no longer be paid.",
    422: "This `Idempotency-Key` was used with another body; or (`export_too_large`) a CSV export too"
    " large for a deployment without export jobs: narrow it with `from` and `to`.",
    503: (
        "`notifications_off`: this deployment sends no notifications; `bot_unavailable`: it has no"
        " Telegram bot, or Telegram did not answer."
    ),
}
# Powertools' own validation answer and its parts: never answered here (the domain validates).
POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _as_sent(value: Any) -> Any:
    return value


def described(schema_of: Any) -> PlainValidator:
    """A parameter documented as `schema_of` and passed on as sent: the domain validates it."""
    return PlainValidator(_as_sent, json_schema_input_type=schema_of)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def request_body(schema: str) -> dict[str, Any]:
    """`openapi_extensions` of a route whose JSON body is the `schema` model (the domain validates it)."""
    return {"requestBody": {"required": True, "content": {JSON: {"schema": _ref(schema)}}}}


def no_content(*errors: int) -> dict[int, OpenAPIResponse]:
    """An authenticated operation that answers 204 with no body, and its errors."""
    found = answers(204, "ErrorBody", *errors)
    found[204] = {"description": "Done; no body."}
    return found


def answers(
    status: int,
    schema: str,
    *errors: int,
    csv: bool = False,
    rate_limited: bool = False,
    created: str | None = None,
) -> dict[int, OpenAPIResponse]:
    """An authenticated operation's responses: `status` with the `schema` model (or CSV), and its errors;
    `rate_limited`: its 429 may also be paylink's own `rate_limited`, with `Retry-After`; `created`:
    it may also answer 201 with that model (a PUT that created its object)."""
    ok: OpenAPIResponse = {"description": "OK", "content": {JSON: {"schema": _ref(schema)}}}
    if csv:
        ok = {
            "description": "JSON by default; one CSV document with `format=csv`.",
            "content": {JSON: {"schema": _ref(schema)}, CSV: {"schema": {"type": "string"}}},
        }
    found: dict[int, OpenAPIResponse] = {status: ok}
    if created:
        found[201] = {"description": "Created", "content": {JSON: {"schema": _ref(created)}}}
    if csv:
        found[202] = {
            "description": "A CSV export larger than answers inline (1 MB): an export job, written by a"
            " worker; `GET /v1/exports/{id}` (the `Location`) answers its status and, once done, a"
            " short-lived link to the document.",
            "headers": {"Location": {"description": "`/v1/exports/{id}`.", "schema": {"type": "string"}}},
            "content": {JSON: {"schema": _ref("ExportJob")}},
        }
    for code in sorted({*errors, 401}):
        found[code] = {"description": ERRORS[code], "content": {JSON: {"schema": _ref("ErrorBody")}}}
    found[429] = {
        "description": "Throttled by API Gateway.",
        "content": {JSON: {"schema": _ref("Throttled")}},
    }
    if rate_limited:
        found[429] = {
            "description": "`rate_limited`: the day's limit of this operation is reached (or API "
            "Gateway throttled the route).",
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the limit's window opens again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "content": {JSON: {"schema": {"anyOf": [_ref("ErrorBody"), _ref("Throttled")]}}},
        }
    return found


def image_answers() -> dict[int, OpenAPIResponse]:
    """A public QR code image, or 404."""
    binary: OpenAPIResponseContentSchema = {"schema": {"type": "string", "format": "binary"}}
    return {
        200: {"description": "The QR code.", "content": {"image/svg+xml": binary, "image/png": binary}},
        404: {"description": ERRORS[404], "content": {JSON: {"schema": _ref("ErrorBody")}}},
    }


def complete(document: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Powertools' generated document with our models' `schemas` added and its own 422 taken out.

    Raises ValueError when a `$ref` names no schema: a route declared a model that does not exist.
    """
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(schemas)
    for name in POWERTOOLS_ONLY:
        components.pop(name, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if _names_powertools_error(responses.get("422")):
                del responses["422"]
    missing = sorted({ref.removeprefix(COMPONENTS) for ref in _refs(document)} - set(components))
    if missing:
        raise ValueError(f"the OpenAPI document names schemas it does not have: {missing}")
    return document


def _names_powertools_error(response: dict[str, Any] | None) -> bool:
    schema = (response or {}).get("content", {}).get(JSON, {}).get("schema", {})
    return str(schema.get("$ref", "")).removeprefix(COMPONENTS) in POWERTOOLS_ONLY


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


_DOCUMENT: dict[str, Any] | None = None


def openapi_document(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The merchant API's OpenAPI document, generated from `app`'s routes once per container."""
    global _DOCUMENT
    if _DOCUMENT is None:
        import json

        from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

        from paylink.web.api_schema import component_schemas

        generated = app.get_openapi_json_schema(
            title="paylink merchant API",
            version="1",
            description="Payment links for small merchants. Amounts are integer rials.",
            security_schemes={SECURITY_SCHEME: HTTPBearer(description="The merchant's API key.")},
        )
        _DOCUMENT = _offered_channels(complete(json.loads(generated), component_schemas()))
    return _DOCUMENT


def _offered_channels(document: dict[str, Any]) -> dict[str, Any]:
    """A deployment without an email sender does not offer email: its document lists SMS alone."""
    from paylink.notify.messages import notifiers

    offered = [channel for channel in ("sms", "email") if channel in notifiers()]
    schemas = document.get("components", {}).get("schemas", {})
    for name, field in (("InvoiceSend", "via"), ("InvoiceSent", "sent")):
        items = schemas.get(name, {}).get("properties", {}).get(field, {}).get("items")
        if isinstance(items, dict) and "enum" in items:
            items["enum"] = [channel for channel in items["enum"] if channel in offered]
    via = schemas.get("InvoiceSend", {}).get("properties", {}).get("via")
    if isinstance(via, dict) and "maxItems" in via:
        via["maxItems"] = len(offered)
    return document
