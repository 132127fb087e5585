"""A stack deployed without PublicBaseUrl: the probe and the reminders still have an absolute URL."""

from __future__ import annotations

from typing import Any

import pytest

from local.run import LambdaContext
from local.template import conditions, functions, load_template, resolve
from tests.helpers import reset_caches

API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
DUE = "2026-03-10"


def _deployed_without_public_base_url(monkeypatch: pytest.MonkeyPatch, function_id: str) -> Any:
    """`function_id`'s PUBLIC_BASE_URL as the template gives it with every URL parameter empty."""
    template = load_template()
    refs = {"PublicBaseUrl": "", "DomainName": "", "EmailSender": "", "AlarmTopicArn": "",
            "HttpApi": "abc123", "AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
    refs.update(conditions(template, refs))
    function = functions(template)[function_id]
    monkeypatch.setenv("PUBLIC_BASE_URL", resolve(function.environment["PUBLIC_BASE_URL"], refs))
    reset_caches()
    return function


def test_the_probe_runs_and_gives_gateways_the_apis_own_callback_url(aws, gateways, monkeypatch):
    # Given a stack deployed without PublicBaseUrl (and no custom domain)
    function = _deployed_without_public_base_url(monkeypatch, "ProbeFunction")
    before = len(gateways.calls("a"))
    # When the minute probe runs
    from functions.callback.app import probe_handler

    result = probe_handler({"scheduled_time": "2026-03-10T06:30:00Z"}, LambdaContext(function))
    # Then it probed the gateways (it used to skip every run) with the API's own callback URL
    assert "skipped" not in result
    assert result["gateways"]["sandbox-a"] == "ok"
    [create] = [c for c in gateways.calls("a")[before:] if c["path"].endswith("/v1/request")]
    assert create["body"]["callbackUrl"] == f"{API_URL}/callback/sandbox-a"


def test_reminders_carry_the_apis_own_absolute_link(aws, merchant, gateways, monkeypatch, api):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from tests.conftest import TEST_API_KEY

    # Given an invoice due on 10 March and a stack deployed without PublicBaseUrl
    payer = {"name": "Sara", "phone": "09121234567"}
    body = {"title": "Design", "kind": "invoice", "amount": 4_500_000, "payer": payer, "due_date": DUE}
    code = api.post_json("/v1/links", body, key=TEST_API_KEY).json()["code"]
    function = _deployed_without_public_base_url(monkeypatch, "RemindFunction")
    # When the reminders of 9 March run
    from functions.remind.app import lambda_handler

    result = lambda_handler({"scheduled_time": "2026-03-09T06:30:00Z"}, LambdaContext(function))
    # Then the payer's SMS holds the link's full URL on the API's own domain
    assert result["sent"] == [f"{code}:before_1"]
    [(_, text)] = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
    assert f"{API_URL}/{code}" in text


def test_without_any_base_url_no_reminder_goes_out_with_a_relative_link(aws, merchant, monkeypatch, api):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from tests.conftest import TEST_API_KEY

    payer = {"name": "Sara", "phone": "09121234567"}
    body = {"title": "Design", "kind": "invoice", "amount": 4_500_000, "payer": payer, "due_date": DUE}
    assert api.post_json("/v1/links", body, key=TEST_API_KEY).status == 201
    # Given a function whose PUBLIC_BASE_URL is empty (not as the template deploys it)
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    reset_caches()
    from functions.remind.app import lambda_handler

    function = functions(load_template())["RemindFunction"]
    result = lambda_handler({"scheduled_time": "2026-03-09T06:30:00Z"}, LambdaContext(function))
    # Then it says why it sent nothing, and nothing was sent
    assert "PUBLIC_BASE_URL" in result["skipped"]
    assert not sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
