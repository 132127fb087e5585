"""The local runner gives each function only its own template environment (Globals + its own
Variables, resolved) and what Lambda sets: a variable the template does not give a function is
missing locally as it would be deployed, whatever the runner's own process holds."""

from __future__ import annotations

import copy
import re
from typing import Any

from local.run import Invoker, function_environment, http_event
from local.template import conditions, functions, load_template
from tests.helpers import reset_caches

PLUMBING = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def _refs(table: str) -> dict[str, str]:
    refs = {
        "PaylinkTable": table,
        "PublicBaseUrl": "https://pay.example",
        "GatewaysConfig": "[]",
        "GatewayCredentialsParameter": "/paylink/test/gateway-credentials",
        "PanelKeyParameter": "/paylink/test/panel-key",
        "TelegramBotTokenParameter": "",
        "LogLevel": "INFO",
        "EmailSender": "",
        "SmsSenderId": "",
        "SmsProvider": "sns",
        "KavenegarApiKeyParameter": "",
        "KavenegarOtpTemplate": "paylink-otp",
        "KavenegarApiUrl": "https://api.kavenegar.com",
        "NotifyQueue": "https://sqs.local/notify",
        "NotifyDeadLetterQueue": "https://sqs.local/notify-dlq",
        "SettleQueue": "https://sqs.local/settle",
        "PayoutProvider": "sandbox",
        "Stage": "test",
        "PageCacheSeconds": "5",
        "ExportBucket": "exports",
        "ExportBucket.Arn": "arn:aws:s3:::exports",
        "ArchiveBucket": "archive",
        "ArchiveBucket.Arn": "arn:aws:s3:::archive",
        "HttpApi": "local",
        "AWS::Region": "us-east-1",
        "AWS::URLSuffix": "amazonaws.com",
    }
    return refs | conditions(load_template(), refs)


def _page_event(code: str) -> dict[str, Any]:
    event = http_event("GET", f"/{code}", {"host": "pay.example"}, b"", None, {"code": code}, "127.0.0.1")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /{code}"
    return event


def test_a_function_gets_its_own_variables_and_not_another_functions(monkeypatch):  # type: ignore[no-untyped-def]
    # Given the runner's own process holds a variable only the callback function is given
    monkeypatch.setenv("NOTIFY_QUEUE_URL", "https://sqs.local/from-the-shell")
    found = functions(load_template())
    # When the checkout's and the callback's environments are built
    checkout = function_environment(found["CheckoutFunction"], _refs("t"), PLUMBING)
    callback = function_environment(found["CallbackFunction"], _refs("t"), PLUMBING)
    # Then only the callback has it, with the template's value; both have the Globals
    assert "NOTIFY_QUEUE_URL" not in checkout
    assert callback["NOTIFY_QUEUE_URL"] == "https://sqs.local/notify"
    assert checkout["TABLE_NAME"] == callback["TABLE_NAME"] == "t"
    assert "PAYLINK_TELEGRAM_BOT_TOKEN_PARAMETER" not in checkout


def test_a_variable_missing_from_the_template_fails_locally(store, merchant, caplog):  # type: ignore[no-untyped-def]
    # Given a link in the table the runner's own process is configured with (TABLE_NAME is set)
    from paylink.core.models import LinkCreate
    from paylink.merchants.links import create_link

    code = create_link(store, merchant, LinkCreate(title="Scarf", amount=1_200_000)).code
    # And a template whose Globals forgot TABLE_NAME
    template = copy.deepcopy(load_template())
    del template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"]
    checkout = functions(template)["CheckoutFunction"]
    invoker = Invoker(checkout)
    invoker.environment = function_environment(checkout, _refs(store.table), PLUMBING)
    reset_caches()  # a cold start: the store is made inside the invocation, from its settings
    # When the runner invokes the checkout page
    # Then it fails as the deployed function would, not rescued by the runner's environment: the
    # buyer gets the 503 page of a failure on our side, and the log names the table it could not find
    answer = invoker.invoke(_page_event(code))
    assert answer["statusCode"] == 503
    [failure] = [r for r in caplog.records if r.getMessage() == "buyer page failed"]
    assert failure.exc_info is not None
    assert re.search(r"ResourceNotFound|Requested resource not found", str(failure.exc_info[1]))


def test_the_same_function_with_the_variable_serves_the_page(store, merchant):  # type: ignore[no-untyped-def]
    # Given the same link and the template as it is
    from paylink.core.models import LinkCreate
    from paylink.merchants.links import create_link

    code = create_link(store, merchant, LinkCreate(title="Scarf", amount=1_200_000)).code
    checkout = functions(load_template())["CheckoutFunction"]
    invoker = Invoker(checkout)
    invoker.environment = function_environment(checkout, _refs(store.table), PLUMBING)
    # When the runner invokes the checkout page, Then it is served
    assert invoker.invoke(_page_event(code))["statusCode"] == 200
