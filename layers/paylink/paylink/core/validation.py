"""Turn pydantic errors into the `fields` map of the HTTP contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from paylink.core.errors import ValidationFailed


def fields_from(exc: ValidationError) -> dict[str, str]:
    """One readable message per field; model-level messages name their field as `field: message`."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not loc and ": " in message:
            name, message = message.split(": ", 1)
            loc = [name]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        if error["type"] == "int_type" and isinstance(error.get("input"), float | str):
            message = "must be a whole number of rials"
        key = ".".join(loc) or "body"
        fields.setdefault(key, message)
    return fields


def parse[M: BaseModel](model: type[M], data: Any) -> M:
    """Validate `data` into `model`, or raise ValidationFailed with field errors."""
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected a JSON object"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("some fields are not valid", fields=fields_from(exc)) from exc
