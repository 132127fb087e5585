"""Merchant webhooks against moto (SQS, DynamoDB) and respx (the merchant's endpoint, Telegram):
events queued after the durable write, stable ids, signed deliveries, retries and the dead-letter queue."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx

from local.queues import QueuePoller, drain
from local.template import create_queues, load_template, queue_sources
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, fake_dns, local_target, reset_caches, verified_email_sender
from tests.unit.test_webhook_signature import readme_helper

HOOK_URL = "https://merchant.example/paylink-hook"
BOT_TOKEN = "123456:test-bot-token"
BUYER = {"name": "Ali", "phone": "09121234567"}
AMOUNT = 1_234_560


@pytest.fixture
def sqs(aws: str) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def notify(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The template's queues in moto; the callback and the notify worker configured on them."""
    from paylink.notify.notifications import http_client
    from paylink.notify.queues import sqs_client

    refs = create_queues(sqs, load_template(), prefix="test", visibility_timeout=0)
    # The merchant's host is a public address (webhooks go only to public addresses).
    fake_dns(monkeypatch, {"merchant.example": ["93.184.215.14"]})
    monkeypatch.setenv("NOTIFY_QUEUE_URL", refs["NotifyQueue"])
    monkeypatch.setenv("NOTIFY_DEAD_LETTER_QUEUE_URL", refs["NotifyDeadLetterQueue"])
    reset_caches()
    sqs_client.cache_clear()
    http_client.cache_clear()
    yield refs
    sqs_client.cache_clear()
    http_client.cache_clear()


@pytest.fixture
def secret(store, merchant) -> str:  # type: ignore[no-untyped-def]
    """The merchant's webhook points at HOOK_URL; the secret it was shown once."""
    from paylink.merchants.accounts import set_webhook

    _, shown = set_webhook(store, merchant.username, HOOK_URL)
    return shown


def _pay(api, **link: Any) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Create a link, pay it at the sandbox; returns (payment id, the callback target to replay)."""
    body = {"title": "Scarf", "amount": AMOUNT, **link}
    code = api.post_json("/v1/links", body, key=TEST_API_KEY).json()["code"]
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    callback = local_target(act_at_gateway(started.location))
    done = api.get(callback)
    assert done.status == 303, done.text
    return done.location.rsplit("/", 1)[-1], callback


def _queued(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now visible on a queue (left in flight, so each is read once)."""
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        )  # fmt: skip
        if not answer.get("Messages"):
            return found
        found.extend(answer["Messages"])


def _poller(sqs: Any, refs: dict[str, str]) -> QueuePoller:
    """The local runner's SQS event source of NotifyWorkerFunction, invoking its handler in-process."""
    from functions.notify.app import worker_handler
    from local.run import LambdaContext
    from local.template import functions

    template = load_template()
    source = next(s for s in queue_sources(template) if s.function_id == "NotifyWorkerFunction")
    context = LambdaContext(functions(template)["NotifyWorkerFunction"])
    return QueuePoller(
        sqs, source, refs[source.queue_id], refs[f"{source.queue_id}.Arn"],
        lambda event: worker_handler(event, context),
    )  # fmt: skip


def _hides_pass_at_once(monkeypatch: pytest.MonkeyPatch, start: float) -> tuple[list[float], list[int]]:
    """The worker's clock from `start`; each time the worker hides a message, how long is recorded
    and that time passes at once (the message is visible again now). Returns (clock, hides)."""
    import paylink.notify.notifications
    from paylink.notify.queues import sqs_client

    clock = [start]
    monkeypatch.setattr(paylink.notify.notifications, "clock", lambda: clock[0])
    hidden: list[int] = []

    def time_passes(params: dict[str, Any], **_: Any) -> None:
        hidden.append(int(params["VisibilityTimeout"]))
        clock[0] += int(params["VisibilityTimeout"])
        params["VisibilityTimeout"] = 0

    sqs_client().meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", time_passes)
    return clock, hidden


def _queue_event_of_paid_payment(api, store, notify) -> str:  # type: ignore[no-untyped-def]
    """Pay a link with notifications off, then queue its paid event: the body the worker will send."""
    from paylink.core.settings import get_settings
    from paylink.notify.events import emit_payment_event

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NOTIFY_QUEUE_URL")
        get_settings.cache_clear()
        payment_id, _ = _pay(api, reference="order-42")
    get_settings.cache_clear()
    payment = store.get_payment(payment_id)
    event_id = emit_payment_event(payment)
    assert event_id is not None
    return event_id


