"""template.yaml: each function is granted what its code uses, on the narrowest resource AWS allows."""

from __future__ import annotations

from typing import Any

import pytest

from local.iam import statements, table_grants
from local.template import load_template, queue_sources

ITEM_ACTIONS = {
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
}  # fmt: skip


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Every inline statement of a function, those under an `If` (either branch) included."""
    return list(statements(resource))


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(template: dict[str, Any], function_id: str) -> frozenset[tuple[str, str]]:
    """(action, "table" | "indexes") pairs a function is allowed on the table (what local/iam.py enforces)."""
    return table_grants(template)[function_id]


def test_no_function_asks_for_an_item_action_on_an_index(template):
    # An index serves Query only: an item action granted there is a grant nobody can use.
    for function_id in _functions(template):
        wrong = {action for action, where in _grants(template, function_id) if where == "indexes"}
        assert not wrong & ITEM_ACTIONS, function_id


def test_no_function_may_query_the_base_table(template):
    # Every query of the code goes to an index (paylink/store.py: _query_page and _query_all).
    for function_id in _functions(template):
        assert ("dynamodb:Query", "table") not in _grants(template, function_id), function_id


def test_a_function_that_may_query_an_index_may_read_the_items_behind_its_keys(template):
    # The indexes hold keys only (issue 18): every query of one reads the items it lists with
    # BatchGetItem on the table (paylink.store.table `_query_index`). Without that grant a deployed
    # function's every list (the reconciler's waiting payments, GET /v1/payments, the settle run's
    # merchants...) is refused, which moto, granting everything, never shows.
    for function_id in _functions(template):
        grants = _grants(template, function_id)
        if ("dynamodb:Query", "indexes") in grants:
            assert ("dynamodb:BatchGetItem", "table") in grants, function_id


def test_only_the_functions_that_pay_out_may_check_a_condition_in_a_transaction(template):
    # The one ConditionCheck of the code: a bank batch line waits for the day's file. Settlements
    # pay out in the settle worker; a refund's transfer where the payer names the card (the refund
    # page), where a read asks about it (API, panel) and in the reconciler's refund work.
    checkers = {
        function_id
        for function_id in _functions(template)
        if ("dynamodb:ConditionCheckItem", "table") in _grants(template, function_id)
    }
    assert checkers == {"SettleWorkerFunction", "CreateLinkFunction", "PanelFunction", "ReconcileFunction"}


WRITES_AND_LISTS = {"BatchGetItem", "GetItem", "PutItem", "UpdateItem", "Query@"}


@pytest.mark.parametrize(
    ("function_id", "grants"),
    [
        ("CheckoutFunction", {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"}),
        # DeleteItem: a refused claim on a gateway reference (store.release_reference)
        ("CallbackFunction", {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}),
        # DeleteItem: a refund payer's replaced link token (store.replace_refund_token);
        # ConditionCheckItem: a refund's transfer attempt by bank batch (store.add_batch_line)
        (
            "ReconcileFunction",
            {*WRITES_AND_LISTS, "DeleteItem", "ConditionCheckItem"},
        ),
        (
            "NotifyWorkerFunction",
            {"BatchGetItem", "GetItem", "PutItem", "UpdateItem", "Query@"},
        ),  # Query: a merchant's Telegram chats; UpdateItem: a webhook's tries
        ("TelegramBotFunction", {"BatchGetItem", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query@"}),
        (
            "SettleWorkerFunction",
            {"BatchGetItem", "GetItem", "PutItem", "UpdateItem", "ConditionCheckItem", "Query@"},
        ),
        ("ProbeFunction", {"BatchGetItem", "UpdateItem"}),
        (
            "CreateLinkFunction",
            {*WRITES_AND_LISTS, "DeleteItem", "ConditionCheckItem"},
        ),
        ("RemindFunction", {"BatchGetItem", "GetItem", "PutItem", "Query@"}),
        ("SettleFunction", {"BatchGetItem", "Query@"}),
        # DeleteItem: unlinking a Telegram chat from the settings page (store.unlink_telegram_chat)
        (
            "PanelFunction",
            {*WRITES_AND_LISTS, "DeleteItem", "ConditionCheckItem"},
        ),
        ("ExportFunction", {"BatchGetItem", "GetItem", "UpdateItem", "Query@"}),
    ],
)
def test_a_function_is_granted_exactly_what_its_code_calls(template, function_id, grants):
    found = {
        action.removeprefix("dynamodb:") + ("@" if where == "indexes" else "")
        for action, where in _grants(template, function_id)
    }
    assert found == grants


def test_sns_publish_reaches_phone_numbers_only(template):
    # Given each function that may publish to SNS
    for function_id, resource in _functions(template).items():
        statements = _statements(resource)
        allowed = [s for s in statements if s["Effect"] == "Allow" and "sns:Publish" in _listed(s["Action"])]
        if not allowed:
            continue
        # Then the publish is denied on every SNS ARN (topics, platform endpoints): SMS only
        denied = [s for s in statements if s["Effect"] == "Deny" and "sns:Publish" in _listed(s["Action"])]
        every_sns_arn = {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}
        assert [d["Resource"] for d in denied] == [every_sns_arn], function_id


def test_each_queue_consumer_may_read_and_delete_only_its_own_queue(template):
    # Given the SQS event sources (SAM attaches AWS's managed poller policy, which names every queue)
    for source in queue_sources(template):
        statements = _statements(_functions(template)[source.function_id])
        # Then an explicit Deny takes every other queue back
        [deny] = [s for s in statements if s["Effect"] == "Deny" and "sqs:ReceiveMessage" in s["Action"]]
        assert {"sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= set(deny["Action"])
        assert deny["NotResource"] == {"Fn::GetAtt": [source.queue_id, "Arn"]}


def test_email_is_granted_only_with_a_sender_and_only_from_it(template):
    for function_id, resource in _functions(template).items():
        for policy in resource["Properties"].get("Policies", []):
            text = str(policy)
            if "ses:SendEmail" not in text:
                continue
            assert policy["Fn::If"][0] == "HasEmailSender", function_id
            [statement] = policy["Fn::If"][1]["Statement"]
            assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "EmailSender"}}}


def test_only_the_export_worker_may_write_an_export(template):
    # The export bucket's objects are written in parts by the export worker alone (paylink.exports.jobs
    # run_job: MultipartObject, abort_upload); the API and the panel queue a job and presign its
    # object. A role that may write there could replace another merchant's CSV behind its link.
    from local.iam import PSEUDO, Request, allowed, policy_statements

    refs = {**PSEUDO, "ExportBucket": "exports", "ExportBucket.Arn": "arn:aws:s3:::exports"}
    an_export = "arn:aws:s3:::exports/exports/mer_x/exp_y/payments.csv"
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"):
        writers = {
            function_id
            for function_id, resource in _functions(template).items()
            if allowed(list(policy_statements(resource)), Request(action, an_export), refs)
        }
        assert writers == ({"ExportFunction"} if action != "s3:DeleteObject" else set()), action
