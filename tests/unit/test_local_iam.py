"""local/iam.py: a function's AWS calls are held to what template.yaml grants it, as deployed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.iam import REFUSED, acting_as, install, required, table_grants
from local.template import create_buckets, create_queues, create_tables, load_template


@pytest.fixture(autouse=True)
def refusals_expected() -> Iterator[None]:
    """These tests are refused on purpose (tests/conftest.py fails any other test refused)."""
    yield
    REFUSED.clear()


def test_a_transaction_needs_each_items_own_action_and_a_query_its_place():
    items: list[dict[str, Any]] = [{"Put": {}}, {"Update": {}}, {"ConditionCheck": {}}, {"Delete": {}}]
    assert required("TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", "table"), ("dynamodb:UpdateItem", "table"),
        ("dynamodb:ConditionCheckItem", "table"), ("dynamodb:DeleteItem", "table"),
    ]  # fmt: skip
    assert required("Query", {"IndexName": "gsi1"}) == [("dynamodb:Query", "indexes")]
    assert required("Query", {}) == [("dynamodb:Query", "table")]
    assert required("BatchGetItem", {}) == [("dynamodb:BatchGetItem", "table")]


def test_the_grants_are_read_from_the_template():
    grants = table_grants(load_template())
    assert ("dynamodb:GetItem", "table") in grants["CheckoutFunction"]
    assert ("dynamodb:Query", "indexes") not in grants["CheckoutFunction"]
    assert ("dynamodb:Query", "indexes") in grants["SettleFunction"]


def test_a_function_is_refused_what_its_role_lacks_and_nothing_else_is_held():
    install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = create_tables(client, load_template(), prefix="iam")["PaylinkTable"]
        key = {"pk": {"S": "LINK#x"}, "sk": {"S": "LINK"}}
        # Given a function whose role may not query indexes nor delete (the checkout)
        with acting_as("CheckoutFunction"):
            # Then what it may do passes, and what it may not is refused as AWS refuses it
            client.get_item(TableName=table, Key=key)
            with pytest.raises(ClientError) as refused:
                client.delete_item(TableName=table, Key=key)
            assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
            with pytest.raises(ClientError):
                client.query(
                    TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                    ExpressionAttributeValues={":p": {"S": "x"}},
                )  # fmt: skip
        # And outside any function (a test's own setup) nothing is held
        client.delete_item(TableName=table, Key=key)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The template's queues and buckets and two secrets in moto, named to the functions as
    template.yaml names them (environment variables)."""
    install()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        queues = create_queues(sqs, load_template(), prefix="iam")
        buckets = create_buckets(s3, load_template(), prefix="iam")
        for name in ("/paylink/test/GatewayCredentials", "/paylink/test/PanelKey"):
            ssm.put_parameter(Name=name, Value="x", Type="SecureString")
        env = {
            "SETTLE_QUEUE_URL": queues["SettleQueue"],
            "NOTIFY_QUEUE_URL": queues["NotifyQueue"],
            "EXPORT_QUEUE_URL": queues["ExportQueue"],
            "ARCHIVE_BUCKET": buckets["ArchiveBucket"],
            "EXPORT_BUCKET": buckets["ExportBucket"],
            "PAYLINK_GATEWAY_CREDENTIALS_PARAMETER": "/paylink/test/GatewayCredentials",
            "PAYLINK_PANEL_KEY_PARAMETER": "/paylink/test/PanelKey",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield {"sqs": sqs, "s3": s3, "ssm": ssm, **queues, **buckets}


def _refused(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(refused.value.response["Error"]["Code"])


def test_a_queue_send_is_held_to_the_queue_the_role_names(cloud):
    sqs = cloud["sqs"]
    # Given the settle fan-out, whose role may send to the settle queue only (SQSSendMessagePolicy)
    with acting_as("SettleFunction"):
        # Then its send there passes, and a send to another queue is refused as SQS refuses it
        sqs.send_message(QueueUrl=cloud["SettleQueue"], MessageBody="{}")
        assert (
            _refused(sqs.send_message, QueueUrl=cloud["SettleDeadLetterQueue"], MessageBody="{}")
            == "AccessDenied"
        )
        # And it may not read its own queue: it only sends
        assert _refused(sqs.receive_message, QueueUrl=cloud["SettleQueue"]) == "AccessDenied"
    # And outside any function nothing is held
    sqs.send_message(QueueUrl=cloud["NotifyQueue"], MessageBody="{}")


def test_an_event_source_polls_its_own_queue_and_no_other(cloud):
    sqs = cloud["sqs"]
    sqs.send_message(QueueUrl=cloud["SettleQueue"], MessageBody="{}")
    # Given the settle worker's role: AWS's managed poller policy on every queue, a Deny on all but its own
    with acting_as("SettleWorkerFunction", refs={"SettleQueue": cloud["SettleQueue"]}):
        [message] = sqs.receive_message(QueueUrl=cloud["SettleQueue"])["Messages"]
        assert _refused(sqs.receive_message, QueueUrl=cloud["NotifyQueue"]) == "AccessDenied"
        # And it may not make a message visible again (not in the managed policy, granted nowhere)
        handle = message["ReceiptHandle"]
        code = _refused(
            sqs.change_message_visibility,
            QueueUrl=cloud["SettleQueue"],
            ReceiptHandle=handle,
            VisibilityTimeout=5,
        )
        assert code == "AccessDenied"
        sqs.delete_message(QueueUrl=cloud["SettleQueue"], ReceiptHandle=handle)


def test_a_bucket_call_is_held_to_the_bucket_prefix_and_action_granted(cloud):
    s3, archive, exports = cloud["s3"], cloud["ArchiveBucket"], cloud["ExportBucket"]
    # Given the archive function, which may read and write the archive bucket's payments/ only
    with acting_as("ArchiveFunction"):
        s3.put_object(Bucket=archive, Key="payments/a.jsonl.gz", Body=b"x")
        assert s3.get_object(Bucket=archive, Key="payments/a.jsonl.gz")["Body"].read() == b"x"
        # Then another prefix, another bucket and a delete are refused
        assert _refused(s3.put_object, Bucket=archive, Key="other/a", Body=b"x") == "AccessDenied"
        assert _refused(s3.put_object, Bucket=exports, Key="exports/a", Body=b"x") == "AccessDenied"
        assert _refused(s3.delete_object, Bucket=archive, Key="payments/a.jsonl.gz") == "AccessDenied"
        # And it may list the archive bucket (unconditioned: a missing key's 404 needs it), not another
        s3.list_objects_v2(Bucket=archive, Prefix="payments/mer_x/")
        assert _refused(s3.list_objects_v2, Bucket=exports, Prefix="exports/") == "AccessDenied"
        # And a missing key is a 404 to it, since it may list the bucket
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=archive, Key="payments/missing.jsonl.gz")
    # Given the export function, which may write exports but never list nor read them back
    with acting_as("ExportFunction"):
        s3.put_object(Bucket=exports, Key="exports/job.csv", Body=b"x")
        assert _refused(s3.get_object, Bucket=exports, Key="exports/job.csv") == "AccessDenied"
        # And a presigned link is signed with the role's authority: refused what it may not read
        assert _refused(
            s3.generate_presigned_url, "get_object", Params={"Bucket": exports, "Key": "exports/job.csv"}
        )
    # Given the merchant API, which may read exports but not list the export bucket
    with acting_as("CreateLinkFunction"):
        assert s3.generate_presigned_url("get_object", Params={"Bucket": exports, "Key": "exports/job.csv"})
        # Then a missing key is refused (403), as S3 answers a reader who may not list, not NoSuchKey
        assert _refused(s3.get_object, Bucket=exports, Key="exports/missing.csv") == "AccessDenied"


def test_a_secret_is_read_only_by_the_functions_that_name_it(cloud):
    ssm = cloud["ssm"]
    with acting_as("CheckoutFunction"):
        ssm.get_parameter(Name="/paylink/test/GatewayCredentials", WithDecryption=True)
        assert _refused(ssm.get_parameter, Name="/paylink/test/PanelKey") == "AccessDeniedException"
    with acting_as("PanelFunction"):
        ssm.get_parameter(Name="/paylink/test/PanelKey", WithDecryption=True)


def test_a_parameter_named_from_the_stage_is_read_in_that_stage_only(cloud, monkeypatch):
    ssm = cloud["ssm"]
    for stage in ("test", "prod"):
        ssm.put_parameter(Name=f"/paylink/{stage}/payout/api-key", Value="k", Type="SecureString")
    # Given the settle worker's payout key, granted as /paylink/${Stage}/payout/api-key
    monkeypatch.setenv("PAYLINK_STAGE", "test")
    monkeypatch.setenv("PAYLINK_PAYOUT_API_KEY_PARAM", "/paylink/test/payout/api-key")
    with acting_as("SettleWorkerFunction"):
        # Then its own stage's key is read, another stage's is refused
        ssm.get_parameter(Name="/paylink/test/payout/api-key", WithDecryption=True)
        assert _refused(ssm.get_parameter, Name="/paylink/prod/payout/api-key") == "AccessDeniedException"


def test_a_resource_named_by_a_variable_the_function_is_not_given_is_refused(cloud, monkeypatch):
    sqs = cloud["sqs"]
    # Given the checkout, which template.yaml gives no NOTIFY_QUEUE_URL (nor a send policy)
    with acting_as("CheckoutFunction"):
        assert _refused(sqs.send_message, QueueUrl=cloud["NotifyQueue"], MessageBody="{}") == "AccessDenied"
    # Given the settle worker run with its own environment, which lacks SETTLE_QUEUE_URL:
    # the queue is known by its event source only, and a send by name is refused
    own = {"NOTIFY_QUEUE_URL": cloud["NotifyQueue"]}
    with acting_as("SettleWorkerFunction", own), pytest.raises(ClientError):
        sqs.send_message(QueueUrl=cloud["SettleQueue"], MessageBody="{}")


def test_the_policy_templates_are_expanded_as_sam_expands_them():
    # SAM's own policy templates (in the tools' venv, where sam validate runs): ours must match.
    import json
    from pathlib import Path

    from local.iam import POLICY_TEMPLATES

    found = sorted(
        Path(".venv-tools").glob(
            "lib/python*/site-packages/samtranslator/policy_templates_data/policy_templates.json"
        )
    )
    if not found:
        pytest.skip("samtranslator is not installed in .venv-tools")
    sam = json.loads(found[0].read_text())["Templates"]
    for name, (parameter, expansion) in POLICY_TEMPLATES.items():
        statements = sam[name]["Definition"]["Statement"]
        assert [sorted(s["Action"]) for s in statements] == [sorted(a) for a, _ in expansion], name
        for statement, (_, resources) in zip(statements, expansion, strict=True):
            theirs = [r if isinstance(r, str) else r["Fn::Sub"][0] for r in _listed(statement["Resource"])]
            assert theirs == resources, name
            for r in _listed(statement["Resource"]):
                if isinstance(r, dict):
                    assert list(r["Fn::Sub"][1].values()) == [{"Ref": parameter}], name


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
