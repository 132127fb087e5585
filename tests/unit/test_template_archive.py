"""template.yaml's payment archive (issue 18): a private bucket kept ten years, written by the
archive function alone, read by the functions that show or export payments, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import functions, load_template, schedules

ARCHIVE_OBJECTS = {"Fn::Sub": "${ArchiveBucket.Arn}/payments/*"}
ARCHIVE_BUCKET = {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}
READERS = {"CallbackFunction", "CreateLinkFunction", "PanelFunction", "ExportFunction"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _archive_actions(template: dict[str, Any], function_id: str) -> set[str]:
    """Actions a function is allowed on the archive bucket or its objects."""
    found: set[str] = set()
    for policy in template["Resources"][function_id]["Properties"].get("Policies", []):
        branches = policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]
        for branch in branches:
            for statement in branch.get("Statement", []) if isinstance(branch, dict) else []:
                resources = statement.get("Resource")
                resources = resources if isinstance(resources, list) else [resources]
                if statement["Effect"] == "Allow" and any(
                    r in (ARCHIVE_OBJECTS, ARCHIVE_BUCKET) for r in resources
                ):
                    actions = statement["Action"]
                    found |= set(actions if isinstance(actions, list) else [actions])
    return found


def test_the_archive_bucket_is_private_encrypted_versioned_and_kept_ten_years(template):
    resource = template["Resources"]["ArchiveBucket"]
    bucket = resource["Properties"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["ExpirationInDays"]) == ("Enabled", 3650)
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    policy = template["Resources"]["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]
    [tls] = policy["Statement"]
    assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": False}})


def test_only_the_archive_function_writes_the_archive_and_the_readers_only_read_it(template):
    for function_id in functions(template):
        actions = _archive_actions(template, function_id)
        if function_id == "ArchiveFunction":
            assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
        elif function_id in READERS:
            assert actions == {"s3:GetObject", "s3:ListBucket"}, function_id
        else:
            assert actions == set(), function_id


def test_the_functions_that_touch_the_archive_are_told_its_name(template):
    for function_id in READERS | {"ArchiveFunction"}:
        assert functions(template)[function_id].environment["ARCHIVE_BUCKET"] == {"Ref": "ArchiveBucket"}


def test_the_archive_runs_daily(template):
    [schedule] = [s for s in schedules(template) if s.function_id == "ArchiveFunction"]
    assert schedule.expression.startswith("cron(")
