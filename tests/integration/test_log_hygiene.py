"""No secret and no personal data in any log line, for every flow, run through the real handlers.

Every line the process writes is captured: the Powertools logger (at DEBUG, into a buffer of its
own), every record reaching the root `logging` logger at DEBUG (httpx, botocore, Powertools'
internals), and whatever else lands on stdout or stderr (capfd). Each test drives one flow end to
end against moto and the sandbox gateways (or respx), checks the flow really happened, then that
none of the secrets below appears in any line: as is, URL-encoded or JSON-escaped.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import respx

from local.sandbox import Sandbox
from tests.conftest import OTHER_API_KEY, TEST_API_KEY, VALID_IBAN
from tests.helpers import (
    ApiClient,
    act_at_gateway,
    fake_dns,
    local_target,
    reset_caches,
    table_items,
    verified_email_sender,
)

GATEWAY_SECRET = "gwsecret-Zq81xT4merchant"  # the Zibal merchant id and the PayPing bearer token
BOT_TOKEN = "987654321:AAtelegram-secret-Token_x9"
WRONG_KEY = "plk_wrong_key_that_must_not_be_logged"
PHONE = "09121234567"
PHONE_E164 = "+989121234567"
PAYER_EMAIL = "sara.payer@example.com"
NOTICE_EMAIL = "owner.notices@shop.example"
FULL_CARD = "6037991234567890"
ADDRESS = "Tehran, Valiasr St., No. 12"
BUYER = {"name": "Ali Rezaei", "phone": PHONE, "email": PAYER_EMAIL, "address": ADDRESS}
HOOK_URL = "https://merchant.example/paylink-hook"
PAYPING_URL = "https://api.payping.example"
CARD_RUN = re.compile(r"\d{16}")
IBAN_RUN = re.compile(r"IR\d{24}", re.IGNORECASE)


# ---- capture -----------------------------------------------------------------------------------


class _Records(logging.Handler):
    """Every record that reaches the root logger, written out with its message, extras and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in vars(record).items() if k not in ("args", "msg", "exc_info")}
        text = f"{record.name} {record.levelname} {record.getMessage()} {json.dumps(fields, default=repr)}"
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


class Logs:
    """What the process wrote: log lines (Powertools and library records) and plain output."""

    def __init__(self, capfd: pytest.CaptureFixture[str], powertools: io.StringIO, records: _Records) -> None:
        self._capfd = capfd
        self._powertools = powertools
        self._records = records
        self._output: list[str] = []

    def printed(self) -> str:
        """stdout and stderr so far, taken out of the lines: a command's own answer to its operator."""
        out, err = self._capfd.readouterr()
        return out + err

    def lines(self) -> list[str]:
        """Every line so far: Powertools', the library records', and anything else on stdout/stderr."""
        out, err = self._capfd.readouterr()
        self._output.append(out + err)
        return [
            *self._powertools.getvalue().splitlines(),
            *self._records.lines,
            *"".join(self._output).splitlines(),
        ]

    def records(self) -> list[str]:
        """The log records alone (Powertools' and the libraries'), not plain output."""
        return [*self._powertools.getvalue().splitlines(), *self._records.lines]


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Logs]:
    """Powertools at DEBUG into a buffer, the root logger at DEBUG into a list, capfd for the rest."""
    from paylink.core.observability import logger

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream, level = handler.stream, logger.log_level
    handler.setStream(buffer)
    logger.setLevel("DEBUG")
    records = _Records()
    root = logging.getLogger()
    root_level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    yield Logs(capfd, buffer, records)
    root.removeHandler(records)
    root.setLevel(root_level)
    logger.setLevel(level)
    handler.setStream(stream)


