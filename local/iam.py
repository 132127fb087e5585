"""Each function's DynamoDB permissions, as template.yaml grants them, enforced locally.

moto allows every call, so a function whose role lacks an action works here and is refused once
deployed (AccessDeniedException). While a function runs (`acting_as`), a DynamoDB call it would
not be allowed is refused here the same way: a missing grant fails a test, not a deployment.
Only the table's actions are checked (inline statements on the table and on its indexes, both
branches of an `Fn::If` counting as granted); other services are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

TABLE = str({"Fn::GetAtt": ["PaylinkTable", "Arn"]})
INDEXES = str({"Fn::Sub": "${PaylinkTable.Arn}/index/*"})
# TransactWriteItems needs, per item, the action of that kind of write.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}

_acting: ContextVar[str | None] = ContextVar("paylink_local_function", default=None)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every inline statement of a function's policies, both branches of an `Fn::If` included."""
    for policy in function["Properties"].get("Policies", []):
        branches = policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]
        for branch in branches:
            if isinstance(branch, dict):
                yield from branch.get("Statement", [])


def table_grants(template: dict[str, Any]) -> dict[str, frozenset[tuple[str, str]]]:
    """function id -> the (action, "table" | "indexes") pairs its role allows on the table."""
    grants: dict[str, frozenset[tuple[str, str]]] = {}
    for function_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        found: set[tuple[str, str]] = set()
        for statement in statements(resource):
            if statement.get("Effect") != "Allow":
                continue
            for where in _listed(statement.get("Resource")):
                kind = {TABLE: "table", INDEXES: "indexes"}.get(str(where))
                if kind:
                    found |= {(str(action), kind) for action in _listed(statement["Action"])}
        grants[function_id] = frozenset(found)
    return grants


def required(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """What a DynamoDB call needs: IAM checks each item of a transaction as its own kind of write."""
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", "table")
            for item in params.get("TransactItems", [])
            for kind in item
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", "table")]
    if operation in ("Query", "Scan") and params.get("IndexName"):
        return [(f"dynamodb:{operation}", "indexes")]
    return [(f"dynamodb:{operation}", "table")]


@contextlib.contextmanager
def acting_as(function_id: str) -> Iterator[None]:
    """Run as `function_id`: its DynamoDB calls are held to its role (see install)."""
    token = _acting.set(function_id)
    try:
        yield
    finally:
        _acting.reset(token)


@cache
def install() -> None:
    """Hold every boto3 DynamoDB call made while a function is acting to that function's grants."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from local.template import load_template

    grants = table_grants(load_template())
    send = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs

    def checked(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        function_id = _acting.get()
        if function_id is not None and self.meta.service_model.service_name == "dynamodb":
            allowed = grants.get(function_id, frozenset())
            for action, where in required(operation_name, api_params):
                if (action, where) not in allowed:
                    message = (
                        f"{function_id} is not authorized to perform: {action} on the "
                        f"{'indexes of the ' if where == 'indexes' else ''}table (template.yaml)"
                    )
                    error = {"Error": {"Code": "AccessDeniedException", "Message": message}}
                    raise ClientError(error, operation_name)  # type: ignore[arg-type]
        return send(self, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", checked)  # noqa: B010