# ---- emission --------------------------------------------------------------------------------


def test_a_payment_paid_through_the_callback_queues_exactly_one_paid_event(
    api, store, gateways, notify, sqs, merchant
):
    # Given a link with the merchant's reference and metadata
    # When a buyer pays it and the gateway's return is verified
    payment_id, _ = _pay(api, reference="order-42", metadata={"sku": "scarf-red"})
    # Then exactly one event is queued: payment.paid, with the payment as merchants see it
    messages = _queued(sqs, notify["NotifyQueue"])
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["type"] == "payment.paid"
    assert event["id"].startswith("evt_")
    assert messages[0]["MessageAttributes"]["event_id"]["StringValue"] == event["id"]
    data = event["data"]
    assert (data["id"], data["merchant_id"], data["amount"], data["status"]) == (
        payment_id, merchant.id, AMOUNT, "paid"
    )  # fmt: skip
    assert data["reference"] == "order-42"
    assert data["metadata"] == {"sku": "scarf-red"}
    # and its expected settlement date, and the payer's phone masked
    from paylink.settlement.daily import expected_settlement_date

    paid = store.get_payment(payment_id)
    assert data["expected_settlement_date"] == expected_settlement_date(
        paid.paid_at, tz="Asia/Tehran", country="IR"
    )
    assert data["payer"] == {"name": "Ali", "phone": "0912***4567"}
    assert event["created"] == paid.paid_at


def test_a_duplicate_callback_queues_the_same_event_never_a_different_one(
    api, gateways, notify, sqs, merchant
):
    # Given a payment paid through its callback
    payment_id, callback = _pay(api)
    # When the gateway's return arrives again
    again = api.get(callback)
    assert again.status == 303
    # Then whatever was queued is one and the same event: same id, same type, same payment
    events = [json.loads(m["Body"]) for m in _queued(sqs, notify["NotifyQueue"])]
    assert len(events) == 2
    assert {e["id"] for e in events} == {events[0]["id"]}
    assert {e["type"] for e in events} == {"payment.paid"}
    assert events[0] == events[1]
    assert events[0]["data"]["id"] == payment_id


def test_a_buyer_who_cancels_queues_one_cancelled_event(api, gateways, notify, sqs, merchant):
    # Given a link
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()["code"]
    started = api.post_form(f"/{code}", BUYER)
    # When the buyer cancels at the gateway and comes back
    api.get(local_target(act_at_gateway(started.location, action="cancel")))
    # Then one payment.cancelled event is queued, with no settlement date
    events = [json.loads(m["Body"]) for m in _queued(sqs, notify["NotifyQueue"])]
    assert [e["type"] for e in events] == ["payment.cancelled"]
    assert events[0]["data"]["expected_settlement_date"] is None


def test_a_queue_that_refuses_the_event_does_not_break_the_payment(
    api, store, gateways, notify, monkeypatch, merchant
):
    # Given a notify queue that cannot be reached
    from paylink.notify.queues import RawQueue

    def broken(self: RawQueue, body: str, attributes: dict[str, str] | None = None) -> None:
        raise ConnectionError("sqs is down")

    monkeypatch.setattr(RawQueue, "send_text", broken)
    # When a buyer pays
    payment_id, _ = _pay(api)
    # Then the payment is paid all the same
    assert store.get_payment(payment_id).status.value == "paid"


def test_an_event_the_queue_refused_is_queued_by_the_next_reconcile_once(
    api, store, gateways, notify, sqs, monkeypatch, merchant
):
    # Given a notify queue that refuses every message (an SQS outage) while a buyer pays
    from paylink.notify.events import event_id
    from paylink.notify.queues import RawQueue
    from paylink.web.hosted import reconcile_now

    working = RawQueue.send_text

    def broken(self: RawQueue, body: str, attributes: dict[str, str] | None = None) -> None:
        raise ConnectionError("sqs is down")

    monkeypatch.setattr(RawQueue, "send_text", broken)
    payment_id, _ = _pay(api)
    assert _queued(sqs, notify["NotifyQueue"]) == []
    # When a reconcile runs while the queue still refuses, then again once it is back
    assert reconcile_now({})["events_resent"] == 0
    monkeypatch.setattr(RawQueue, "send_text", working)
    resent = reconcile_now({})["events_resent"]
    # Then the paid event is queued then, once, with the id it would have had
    messages = _queued(sqs, notify["NotifyQueue"])
    assert resent == 1
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["id"] == event_id(payment_id, "paid")
    assert messages[0]["MessageAttributes"]["event_id"]["StringValue"] == event["id"]
    assert (event["type"], event["data"]["id"]) == ("payment.paid", payment_id)
    # And a later reconcile queues nothing more
    assert reconcile_now({})["events_resent"] == 0
    assert _queued(sqs, notify["NotifyQueue"]) == []