def _forms(value: str) -> set[str]:
    """A value as it could sit in a line: raw, URL-encoded (both ways), JSON-escaped (both ways)."""
    return {
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def assert_clean(logs: Logs, *secrets: str) -> list[str]:
    """No line holds a secret (in any form), a full phone number, a 16-digit run or a full IBAN."""
    forbidden = {
        TEST_API_KEY, OTHER_API_KEY, WRONG_KEY, GATEWAY_SECRET, BOT_TOKEN, PHONE, PHONE_E164, PHONE[1:],
        PAYER_EMAIL, NOTICE_EMAIL, FULL_CARD, VALID_IBAN, ADDRESS, *secrets,
    }  # fmt: skip
    lines = logs.lines()
    leaks = [
        (form, line)
        for line in lines
        for value in forbidden
        if value
        for form in _forms(value)
        if form in line
    ]
    leaks += [(match, line) for line in lines for match in CARD_RUN.findall(line) + IBAN_RUN.findall(line)]
    assert not leaks, "\n".join(f"{what!r} in: {line[:400]}" for what, line in leaks)
    return lines


# ---- the world ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_sandbox() -> Iterator[Sandbox]:
    """Sandbox gateways that know our secret merchant id (Zibal) and bearer token (PayPing)."""
    instances = {"a": "zibal", "b": "zibal", "p": "payping"}
    with Sandbox(instances=instances, port=0, slow_seconds=1.5, merchant=GATEWAY_SECRET) as running:
        yield running


@pytest.fixture
def world(aws, gateway_sandbox, monkeypatch):  # type: ignore[no-untyped-def]
    """The secret gateways configured (and a PayPing at respx's address), every mode ok."""
    configs = [
        {"name": f"sandbox-{name}", "protocol": protocol, "base_url": f"{gateway_sandbox.url}/{name}",
         "merchant_id": GATEWAY_SECRET, "timeout_seconds": 1.0}
        for name, protocol in (("a", "zibal"), ("b", "zibal"), ("p", "payping"))
    ] + [{"name": "pp", "protocol": "payping", "base_url": PAYPING_URL,
          "merchant_id": GATEWAY_SECRET}]  # fmt: skip
    monkeypatch.setenv("PAYLINK_GATEWAYS", json.dumps(configs))
    monkeypatch.setenv("PAYLINK_ALLOW_CLOCK_OVERRIDE", "1")
    for name in ("a", "b", "p"):
        gateway_sandbox.set_mode(name, "ok")
    reset_caches()
    yield gateway_sandbox
    for name in ("a", "b", "p"):
        gateway_sandbox.set_mode(name, "ok")


@pytest.fixture
def shop(world, store):  # type: ignore[no-untyped-def]
    """A merchant on the zibal sandboxes (the PayPing ones are for the tests that pick them)."""
    from paylink.merchants.accounts import create_merchant

    created, _ = create_merchant(
        store, username="shop", name="Scarf Shop", iban=VALID_IBAN, api_key=TEST_API_KEY,
        gateways=["sandbox-a", "sandbox-b"],
    )  # fmt: skip
    return created


def _link(api: ApiClient, **fields: Any) -> dict[str, Any]:
    body = {"title": "Handmade scarf", "amount": 1_200_000, "collect": ["name", "phone", "email", "address"]}
    answer = api.post_json("/v1/links", {**body, **fields}, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    return answer.json()


def _pay(api: ApiClient, code: str, action: str = "pay") -> str:
    """Checkout with the buyer's details, act at the gateway; the callback target he is sent to."""
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    return local_target(act_at_gateway(started.location, action))


def _pay_post_return(api: ApiClient, code: str) -> Any:
    """Checkout and pay at a gateway that returns the buyer with an auto-posted form (PayPing)."""
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    page = httpx.get(started.location, timeout=5)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    answer = httpx.post(started.location, data={**fields, "action": "pay"}, timeout=5)
    action = re.search(r'<form method="post" action="([^"]+)"', answer.text)
    assert action, answer.text
    back = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', answer.text))
    return api.post_form(local_target(action.group(1)), {k: html.unescape(v) for k, v in back.items()})


def _payments(api: ApiClient) -> list[dict[str, Any]]:
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def _invoke(function_id: str, handler: Any, event: dict[str, Any]) -> Any:
    from local.run import LambdaContext
    from local.template import functions, load_template

    return handler(event, LambdaContext(functions(load_template())[function_id]))


# ---- merchants and links -----------------------------------------------------------------------


def test_creating_a_merchant_prints_its_key_once_and_logs_it_nowhere(world, aws, logs):
    # Given the operator's command
    from local.admin import main

    # When it creates a merchant
    assert main(["create-merchant", "--username", "logs", "--name", "Logs", "--iban", VALID_IBAN,
                 "--table", aws]) == 0  # fmt: skip
    # Then the key is printed exactly once, for the operator to keep
    printed = logs.printed()
    key = json.loads(printed[: printed.index("}") + 1])["api_key"]
    assert key.startswith("plk_")
    assert printed.count(key) == 1
    # and no log line holds it
    assert [line for line in logs.records() if key in line] == []
    assert_clean(logs, key)


def test_creating_an_invoice_for_a_payer_logs_no_contact(api, shop, logs):
    # When the merchant creates an invoice naming its payer's phone and email
    link = _link(api, kind="invoice", payer={"name": "Sara Ahmadi", "phone": PHONE, "email": PAYER_EMAIL})
    # Then it exists, and no line names the payer's contact or the API key
    assert link["payer"]["email"] == PAYER_EMAIL
    assert_clean(logs)


def test_an_idempotent_create_and_its_replay_log_no_key(api, shop, logs):
    # Given a create with an Idempotency-Key
    headers = {"content-type": "application/json", "authorization": f"Bearer {TEST_API_KEY}",
               "idempotency-key": "order-77"}  # fmt: skip
    body = json.dumps({"title": "Invoice", "kind": "invoice", "amount": 500_000,
                       "payer": {"name": "Sara", "phone": PHONE, "email": PAYER_EMAIL}}).encode()  # fmt: skip
    first = api.request("POST", "/v1/links", body=body, headers=headers)
    # When it is sent again
    again = api.request("POST", "/v1/links", body=body, headers=headers)
    # Then the second is the replay of the first, and nothing secret was logged on either
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert_clean(logs)


def test_sending_an_invoice_by_sms_and_email_logs_no_address(api, shop, logs, monkeypatch):
    # Given an invoice and moto's SNS and SES with a verified sender
    from paylink.notify.messages import notifiers

    verified_email_sender(monkeypatch, "invoices@pay.example")
    link = _link(api, kind="invoice", payer={"name": "Sara", "phone": PHONE, "email": PAYER_EMAIL})
    # When the merchant sends it by SMS and email
    answer = api.post_json(f"/v1/links/{link['code']}/send", {"via": ["sms", "email"]}, key=TEST_API_KEY)
    # Then both went, and no line holds the phone number or the address they went to
    assert answer.json() == {"sent": ["sms", "email"]}
    notifiers.cache_clear()
    lines = assert_clean(logs)
    assert any("invoice sent" in line and link["code"] in line for line in lines)


def _refusing_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """SES and SNS refusing every message with an error that names its recipient, as SES in its
    sandbox does ("The following identities failed the check ...: <address>")."""
    from botocore.exceptions import ClientError

    from paylink.notify.messages import EmailNotifier, SmsNotifier

    def refuse(self: Any, to: str, subject: str, text: str) -> None:
        error = {"Code": "MessageRejected", "Message": f"The following identities failed the check: {to}"}
        raise ClientError({"Error": error}, "SendEmail")

    monkeypatch.setattr(EmailNotifier, "send", refuse)
    monkeypatch.setattr(SmsNotifier, "send", refuse)


def test_a_reminder_the_provider_refuses_logs_no_address(api, shop, logs, monkeypatch):
    # Given an invoice due tomorrow and mail and SMS providers that name the recipient in their refusals
    from functions.remind.app import lambda_handler

    verified_email_sender(monkeypatch, "invoices@pay.example")
    payer = {"name": "Sara", "phone": PHONE, "email": PAYER_EMAIL}
    link = _link(api, kind="invoice", payer=payer, due_date="2026-12-20")
    _refusing_provider(monkeypatch)
    # When the schedule runs the day before the due date
    report = _invoke("RemindFunction", lambda_handler, {"scheduled_time": "2026-12-19T06:30:00Z"})
    # Then the reminder was tried, and no line holds the phone number or the address it went to
    assert f"{link['code']}:before_1" in report["sent"]
    assert_clean(logs)


def test_a_send_the_provider_refuses_names_no_address_in_its_error(api, shop, logs, monkeypatch):
    # Given an invoice and mail and SMS providers that name the recipient in their refusals

    verified_email_sender(monkeypatch, "invoices@pay.example")
    link = _link(api, kind="invoice", payer={"name": "Sara", "phone": PHONE, "email": PAYER_EMAIL})
    _refusing_provider(monkeypatch)
    # When the merchant sends it by email, and the error reaches the handler (which logs it whole)
    answer = api.post_json(f"/v1/links/{link['code']}/send", {"via": ["email"]}, key=TEST_API_KEY)
    # Then the merchant gets an error in the contract's shape, and neither it nor any log line
    # (the logged exception and its traceback included) holds the address
    assert answer.status in (500, 503)
    assert "error" in answer.json()
    printed = answer.text + "\n".join(logs.records())
    assert "Traceback" in printed  # the failure was logged with its exception
    for form in _forms(PAYER_EMAIL):
        assert form not in printed
    assert_clean(logs)


# ---- buyers ------------------------------------------------------------------------------------


def test_a_click_logs_nothing_secret(api, shop, logs):
    # Given a link
    link = _link(api)
    # When a buyer opens it, its QR codes and the merchant's personal page
    answers = [api.get(f"/{link['code']}"), api.get(f"/{link['code']}/qr.svg"), api.get("/u/shop")]
    # Then each answers, and nothing secret was logged
    assert [a.status for a in answers] == [200, 200, 200]
    assert_clean(logs)


def test_a_paid_checkout_return_and_receipt_log_only_masked_and_ids(api, shop, logs):
    # Given a link collecting name, phone, email and address
    code = _link(api)["code"]
    # When a buyer fills them in, pays at the gateway (which answers a masked card), and comes back
    callback = _pay(api, code)
    back = api.get(callback)
    receipt = api.get(back.location)
    # Then the payment is paid with a masked card
    [payment] = _payments(api)
    assert (payment["status"], receipt.status) == ("paid", 200)
    assert payment["card_mask"].count("*") >= 6
    # and no line holds the buyer's details, the gateway's secret or a card number; the ids are there
    lines = assert_clean(logs)
    assert any("payment verified" in line and payment["id"] in line for line in lines)


def test_a_full_card_number_from_a_gateway_is_stored_and_logged_masked(api, shop, store, aws, logs):
    # Given a merchant paid through a PayPing that sends the full card number back, twice over
    from paylink.merchants.accounts import update_merchant

    update_merchant(store, "shop", gateways=["pp"])
    code = _link(api)["code"]
    token = "0123456789abcdef0123456789abcdef"
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{PAYPING_URL}/v3/pay").mock(
            return_value=httpx.Response(200, json={"paymentCode": token, "url": f"{PAYPING_URL}/x"})
        )
        started = api.post_form(f"/{code}", BUYER)
        assert started.status == 303, started.text
        [payment] = _payments(api)
        data = {"paymentCode": token, "paymentRefId": "98765", "clientRefId": payment["id"],
                "amount": 120_000, "cardNumber": FULL_CARD, "cardHashPan": "ab12"}  # fmt: skip
        mock.post(f"{PAYPING_URL}/v3/pay/verify").mock(
            return_value=httpx.Response(200, json={**data, "code": token, "payedDate": "2026-12-01T10:00:00"})
        )
        # When the buyer's return (carrying it) comes and the verify answers it too
        back = api.post_form("/callback/pp", {"status": "1", "errorCode": "", "data": json.dumps(data)})
    # Then the payment is paid and only a masked card is stored or shown
    assert back.status == 303, back.text
    [payment] = _payments(api)
    assert payment["status"] == "paid"
    assert payment["card_mask"] == "603799******7890"
    assert FULL_CARD not in repr(table_items(aws))
    assert FULL_CARD not in api.get(back.location).text
    # and no line holds it, nor the PayPing bearer token
    assert_clean(logs)


def test_a_payping_sandbox_payment_logs_no_bearer_token(api, shop, store, logs):
    # Given a merchant paid through the PayPing sandbox (bearer-token authenticated)
    from paylink.merchants.accounts import update_merchant

    update_merchant(store, "shop", gateways=["sandbox-p"])
    code = _link(api)["code"]
    # When a buyer pays
    assert _pay_post_return(api, code).status == 303
    # Then it is paid, and the token is in no line
    assert _payments(api)[0]["status"] == "paid"
    assert_clean(logs)


def test_all_gateways_down_logs_no_buyer_details(api, shop, world, logs):
    # Given every gateway down
    code = _link(api)["code"]
    for name in ("a", "b"):
        world.set_mode(name, "down")
    # When a buyer checks out
    answer = api.post_form(f"/{code}", BUYER)
    # Then he sees the 503 page, and the failover lines name gateways, not him
    assert answer.status == 503
    lines = assert_clean(logs)
    assert any("sandbox-a" in line and "did not start" in line for line in lines)


def test_a_verify_timeout_then_reconcile_and_probe_log_nothing_secret(api, shop, world, logs):
    # Given a verify that commits but whose answer is late
    code = _link(api)["code"]
    world.set_mode("a", "verify_timeout")
    api.get(_pay(api, code))
    assert _payments(api)[0]["status"] == "redirected"
    world.set_mode("a", "ok")
    # When the scheduled reconcile and gateway probe run
    from functions.callback.app import probe_handler, reconcile_handler
    from paylink.core.models import iso, utcnow

    later = iso(utcnow() + timedelta(minutes=3))
    report = _invoke("ReconcileFunction", reconcile_handler, {"now": later})
    _invoke("ProbeFunction", probe_handler, {"now": later})
    # Then the payment is paid by reconciliation, and nothing secret was logged throughout
    assert report["decided"] == {"paid": 1}
    assert_clean(logs)


@pytest.mark.parametrize(
    ("target", "fields"),
    [
        ("/{code}", {**BUYER, "phone": PHONE + "9"}),
        ("/{code}", {**BUYER, "email": PAYER_EMAIL.replace("@", " at ")}),
        ("/callback/sandbox-a", {"trackId": PHONE, "success": "1", "orderId": PAYER_EMAIL}),
    ],
)
def test_bad_buyer_input_is_a_400_and_not_echoed_into_logs(api, shop, logs, target, fields):
    # Given a link
    code = _link(api)["code"]
    # When a buyer (or a forger) posts details that are refused
    answer = api.post_form(target.format(code=code), fields)
    # Then it is a 4xx, and what was sent is in no line
    assert 400 <= answer.status < 500
    assert_clean(logs, PHONE + "9", PAYER_EMAIL.replace("@", " at "))


def test_bad_merchant_input_is_a_400_and_not_echoed_into_logs(api, shop, logs):
    # When the merchant sends an invoice whose payer's phone and email are malformed
    answer = api.post_json(
        "/v1/links", {"title": "x", "amount": 1000, "kind": "invoice",
                      "payer": {"phone": PHONE + "77", "email": "sara@@example.com"}}, key=TEST_API_KEY,
    )  # fmt: skip
    # Then it is a 400, and the values are in no line
    assert answer.status == 400
    assert_clean(logs, PHONE + "77", "sara@@example.com")


def test_a_wrong_api_key_is_a_401_and_the_key_is_not_logged(api, shop, logs):
    # When someone calls with a wrong key, and a key in the wrong scheme
    wrong = api.get("/v1/links", key=WRONG_KEY)
    scheme = api.request("GET", "/v1/payments", headers={"authorization": f"Basic {WRONG_KEY}"})
    # Then both are 401, and neither key nor header was logged
    assert (wrong.status, scheme.status) == (401, 401)
    assert_clean(logs, f"Bearer {WRONG_KEY}", f"Basic {WRONG_KEY}")


# ---- merchant notices --------------------------------------------------------------------------


@pytest.fixture
def notify(aws, monkeypatch):  # type: ignore[no-untyped-def]
    """The template's notify queues in moto, the callback and the worker configured on them."""
    import boto3

    from local.template import create_queues, load_template
    from paylink.notify.notifications import http_client
    from paylink.notify.queues import sqs_client

    sqs = boto3.client("sqs", region_name="us-east-1")
    refs = create_queues(sqs, load_template(), prefix="test", visibility_timeout=0)
    monkeypatch.setenv("NOTIFY_QUEUE_URL", refs["NotifyQueue"])
    monkeypatch.setenv("NOTIFY_DEAD_LETTER_QUEUE_URL", refs["NotifyDeadLetterQueue"])
    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    fake_dns(monkeypatch, {"merchant.example": ["93.184.215.14"]})  # a public address
    reset_caches()
    sqs_client.cache_clear()
    http_client.cache_clear()
    yield sqs, refs
    sqs_client.cache_clear()
    http_client.cache_clear()


def _deliver_queued(sqs: Any, refs: dict[str, str]) -> None:
    """One poll of NotifyWorkerFunction's event source, invoking the real worker handler."""
    from functions.notify.app import worker_handler
    from local.queues import QueuePoller
    from local.template import load_template, queue_sources

    source = next(s for s in queue_sources(load_template()) if s.function_id == "NotifyWorkerFunction")
    QueuePoller(
        sqs, source, refs[source.queue_id], refs[f"{source.queue_id}.Arn"],
        lambda event: _invoke("NotifyWorkerFunction", worker_handler, event),
    ).poll_once()  # fmt: skip


@pytest.mark.parametrize("answers", [200, 500], ids=["accepted", "refused"])
def test_webhook_telegram_and_email_notices_log_no_secret_signature_or_token(
    api, shop, store, notify, logs, monkeypatch, answers
):
    # Given a merchant with a webhook, a Telegram chat and a notice address, and a paid payment
    from paylink.merchants.accounts import set_notify_email, set_telegram, set_webhook
    from paylink.notify.messages import notifiers

    verified_email_sender(monkeypatch, "noreply@pay.example")
    _, secret = set_webhook(store, "shop", HOOK_URL)
    set_telegram(store, "shop", "123456789")
    set_notify_email(store, "shop", NOTICE_EMAIL)
    code = _link(api)["code"]
    with respx.mock(assert_all_called=True) as mock:
        mock.route(host="127.0.0.1").pass_through()
        api.get(_pay(api, code))
        hook = mock.post(HOOK_URL).mock(return_value=httpx.Response(answers))
        telegram = mock.post(f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage").mock(
            return_value=httpx.Response(answers, json={"ok": answers == 200})
        )
        # When the worker delivers the paid event
        _deliver_queued(*notify)
    notifiers.cache_clear()
    # Then the webhook (signed) and the Telegram message were sent
    assert (hook.call_count, telegram.call_count) == (1, 1)
    signature = hook.calls[0].request.headers["Paylink-Signature"]
    # and no line holds the webhook secret, the signature, the bot token or the notice address
    digests = re.findall(r"v1=([0-9a-f]+)", signature)
    assert digests
    lines = assert_clean(logs, secret, signature, *digests)
    assert any("webhook" in line and ("delivered" in line or "retry" in line) for line in lines)


# ---- settlement --------------------------------------------------------------------------------


@pytest.mark.parametrize("payout_fails", [False, True], ids=["paid-out", "payout-failed"])
def test_settlement_and_its_payout_log_no_iban(api, shop, logs, monkeypatch, payout_fails):
    # Given a paid payment (and, in one case, a bank that refuses the merchant's account)
    from functions.settle.app import lambda_handler
    from paylink.core.models import utcnow
    from paylink.core.settings import get_settings
    from paylink.settlement.business_calendar import local_date, next_business_day

    if payout_fails:
        monkeypatch.setenv("PAYLINK_SANDBOX_PAYOUT_FAIL_IBANS", VALID_IBAN)
        get_settings.cache_clear()
    api.get(_pay(api, _link(api)["code"]))
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    # When the next business day is settled and the merchant reads its settlement (JSON and CSV)
    report = _invoke("SettleFunction", lambda_handler, {"date": day})
    [settled] = report["settlements"]
    assert settled["status"] == ("failed" if payout_fails else "paid")
    csv = api.get(f"/v1/settlements/{settled['id']}?format=csv", key=TEST_API_KEY)
    assert csv.status == 200
    # Then no line holds the IBAN the money went to
    lines = assert_clean(logs)
    assert any(settled["id"] in line for line in lines)


def test_a_checkout_never_logs_its_event_even_when_event_logging_is_switched_on(api, shop, logs, monkeypatch):
    # Given an operator switched Powertools' event logging on for every function
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    code = _link(api)["code"]
    # When a buyer fills in the form (name and address have no shape the redaction could know)
    _pay(api, code)
    # Then neither the buyer's name nor the address reached a log line
    lines = assert_clean(logs, BUYER["name"])
    assert lines  # the checkout did log (its ids), so an event line would have been seen


def test_the_settings_routes_log_no_secret_and_no_key(api, shop, notify, logs):
    # Given a webhook endpoint set, rotated and tested, and an API key created (under an
    # Idempotency-Key, then replayed), used and revoked through the merchant API
    import httpx
    import respx

    sqs, refs = notify
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    put = api.request("PUT", "/v1/webhook", body=b'{"url": "https://merchant.example/hook"}', headers=auth)
    rotated = api.request("POST", "/v1/webhook/rotate", headers=auth)
    api.request("POST", "/v1/webhook/test", headers=auth)
    with respx.mock() as mock:
        mock.post("https://merchant.example/hook").mock(return_value=httpx.Response(200))
        _deliver_queued(sqs, refs)
    body, idem = b'{"name": "ci"}', {**auth, "idempotency-key": "key-77"}
    created = api.request("POST", "/v1/api-keys", body=body, headers=idem)
    api.request("POST", "/v1/api-keys", body=body, headers=idem)
    key = created.json()["key"]
    api.request("GET", "/v1/links", headers={"authorization": f"Bearer {key}"})
    api.request("DELETE", f"/v1/api-keys/{created.json()['id']}", headers=auth)
    # Then no secret and no key was logged
    assert (put.status, rotated.status, created.status) == (201, 200, 201)
    assert_clean(logs, put.json()["secret"], rotated.json()["secret"], key)


# ---- the Telegram bot --------------------------------------------------------------------------


def test_the_telegram_bot_logs_no_bot_token_or_webhook_secret(api, shop, store, logs, monkeypatch):
    # Given a bot token, and a link token of the shop for a chat
    import time

    from paylink.bot.api import webhook_secret
    from paylink.bot.linking import _hash

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    reset_caches()
    store.put_telegram_token(_hash("log-hygiene-token"), shop.id, int(time.time()) + 600)
    secret = webhook_secret(BOT_TOKEN)
    texts = ["/start log-hygiene-token", "/new 50000 Scarf", "/today", "/balance", "/links", "/stop"]
    with respx.mock() as mock:
        sent = mock.post(url__regex=r"^https://api\.telegram\.org/bot").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"username": "shop_bot"}})
        )
        # When the chat links itself and sends every command, and a forged update comes too
        for n, text in enumerate(texts):
            chat = {"id": 4242, "type": "private"}
            message = {"message_id": n, "date": 0, "text": text, "chat": chat, "from": {"id": 4242}}
            update = {"update_id": 9000 + n, "message": message}
            headers = {"content-type": "application/json", "x-telegram-bot-api-secret-token": secret}
            answer = api.request(
                "POST", "/telegram/webhook", body=json.dumps(update).encode(), headers=headers
            )
            assert answer.status == 200, answer.text
        forged = api.request(
            "POST", "/telegram/webhook", body=b"{}", headers={"x-telegram-bot-api-secret-token": "x"}
        )
        assert forged.status == 403
    # Then the bot answered each, and no line holds the bot token or the webhook's secret
    assert sent.call_count >= len(texts)
    lines = assert_clean(logs, secret)
    assert any("telegram chat linked" in line for line in lines)


