"""A stack deployed without EmailSender does not offer email: a clear 400 naming it, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import reset_caches

PAYER = {"name": "Sara Ahmadi", "phone": "09121234567", "email": "sara@example.com"}


@pytest.fixture
def invoice(api, merchant, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PAYLINK_EMAIL_SENDER", raising=False)  # the template's default: empty
    reset_caches()
    body = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": PAYER,
            "due_date": "2026-03-10"}  # fmt: skip
    answer = api.post_json("/v1/links", body, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()


def _sent():  # type: ignore[no-untyped-def]
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    region = "us-east-1"
    return (
        list(sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values()),
        list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages),
    )


def test_sending_by_email_without_a_sender_is_a_400_naming_email(api, invoice):
    # When the merchant sends the invoice by email on a stack without an email sender
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["email"]}, key=TEST_API_KEY)
    # Then the answer is a 400 on via that names the channel (it was a 500)
    assert answer.status == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert "email is not offered" in error["fields"]["via"]
    assert _sent() == ([], [])


def test_sms_and_email_together_send_nothing_when_email_is_not_offered(api, invoice):
    # A half-done send (the SMS out, then a failure) is what the merchant could not tell apart
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms", "email"]}, key=TEST_API_KEY)
    assert answer.status == 400
    assert _sent() == ([], [])


def test_sms_alone_still_goes(api, invoice):
    answer = api.post_json(f"/v1/links/{invoice['code']}/send", {"via": ["sms"]}, key=TEST_API_KEY)
    assert answer.status == 200, answer.text
    sms, mails = _sent()
    assert (len(sms), mails) == (1, [])


def test_reminders_go_by_sms_only_without_a_sender(api, invoice):
    from functions.remind.app import lambda_handler
    from local.run import LambdaContext
    from local.template import functions, load_template

    # When the reminders of the day before the due date run
    function = functions(load_template())["RemindFunction"]
    result = lambda_handler({"scheduled_time": "2026-03-09T06:30:00Z"}, LambdaContext(function))
    # Then the payer is reminded by SMS, and no email is tried
    assert result["sent"] == [f"{invoice['code']}:before_1"]
    sms, mails = _sent()
    assert (len(sms), mails) == (1, [])


def test_the_api_document_offers_sms_alone_without_a_sender(api, invoice):
    from paylink.web import openapi

    openapi._DOCUMENT = None  # the document is built once per container: this one has no sender
    try:
        document = api.get("/v1/openapi.json").json()
    finally:
        openapi._DOCUMENT = None
    via = document["components"]["schemas"]["InvoiceSend"]["properties"]["via"]
    assert (via["items"]["enum"], via["maxItems"]) == (["sms"], 1)