def test_when_neither_the_queue_nor_the_table_takes_the_event_the_payment_still_stands(
    api, store, gateways, notify, monkeypatch, merchant
):
    # Given a notify queue that refuses the event and a table that refuses to keep it
    from paylink.notify.queues import RawQueue
    from paylink.store.notices import WebhookItems

    def broken(*_: object, **__: object) -> None:
        raise ConnectionError("down")

    monkeypatch.setattr(RawQueue, "send_text", broken)
    monkeypatch.setattr(WebhookItems, "keep_unsent_event", broken)
    # When a buyer pays: Then the return still lands on the receipt and the payment is paid
    payment_id, _ = _pay(api)
    assert store.get_payment(payment_id).status.value == "paid"


# ---- delivery --------------------------------------------------------------------------------


def test_a_refused_webhook_is_retried_on_the_schedule_then_dead_lettered(
    api, store, gateways, notify, sqs, secret, monkeypatch
):
    # Given a queued paid event, a merchant endpoint that fails every time, and a clock we move
    from paylink.notify.webhooks import MAX_ATTEMPTS, MAX_HIDE, RETRY_DELAYS

    event_id = _queue_event_of_paid_payment(api, store, notify)
    clock, hidden = _hides_pass_at_once(monkeypatch, 1_800_000_000.0)
    poller = _poller(sqs, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(500))
        tried_at: list[float] = []
        endpoint.side_effect = lambda request: tried_at.append(clock[0]) or httpx.Response(500)
        # When the worker receives the message, hop after hop
        for _ in range(20):
            poller.poll_once()
    # Then it tried five times, each after the documented wait (long waits in hops under 12 h)
    assert MAX_ATTEMPTS == 5
    assert endpoint.call_count == 5
    waits = [later - earlier for earlier, later in itertools.pairwise(tried_at)]
    assert waits == list(RETRY_DELAYS)
    assert max(hidden) <= MAX_HIDE
    assert tried_at[-1] - tried_at[0] < 72 * 3600
    # and each try was the same event, signed, verifiable with the README's helper
    verify = readme_helper()
    for call in endpoint.calls:
        assert call.request.headers["Paylink-Event-Id"] == event_id
        assert verify(call.request.content, call.request.headers["Paylink-Signature"], [secret])
    # and after the last try the event rests in the dead-letter queue, and nowhere else
    assert _queued(sqs, notify["NotifyQueue"]) == []
    dead = _queued(sqs, notify["NotifyDeadLetterQueue"])
    assert [json.loads(m["Body"])["id"] for m in dead] == [event_id]
    assert dead[0]["Body"] == endpoint.calls[0].request.content.decode()