# ---- refunds and the payer's page --------------------------------------------------------------


def test_a_refund_and_its_payer_page_log_no_token_card_iban_or_owner(api, shop, logs, monkeypatch):
    # Given a paid payment (and another, so the balance covers the refund), a bank inquiry sandbox
    from local.sandbox.protocols.zibal_inquiry import OWNER_FIRST, OWNER_LAST, SANDBOX_TOKEN
    from paylink.merchants import identity
    from paylink.refunds import service
    from tests.integration.test_refund_payer import matching_card

    link = _link(api)
    for _ in range(2):
        api.get(_pay(api, link["code"]))
    payment = _payments(api)[0]
    tokens: list[str] = []
    real_send = service.send_payer_link
    monkeypatch.setattr(
        service,
        "send_payer_link",
        lambda p, r, token, base: tokens.append(token) or real_send(p, r, token, base),
    )
    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", f"{box.url}/inq")
        monkeypatch.setattr(identity, "secret", lambda name: SANDBOX_TOKEN)
        reset_caches()
        # When the merchant refunds part of it, and the payer's page is used: a card that did not
        # pay, one whose account is someone else's, then the card that paid
        created = api.post_json(
            f"/v1/payments/{payment['id']}/refunds", {"amount": 300_000}, key=TEST_API_KEY
        )
        assert created.status == 201, created.text
        token = tokens[-1]
        card = matching_card(payment["card_mask"])
        form = {"content-type": "application/x-www-form-urlencoded"}
        api.get(f"/refund/{token}")
        api.request("POST", f"/refund/{token}", body=f"card={FULL_CARD}".encode(), headers=form)
        box.set_mode("inq", "iban_mismatch")
        api.request("POST", f"/refund/{token}", body=f"card={card}".encode(), headers=form)
        box.set_mode("inq", "ok")
        paid_out = api.request("POST", f"/refund/{token}", body=f"card={card}".encode(), headers=form)
        assert paid_out.status == 303, paid_out.text[:300]
    # Then no line holds the page's token, a card number, an IBAN or the account owner's name
    assert_clean(logs, token, card, OWNER_FIRST, OWNER_LAST)


