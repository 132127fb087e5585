"""template.yaml: what an operator needs to look back (logs kept for a stated time, access logs,
undelivered schedules kept), the table guarded, the export bucket private, the public URL known."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import conditions, functions, load_template, resolve, schedules

SECRET_VARIABLES = ("$context.path", "$request.", "$context.authorizer", "header", "querystring", "body")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_every_function_logs_to_a_group_of_the_stack_with_a_retention(template):
    groups = _resources(template, "AWS::Logs::LogGroup")
    for function_id, resource in _resources(template, "AWS::Serverless::Function").items():
        # Lambda's own /aws/lambda/<name> group would be created without a retention, kept forever
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups, function_id
    for group_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, group_id
    assert template["Parameters"]["LogRetentionInDays"]["Default"] == 90


def test_the_http_api_writes_one_json_access_line_per_request_without_secrets(template):
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    line = json.loads(settings["Format"])
    # Then the request id, route, status, latency and source address are there
    assert line["requestId"] == "$context.requestId"
    assert line["routeKey"] == "$context.routeKey"
    assert line["status"] == "$context.status"
    assert line["latencyMs"] == "$context.responseLatency"
    assert line["sourceIp"] == "$context.identity.sourceIp"
    # and nothing that may carry a secret or an id: no raw path, query, header or body
    for variable in SECRET_VARIABLES:
        assert variable not in settings["Format"], variable


def test_every_schedule_retries_and_dead_letters_what_it_cannot_deliver(template):
    for function_id, resource in _resources(template, "AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "ScheduleV2":
                continue
            props = event["Properties"]
            assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}}
            assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1, function_id
            assert 60 <= props["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86_400, function_id


def test_a_daily_run_that_keeps_failing_is_kept_and_an_alarm_fires(template):
    daily = {s.function_id for s in schedules(template) if s.expression.startswith("cron(")}
    assert daily == {"SettleFunction", "RemindFunction", "ArchiveFunction"}
    for function_id in daily:
        config = template["Resources"][function_id]["Properties"]["EventInvokeConfig"]
        on_failure = config["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS"
        assert on_failure["Destination"] == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    alarm = template["Resources"]["ScheduleDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_table_is_retained_and_protected_from_deletion(template):
    table = template["Resources"]["PaylinkTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_the_export_bucket_is_private_encrypted_and_forgets_within_a_day(template):
    bucket = template["Resources"]["ExportBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["ExpirationInDays"]) == ("Enabled", 1)
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # Only the merchant API writes there, and only under exports/
    env = functions(template)["CreateLinkFunction"].environment
    assert env["EXPORT_BUCKET"] == {"Ref": "ExportBucket"}


def _base_urls(template: dict[str, Any], **parameters: str) -> dict[str, str]:
    # Parameters left out take their defaults (empty URL parameters).
    refs = {"HttpApi": "abc123", "AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com", **parameters}
    refs.update(conditions(template, refs))
    found = functions(template)
    return {fid: resolve(fn.environment["PUBLIC_BASE_URL"], refs) for fid, fn in found.items()}


def test_without_a_public_base_url_the_scheduled_functions_get_the_apis_own_url(template):
    urls = _base_urls(template)
    # The probe and the reminders have no request to read a domain from: the API's URL
    assert urls["ProbeFunction"] == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    assert urls["RemindFunction"] == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    # The functions behind the API take the domain of each request (they cannot name the API)
    assert urls["CreateLinkFunction"] == urls["CheckoutFunction"] == urls["CallbackFunction"] == ""


def test_a_custom_domain_is_every_functions_base_url(template):
    urls = _base_urls(template, DomainName="pay.example.com")
    assert set(urls.values()) == {"https://pay.example.com"}


def test_a_configured_public_base_url_wins(template):
    urls = _base_urls(template, PublicBaseUrl="https://shop.example", DomainName="pay.example.com")
    assert set(urls.values()) == {"https://shop.example"}


def test_the_custom_domain_is_mapped_to_the_api_only_when_given(template):
    resources = template["Resources"]
    assert resources["ApiDomainName"]["Condition"] == "HasDomainName"
    assert resources["ApiMapping"]["Condition"] == "HasDomainName"
    assert resources["ApiMapping"]["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    [config] = resources["ApiDomainName"]["Properties"]["DomainNameConfigurations"]
    assert config["CertificateArn"] == {"Ref": "CertificateArn"}
    [assertion] = template["Rules"]["CustomDomainNeedsCertificate"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