def test_a_2xx_on_the_third_try_stops_the_retries(api, store, gateways, notify, sqs, secret, monkeypatch):
    # Given retry delays scaled down to nothing, and an endpoint that fails twice then accepts
    from paylink.core.settings import get_settings

    monkeypatch.setenv("PAYLINK_WEBHOOK_RETRY_SCALE", "1000000")
    get_settings.cache_clear()
    event_id = _queue_event_of_paid_payment(api, store, notify)
    poller = _poller(sqs, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(
            side_effect=[httpx.Response(500), httpx.Response(503), httpx.Response(204)]
        )
        # When the local runner's event source polls until the queue is drained
        for _ in range(10):
            poller.poll_once()
        assert drain([poller], timeout=5)
    # Then it was delivered on the third try, once, and nothing was dead-lettered
    assert endpoint.call_count == 3
    assert {c.request.headers["Paylink-Event-Id"] for c in endpoint.calls} == {event_id}
    assert _queued(sqs, notify["NotifyDeadLetterQueue"]) == []


def test_a_webhook_is_signed_with_both_secrets_during_a_rotation(api, store, gateways, notify, sqs, secret):
    # Given a merchant whose secret was just rotated
    from paylink.merchants.accounts import rotate_webhook_secret

    _, new_secret = rotate_webhook_secret(store, "shop")
    _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        # When the event is delivered
        _poller(sqs, notify).poll_once()
    # Then a receiver holding either the old or the new secret accepts it
    request = endpoint.calls[0].request
    verify = readme_helper()
    assert request.headers["Paylink-Signature"].count("v1=") == 2
    assert verify(request.content, request.headers["Paylink-Signature"], [secret])
    assert verify(request.content, request.headers["Paylink-Signature"], [new_secret])


def test_a_merchant_with_a_telegram_chat_gets_one_message(
    api, store, gateways, notify, sqs, merchant, monkeypatch
):
    # Given a bot token and a merchant with a Telegram chat and no webhook
    from paylink.core.settings import get_settings
    from paylink.merchants.accounts import set_telegram

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    get_settings.cache_clear()
    set_telegram(store, "shop", "123456789")
    _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        telegram = mock.post(f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage").mock(
            return_value=httpx.Response(200, json={"ok": True})
        )
        # When the event is delivered
        _poller(sqs, notify).poll_once()
    # Then the chat gets one message (Persian: an operator-set chat) with the merchant's reference
    assert telegram.call_count == 1
    sent = json.loads(telegram.calls[0].request.content)
    assert sent["chat_id"] == "123456789"
    assert "پرداخت تازه" in sent["text"]
    assert "order-42" in sent["text"]
    assert _queued(sqs, notify["NotifyQueue"]) == []


def test_the_telegram_bot_token_is_read_from_ssm_by_name(
    api, store, gateways, notify, sqs, merchant, monkeypatch
):
    # Given the bot token only in an SSM SecureString, the worker given its name (as deployed)
    from paylink.merchants.accounts import set_telegram

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/paylink/test/telegram-bot-token", Type="SecureString", Value=BOT_TOKEN
    )
    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN_PARAMETER", "/paylink/test/telegram-bot-token")
    reset_caches()
    set_telegram(store, "shop", "123456789")
    _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        telegram = mock.post(f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage").mock(
            return_value=httpx.Response(200, json={"ok": True})
        )
        # When the event is delivered
        _poller(sqs, notify).poll_once()
    # Then the message went out with the token read from SSM
    assert telegram.call_count == 1


def test_a_merchant_with_a_notice_address_gets_one_email(
    api, store, gateways, notify, sqs, merchant, monkeypatch
):
    # Given a verified sender and a merchant with a notice address and no webhook
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from paylink.merchants.accounts import set_notify_email
    from paylink.notify.messages import notifiers

    verified_email_sender(monkeypatch, "noreply@paylink.example")
    set_notify_email(store, "shop", "owner@shop.example")
    _queue_event_of_paid_payment(api, store, notify)
    # When the event is delivered
    _poller(sqs, notify).poll_once()
    # Then one email reached the merchant, naming the event, its reference and the payout day
    mails = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert [m.destinations["ToAddresses"] for m in mails] == [["owner@shop.example"]]
    assert "payment.paid" in mails[0].subject
    assert "order-42" in mails[0].body
    assert "paid out on" in mails[0].body
    assert _queued(sqs, notify["NotifyQueue"]) == []
    notifiers.cache_clear()


# ---- settings --------------------------------------------------------------------------------


def test_a_webhook_url_must_be_https_to_a_public_host(store, merchant):
    # Given URLs that are not https, or point inside a network
    from paylink.core.errors import ValidationFailed
    from paylink.merchants.accounts import set_webhook

    for url in ("http://merchant.example/hook", "https://localhost/hook", "https://10.0.0.5/hook", "ftp://x"):
        # When an operator sets one / Then it is refused
        with pytest.raises(ValidationFailed):
            set_webhook(store, "shop", url)
    assert store.get_merchant(merchant.id).webhook_url is None


def test_rotating_keeps_the_old_secret_as_previous_and_never_dumps_secrets(store, merchant):
    # Given a merchant with a webhook
    from paylink.merchants.accounts import rotate_webhook_secret, set_webhook

    _, first = set_webhook(store, "shop", HOOK_URL)
    # When its secret is rotated
    _, second = rotate_webhook_secret(store, "shop")
    # Then the new one is current, the old one previous
    stored = store.get_merchant(merchant.id)
    assert (stored.webhook_secret, stored.webhook_secret_previous) == (second, first)
    assert first.startswith("whsec_")
    assert first != second
    # and neither appears in a dump or a repr of the merchant
    shown = json.dumps(stored.model_dump(mode="json")) + repr(stored)
    assert first not in shown
    assert second not in shown


