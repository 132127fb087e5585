"""Linking chats and handling updates against moto: one-time tokens, expiry, races, the deploy's
custom resource (respx for the Bot API and CloudFormation's response URL)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import respx

from tests.helpers import reset_caches
from tests.integration.test_concurrent_callbacks import moto_server  # noqa: F401 - the fixture
from tests.settlement_data import VALID_IBAN

BOT_TOKEN = "123456:linking-test-token"


def _token(store, merchant, token: str, expires_in: int) -> None:  # type: ignore[no-untyped-def]
    from paylink.bot.linking import _hash

    store.put_telegram_token(_hash(token), merchant.id, int(time.time()) + expires_in)


def test_an_expired_token_links_nothing_and_says_it_expired(store, merchant):
    # Given a token that expired a minute ago
    from paylink.bot.linking import link_chat

    _token(store, merchant, "old-token", -60)
    # When a chat uses it, Then it is told so and is not linked
    assert link_chat(store, "old-token", 77, "fa") == ("expired", None)
    assert store.telegram_chat("77") is None


def test_a_token_used_by_ten_chats_at_once_links_one(moto_server):  # noqa: F811
    # Given one token, on a moto server that applies each request atomically as DynamoDB does
    from paylink.bot.linking import link_chat
    from paylink.merchants.accounts import create_merchant
    from paylink.store import get_store

    store = get_store()
    merchant, _ = create_merchant(store, username="racer", name="Racer", iban=VALID_IBAN)
    _token(store, merchant, "one-token", 600)
    # When ten chats use it at the same moment
    with ThreadPoolExecutor(10) as pool:
        outcomes = list(
            pool.map(lambda chat: link_chat(store, "one-token", chat, "fa")[0], range(1000, 1010))
        )
    # Then exactly one chat is linked
    assert outcomes.count("linked") == 1
    assert len(store.telegram_chats_of(merchant.id)) == 1


def test_the_token_is_stored_hashed(store, merchant, aws, monkeypatch):
    # Given a new deep link
    import boto3

    from paylink.bot.linking import new_link_token

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    reset_caches()
    with respx.mock() as mock:
        mock.post(url__regex=r"/getMe$").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"username": "shop_bot"}})
        )
        link = new_link_token(store, merchant)
    token = link["deep_link"].split("?start=")[1]
    # Then the table holds no item with the token itself
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=aws)["Items"]
    assert token not in json.dumps(items)
    assert link["deep_link"].startswith("https://t.me/shop_bot?start=")


def test_an_update_delivered_ten_times_at_once_is_claimed_once(store, atomic_dynamodb):
    # When ten deliveries of one update claim it at the same moment
    with ThreadPoolExecutor(10) as pool:
        claims = list(pool.map(lambda _: store.claim_telegram_update(555, int(time.time())), range(10)))
    # Then one wins
    assert claims.count(True) == 1


def test_the_deploys_custom_resource_registers_the_webhook_and_answers_cloudformation(aws, monkeypatch):
    # Given a bot token and CloudFormation's create request
    from functions.telegram_bot.app import setup_handler
    from local.run import LambdaContext
    from local.template import functions, load_template
    from paylink.bot.api import webhook_secret

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    reset_caches()
    event = {
        "RequestType": "Create",
        "ResponseURL": "https://cloudformation-response.example/put",
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "TelegramWebhook",
        "ResourceProperties": {"PublicBaseUrl": "https://pay.example"},
    }
    with respx.mock(assert_all_called=True) as mock:
        api = mock.post(url__regex=rf"^https://api\.telegram\.org/bot{BOT_TOKEN}/").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": True})
        )
        answer = mock.put("https://cloudformation-response.example/put").mock(
            return_value=httpx.Response(200)
        )
        # When the custom resource runs
        setup_handler(event, LambdaContext(functions(load_template())["TelegramSetupFunction"]))
    # Then setWebhook named our webhook and its secret, the menus were set, and CloudFormation heard SUCCESS
    calls = [(c.request.url.path.rsplit("/", 1)[1], json.loads(c.request.content)) for c in api.calls]
    assert calls[0] == (
        "setWebhook",
        {
            "url": "https://pay.example/telegram/webhook",
            "secret_token": webhook_secret(BOT_TOKEN),
            "allowed_updates": ["message"],
        },
    )
    assert [name for name, _ in calls[1:]] == ["setMyCommands", "setMyCommands"]
    assert json.loads(answer.calls[0].request.content)["Status"] == "SUCCESS"
