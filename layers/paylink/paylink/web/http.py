"""Small helpers the thin handlers share: JSON and HTML answers, headers, base URL, form bodies.

Powertools and the settings (pydantic) are imported where used: the click path
(paylink.web.click) takes its page headers from here without loading either.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

    from paylink.core.errors import PaylinkError

JSON = "application/json"
HTML = "text/html; charset=utf-8"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
# Pages: the Referer and a real Origin go to our own origin only (a same-origin form post then
# carries `Origin: <ours>`, not `null`, for browsers without Fetch Metadata); nothing leaves for
# other sites, the gateways included (paylink.web.origins.refuses_form_post).
PAGE_REFERRER_POLICY = "same-origin"
# Answers that are not pages (JSON, CSV, redirects) may load and run nothing, nor be framed.
NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
NON_PAGE_HEADERS = {"Content-Security-Policy": NO_CONTENT_POLICY, **SECURITY_HEADERS}
# The one script of our pages, post_redirect.html's auto-submit, allowed by its hash
# (tests/unit/test_security_headers.py keeps the two in step): no other script can run.
AUTO_SUBMIT_SCRIPT_HASH = "'sha256-JmTfOugxougankTjmzP4xlDw8H4NvdffKaRdUFnaoX4='"
# A QR code in SVG is a document a browser can open: scripts in it must never run.
IMAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **NON_PAGE_HEADERS, **(headers or {})},
    )


def error_response(exc: PaylinkError) -> Response[str]:
    retry = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds else None
    return json_response(exc.status, exc.to_body(), retry)


RETRY_AFTER_SECONDS = 30


def failed_on_our_side(exc: Exception) -> Response[str]:
    """A merchant API request that failed on our side, in the contract's error shape instead of API
    Gateway's bare `Internal Server Error`: logged with its exception for the operator; 503 with
    `Retry-After` when AWS or a provider failed (a throttled table, a timeout: trying again is the
    cure), 500 otherwise. Nothing of the failure is said beyond that."""
    import httpx
    from botocore.exceptions import BotoCoreError, ClientError

    from paylink.core.observability import logger

    logger.exception("request failed", extra={"error": type(exc).__name__})
    if isinstance(exc, BotoCoreError | ClientError | httpx.HTTPError | TimeoutError | ConnectionError):
        body = {"error": {"code": "unavailable", "message": "temporarily unavailable; try again shortly"}}
        return json_response(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return json_response(
        500, {"error": {"code": "internal_error", "message": "something went wrong on our side"}}
    )


def gateway_origins() -> list[str]:
    """Origins of the configured gateways: where our pages may send a form."""
    from paylink.payments.routing import configured_gateways
    from paylink.web.origins import origin_of

    origins: list[str] = []
    for _, base_url in configured_gateways():
        origin = origin_of(base_url)
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def page_policy(origins: list[str] | None = None) -> str:
    """The Content-Security-Policy of our pages: nothing from elsewhere, our one script by its hash,
    never framed, and forms posted only to us and the gateways (`origins`, else the configured ones)."""
    origins = gateway_origins() if origins is None else origins
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        f"script-src {AUTO_SUBMIT_SCRIPT_HASH}; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self' {' '.join(origins)}".strip()
    )


def page_headers(policy: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers of an HTML page under the Content-Security-Policy `policy`."""
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        **SECURITY_HEADERS,
        "Referrer-Policy": PAGE_REFERRER_POLICY,
        **(headers or {}),
    }


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(
        status_code=status, content_type=HTML, body=html, headers=page_headers(page_policy(), headers)
    )


def redirect(location: str) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(
        status_code=303,
        content_type="text/plain",
        body="",
        headers={"Location": location, "Cache-Control": "no-store", **NON_PAGE_HEADERS},
    )


def base_url(event: Any) -> str:
    """Our public origin: configured, else the API's own domain as API Gateway reports it."""
    from paylink.core.settings import get_settings

    configured = get_settings().public_base_url.rstrip("/")
    if configured:
        return configured
    return f"https://{event.request_context.domain_name}"


def raw_body(event: Any) -> str:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body).decode("utf-8", errors="replace")
    return str(body)


def form_fields(event: Any) -> dict[str, str]:
    """A url-encoded form body as a dict (the first value of a repeated field wins)."""
    fields: dict[str, str] = {}
    for key, value in parse_qsl(raw_body(event), keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


def json_body(event: Any) -> Any:
    """The JSON body, or a validation error that says it is not JSON (or is nested too deep)."""
    from paylink.core.errors import ValidationFailed
    from paylink.core.json_input import TooDeep, loads

    text = raw_body(event)
    if not text.strip():
        raise ValidationFailed("the body is empty; send a JSON object", fields={"body": "required"})
    try:
        return loads(text)
    except TooDeep as exc:
        raise ValidationFailed("the body is nested too deep", fields={"body": str(exc)}) from None
    except ValueError as exc:
        raise ValidationFailed("the body is not valid JSON", fields={"body": "not valid JSON"}) from exc


def query(event: Any) -> dict[str, str]:
    return dict(event.get("queryStringParameters") or {})