def test_the_operator_commands_print_each_secret_once(aws, store, merchant, capsys):
    # Given the admin CLI pointed at the table
    from local.admin import main

    # When an operator sets a webhook, then rotates its secret
    assert main(["set-webhook", "--username", "shop", "--url", HOOK_URL, "--table", aws]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["rotate-webhook-secret", "--username", "shop", "--table", aws]) == 0
    second = json.loads(capsys.readouterr().out)
    # Then each prints its new secret, and the merchant signs with both until the next rotation
    assert first["webhook_url"] == HOOK_URL
    stored = store.get_merchant(merchant.id)
    assert (stored.webhook_secret, stored.webhook_secret_previous) == (
        second["webhook_secret"], first["webhook_secret"]
    )  # fmt: skip
    assert second["previous_secret_still_accepted"] is True
    # and an http URL is refused with the field named
    assert main(["set-webhook", "--username", "shop", "--url", "http://x.example", "--table", aws]) == 2
    assert "url" in capsys.readouterr().err


# ---- where a webhook may go ------------------------------------------------------------------

METADATA_HOOK = "https://169.254.169.254.nip.io/latest/meta-data/"


@pytest.mark.parametrize(
    "addresses",
    [["169.254.169.254"], ["93.184.215.14", "10.0.0.5"], ["::ffff:127.0.0.1"], ["100.64.0.1"]],
    ids=["cloud-metadata", "one-private-among-public", "ipv4-mapped-loopback", "shared"],
)
def test_a_webhook_to_a_name_that_resolves_inside_a_network_is_never_sent(
    api, store, gateways, notify, sqs, merchant, monkeypatch, addresses
):
    # Given a webhook URL that passes as text (https, a real-looking name) but whose name resolves
    # to a non-public address (as 169.254.169.254.nip.io does)
    from paylink.merchants.accounts import set_webhook

    set_webhook(store, merchant.username, METADATA_HOOK)
    fake_dns(monkeypatch, {"169.254.169.254.nip.io": addresses})
    event_id = _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=False) as mock:
        endpoint = mock.post(METADATA_HOOK).mock(return_value=httpx.Response(200, text="secret-key"))
        # When the notify worker takes the event
        _poller(sqs, notify).poll_once()
    # Then nothing was sent there, and the event is not counted as delivered
    assert endpoint.call_count == 0
    assert not store.webhook_delivery(event_id).get("done")


def test_a_webhook_goes_to_the_public_address_that_was_checked(api, store, gateways, notify, sqs, secret):
    # Given the merchant's host resolves to a public address
    event_id = _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(204))
        # When the worker delivers the event
        _poller(sqs, notify).poll_once()
    # Then it is delivered to the URL, under its own name
    assert endpoint.call_count == 1
    assert endpoint.calls[0].request.headers["Host"] == "merchant.example"
    assert store.webhook_delivery(event_id).get("done")


# ---- an event is queued before its write, delivered once the table shows it -----------------


def _start(api) -> str:  # type: ignore[no-untyped-def]
    """A link paid at the sandbox; the callback target of the buyer's return, not yet followed."""
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()["code"]
    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303, started.text
    return str(local_target(act_at_gateway(started.location)))


