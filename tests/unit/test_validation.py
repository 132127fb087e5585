"""paylink.core.validation.parse: pydantic errors become the `fields` map of the HTTP contract."""

from __future__ import annotations

from typing import Any

import pytest

from paylink.core.errors import ValidationFailed
from paylink.core.models import LinkCreate, LinkUpdate
from paylink.core.validation import parse


def failure(model: Any, data: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        parse(model, data)
    return exc.value


def test_valid_body_returns_the_model():
    # Given a valid body
    # When parsed
    link = parse(LinkCreate, {"title": "Notebook", "amount": 250_000})
    # Then the model comes back
    assert isinstance(link, LinkCreate)
    assert link.amount == 250_000


def test_field_error_is_keyed_by_the_field_name():
    # Given an amount below the minimum
    # When parsed
    error = failure(LinkCreate, {"title": "Notebook", "amount": 10})
    # Then the fields map names amount only
    assert list(error.fields) == ["amount"]
    assert "1000" in error.fields["amount"]


def test_float_amount_says_whole_number_of_rials():
    # Given an amount with a fraction
    # When parsed
    error = failure(LinkCreate, {"title": "Notebook", "amount": 12.5})
    # Then the message speaks of rials, not of Python types
    assert error.fields == {"amount": "must be a whole number of rials"}


def test_string_amount_says_whole_number_of_rials():
    # Given an amount sent as a string
    # When parsed
    error = failure(LinkCreate, {"title": "Notebook", "amount": "1000"})
    # Then the same readable message
    assert error.fields == {"amount": "must be a whole number of rials"}


def test_nested_field_error_uses_a_dotted_key():
    # Given an invoice whose payer's phone is malformed
    body = {"title": "Invoice", "kind": "invoice", "amount": 5_000, "payer": {"name": "Sara", "phone": "x"}}
    # When parsed
    error = failure(LinkCreate, body)
    # Then the key is payer.phone
    assert list(error.fields) == ["payer.phone"]


def test_model_level_error_lands_under_the_field_it_names():
    # Given an item without amount (a model-level check)
    # When parsed
    error = failure(LinkCreate, {"title": "Notebook"})
    # Then the message sits under amount, without the "amount: " prefix or pydantic's "Value error, "
    assert error.fields == {"amount": "required for an item or an invoice"}


def test_model_level_error_of_link_update_lands_under_active():
    # Given a PATCH with active null
    # When parsed
    error = failure(LinkUpdate, {"active": None})
    # Then it lands under active
    assert error.fields == {"active": "must not be null"}


def test_model_level_error_without_a_field_lands_under_body():
    # Given an empty PATCH, whose message names no single field
    # When parsed
    error = failure(LinkUpdate, {})
    # Then it lands under body (not under a bogus key made from the message's own words)
    assert list(error.fields) == ["body"]
    assert error.fields["body"].startswith("nothing to change")


def test_unknown_field_says_unknown_field():
    # Given an unknown field
    # When parsed
    error = failure(LinkCreate, {"title": "Notebook", "amount": 5_000, "colour": "red"})
    # Then it is reported as unknown under its own name
    assert error.fields == {"colour": "unknown field"}


def test_several_field_errors_are_all_reported():
    # Given an empty title and a float amount
    # When parsed
    error = failure(LinkCreate, {"title": "", "amount": 1.5})
    # Then both fields are reported
    assert set(error.fields) == {"title", "amount"}


@pytest.mark.parametrize("body", [[], "text", None, 42], ids=["list", "string", "null", "number"])
def test_non_object_body_is_refused_under_body(body):
    # Given a JSON body that is not an object
    # When parsed
    error = failure(LinkCreate, body)
    # Then the error is a validation error under body
    assert error.fields == {"body": "expected a JSON object"}


def test_validation_failed_is_a_400_with_a_stable_code():
    # Given any refused body
    error = failure(LinkCreate, {"title": "Notebook"})
    # Then it is a 400 validation_error
    assert error.status == 400
    assert error.code == "validation_error"


def test_error_body_has_the_contract_shape():
    # Given a refused body
    error = failure(LinkCreate, {"title": "Notebook", "amount": 10})
    # When turned into the HTTP body
    body = error.to_body()
    # Then it is {"error": {"code", "message", "fields"}}
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}  # type: ignore[arg-type]
    assert body["error"]["code"] == "validation_error"  # type: ignore[index]
    assert body["error"]["fields"] == {"amount": error.fields["amount"]}  # type: ignore[index]
    assert isinstance(body["error"]["message"], str)  # type: ignore[index]