def test_the_gateways_card_hash_is_kept_and_logged_nowhere(api, shop, store, logs, monkeypatch):
    # Given two payments through the PayPing sandbox, whose verify reports the card's hash
    from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN
    from paylink.merchants import identity
    from paylink.merchants.accounts import update_merchant
    from paylink.refunds import service
    from tests.integration.test_refund_payer import matching_card

    update_merchant(store, "shop", gateways=["sandbox-p"])
    code = _link(api)["code"]
    for _ in range(2):
        assert _pay_post_return(api, code).status == 303
    payment = _payments(api)[0]
    card_hash = store.get_payment(payment["id"]).card_hash
    assert card_hash
    tokens: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda p, r, token, base: tokens.append(token))
    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", f"{box.url}/inq")
        monkeypatch.setattr(identity, "secret", lambda name: SANDBOX_TOKEN)
        reset_caches()
        # When a refund's payer page is given another card of the same mask, then the card that paid
        created = api.post_json(
            f"/v1/payments/{payment['id']}/refunds", {"amount": 300_000}, key=TEST_API_KEY
        )
        assert created.status == 201, created.text
        card = matching_card(payment["card_mask"])
        other = matching_card(payment["card_mask"], int(card[6:12]) + 1)
        form = {"content-type": "application/x-www-form-urlencoded"}
        refused = api.request("POST", f"/refund/{tokens[-1]}", body=f"card={other}".encode(), headers=form)
        paid_out = api.request("POST", f"/refund/{tokens[-1]}", body=f"card={card}".encode(), headers=form)
        assert (refused.status, paid_out.status) == (400, 303), paid_out.text[:300]
    # Then no line holds the hash (in either case), nor either card, nor the page's token
    assert_clean(logs, card_hash.upper(), card_hash.lower(), card, other, tokens[-1])