def test_a_return_whose_function_dies_right_after_the_credit_still_notifies_the_merchant(
    api, store, gateways, notify, sqs, secret, monkeypatch
):
    # Given a callback function that dies just after its credit is written (a timeout, a crash)
    from paylink.store.payments import PaymentItems

    real = PaymentItems.mark_paid

    def credit_then_die(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        real(self, *args, **kwargs)
        raise SystemExit("the function died")

    monkeypatch.setattr(PaymentItems, "mark_paid", credit_then_die)
    callback = _start(api)
    with pytest.raises(SystemExit):
        api.get(callback)
    [payment] = [p for p in api.get("/v1/payments", key=TEST_API_KEY).json()["items"]]
    assert payment["status"] == "paid"
    # When the notify worker runs
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        _poller(sqs, notify).poll_once()
    # Then the merchant hears of the payment once, as the table has it
    assert endpoint.call_count == 1
    event = json.loads(endpoint.calls[0].request.content)
    assert (event["type"], event["data"]["id"]) == ("payment.paid", payment["id"])
    assert event["data"]["paid_at"] == store.get_payment(payment["id"]).paid_at


def _received_again_and_again(
    monkeypatch: pytest.MonkeyPatch, sqs: Any, notify: dict[str, str]
) -> tuple[int, list[int]]:
    """Poll the notify worker 40 times, each hide passing at once: (webhooks posted, hides asked)."""
    import paylink.notify.notifications

    _, hidden = _hides_pass_at_once(monkeypatch, paylink.notify.notifications.clock())
    with respx.mock(assert_all_called=False) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        for _ in range(40):
            _poller(sqs, notify).poll_once()
    return endpoint.call_count, hidden


def test_an_event_whose_write_never_landed_is_never_delivered(
    api, store, gateways, notify, sqs, secret, monkeypatch
):
    # Given a callback function that dies after queueing the paid event, before its credit
    from paylink.store.payments import PaymentItems

    def die(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        raise SystemExit("the function died")

    monkeypatch.setattr(PaymentItems, "mark_paid", die)
    callback = _start(api)
    with pytest.raises(SystemExit):
        api.get(callback)
    # When the worker receives it again and again while the payment still waits at its gateway
    delivered, hidden = _received_again_and_again(monkeypatch, sqs, notify)
    # Then nothing reached the merchant: the worker waited a few minutes for the write, then let it go
    assert delivered == 0
    assert 1 <= len(hidden) <= 6  # few receives: the queue dead-letters a message after 15
    assert sum(hidden) <= 15 * 60
    assert _queued(sqs, notify["NotifyQueue"]) == []
    assert _queued(sqs, notify["NotifyDeadLetterQueue"]) == []
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] == "redirected"


def test_of_two_returns_racing_to_credit_the_merchant_hears_the_one_that_won_once(
    api, store, gateways, notify, sqs, secret
):
    # Given a paid payment, and the event a second return queued with its own paid_at before
    # losing the race to credit it
    from paylink.notify.events import build_event, encode
    from paylink.notify.queues import notify_queue

    payment_id, _ = _pay(api)
    sqs.purge_queue(QueueUrl=notify["NotifyQueue"])
    won = store.get_payment(payment_id)
    lost = won.model_copy(update={"paid_at": "2026-01-01T00:00:00.000000Z"})
    queue = notify_queue()
    assert queue is not None
    for payment in (lost, won):  # the loser's first
        queue.send_text(encode(build_event(payment, tz="Asia/Tehran", country="IR")))
    # When the worker delivers whatever is queued
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        for _ in range(3):
            _poller(sqs, notify).poll_once()
    # Then the merchant got one paid event, the one the table holds
    assert endpoint.call_count == 1
    assert json.loads(endpoint.calls[0].request.content)["data"]["paid_at"] == won.paid_at


def test_a_refund_created_event_is_queued_before_its_write_and_delivered_only_once_written(
    api, store, gateways, notify, sqs, secret, monkeypatch
):
    # Given a paid payment, and a merchant API function that dies after queueing refund.created,
    # before the refund is written
    import paylink.notify.notifications
    import paylink.refunds.service

    payment_id, _ = _pay(api)
    sqs.purge_queue(QueueUrl=notify["NotifyQueue"])

    def die(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("the function died")

    write = paylink.refunds.service._write_refund
    monkeypatch.setattr(paylink.refunds.service, "_write_refund", die)
    with pytest.raises(SystemExit):
        api.post_json(f"/v1/payments/{payment_id}/refunds", {"amount": 100_000}, key=TEST_API_KEY)
    monkeypatch.setattr(paylink.refunds.service, "_write_refund", write)
    [queued] = _queued(sqs, notify["NotifyQueue"])
    assert json.loads(queued["Body"])["type"] == "refund.created"
    sqs.change_message_visibility(
        QueueUrl=notify["NotifyQueue"], ReceiptHandle=queued["ReceiptHandle"], VisibilityTimeout=0
    )
    # When the worker receives it again and again
    delivered, hidden = _received_again_and_again(monkeypatch, sqs, notify)
    # Then the merchant never heard of a refund that does not exist
    assert delivered == 0
    assert 1 <= len(hidden) <= 6
    assert api.get(f"/v1/payments/{payment_id}/refunds", key=TEST_API_KEY).json()["items"] == []
    # And a refund that is written is announced as created
    answer = api.post_json(f"/v1/payments/{payment_id}/refunds", {"amount": 100_000}, key=TEST_API_KEY)
    assert answer.status == 201, answer.text
    with respx.mock(assert_all_called=False) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        for _ in range(3):
            _poller(sqs, notify).poll_once()
    kinds = [json.loads(call.request.content)["type"] for call in endpoint.calls]
    assert "refund.created" in kinds
