"""local/iam.py: a function's DynamoDB calls are held to what template.yaml grants it, as deployed."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.iam import acting_as, install, required, table_grants
from local.template import create_tables, load_template


def test_a_transaction_needs_each_items_own_action_and_a_query_its_place():
    items = [{"Put": {}}, {"Update": {}}, {"ConditionCheck": {}}, {"Delete": {}}]
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
