"""`Idempotency-Key` on the merchant API's state-changing routes (Powertools idempotency).

A request with the header is run once per merchant, method, path and key for a day: a retry with the
same body gets the first answer again (with `Idempotent-Replayed: true`), another body gets a 422, and
a retry while the first still runs gets a retryable 409. Answers of 4xx/5xx are not remembered, so a
merchant can fix the body and send it again with the same key. Powertools is imported only when a
request carries the header.

A route whose answer holds a secret kept nowhere else (a new API key: only its SHA-256 is stored)
names it with `forget(app, "key")`: the record keeps that field as null, so the table never holds
the secret in clear and a replay answers the same object without it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from paylink.core.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed
from paylink.core.models import Merchant
from paylink.web import merchant_api
from paylink.web.http import raw_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEEP_SECONDS = 86_400
KEY_PREFIX = "merchant-api"
REPLAYED_HEADER = "Idempotent-Replayed"
FORGOTTEN = "idempotency_forgotten_fields"


def forget(app: APIGatewayHttpResolver, *fields: str) -> None:
    """Keep these top-level fields of the route's JSON answer out of its replay record."""
    app.append_context(**{FORGOTTEN: fields})


class _NotRemembered(Exception):
    """Carries a failed answer out of the idempotent call, so Powertools forgets the key."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__(response.status_code)
        self.response = response


def idempotent(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Route middleware: runs the route once per `Idempotency-Key`; without the header, just runs it."""
    key = app.current_event.headers.get(HEADER)
    if key is None:
        return next_middleware(app)
    merchant = _authenticated(app)
    _check_key(key)
    event = app.current_event
    request = {
        # What the record's key is hashed from: never the Authorization header.
        "scope": "\n".join((merchant.id, event.http_method, event.path, key)),
        "body": _comparable_body(raw_body(event)),
    }
    return _run_once(app, merchant.id, request, lambda: next_middleware(app))


def _authenticated(app: APIGatewayHttpResolver) -> Merchant:
    """The merchant (401 before any record is written), kept for the route so it asks only once."""
    merchant = merchant_api.authenticate(app.current_event.headers.get("authorization"))
    app.append_context(merchant=merchant)
    return merchant


def _check_key(key: str) -> None:
    if not key.strip():
        raise ValidationFailed("the Idempotency-Key header is empty", fields={HEADER: "must not be empty"})
    if len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ValidationFailed(
            "the Idempotency-Key header is not a valid key",
            fields={HEADER: f"at most {MAX_KEY_LENGTH} printable ASCII characters"},
        )


def _comparable_body(text: str) -> Any:
    """The body as JSON when it is JSON, so key order and spacing do not make it another body."""
    from paylink.core.json_input import loads

    try:
        return loads(text) if text.strip() else None
    except ValueError:  # not JSON, or nested too deep: compared as sent (the route answers 400)
        return text


def _run_once(
    app: APIGatewayHttpResolver,
    merchant_id: str,
    request: dict[str, Any],
    route: Callable[[], Response[Any]],
) -> Response[Any]:
    """The route's answer, run at most once per scope; a replay says so in a header."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyInconsistentStateError,
        IdempotencyValidationError,
    )

    from paylink.store.idempotency import idempotency_persistence

    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="body",
        expires_after_seconds=KEEP_SECONDS,
        hash_function="sha256",
    )
    # An in-flight record of a request that died with its Lambda frees the key when the Lambda times out.
    config.register_lambda_context(app.lambda_context)
    ran = False
    first: Response[Any] | None = None

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=idempotency_persistence(merchant_id),
        config=config,
        key_prefix=KEY_PREFIX,
    )
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal ran, first
        ran = True
        response = route()
        if response.status_code >= 400:
            raise _NotRemembered(response)
        first = response
        return _to_record(response, app.context.get(FORGOTTEN) or ())

    try:
        recorded = answer(request=request)
    except _NotRemembered as failed:
        return failed.response
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another body; use a new key for a new request",
            fields={HEADER: "already used with another body"},
        ) from exc
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError) as exc:
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            fields={HEADER: "in progress"},
        ) from exc
    if ran and first is not None:  # the first answer as the route made it (with any secret in it)
        return first
    response = _from_record(recorded)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _to_record(response: Response[Any], forgotten: tuple[str, ...] = ()) -> dict[str, Any]:
    body = response.body
    if body is not None and not isinstance(body, str):  # the merchant API answers JSON text
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if forgotten and body:
        answer = json.loads(body)
        answer.update(dict.fromkeys(set(forgotten) & set(answer)))
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return {"status": response.status_code, "headers": dict(response.headers), "body": body}


def _from_record(record: dict[str, Any]) -> Response[Any]:
    return Response(status_code=int(record["status"]), body=record["body"], headers=dict(record["headers"]))
