"""The merchant's own settings through `/v1`: its webhook endpoint (set, read, rotate, delete, test,
deliveries) and its API keys (create, list, use, revoke), against moto with template.yaml's table and
queues; the merchant's endpoint is respx."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import Answer, ApiClient, table_items
from tests.integration.test_webhooks import (  # noqa: F401 - fixtures
    HOOK_URL,
    _poller,
    _queue_event_of_paid_payment,
    notify,
    sqs,
)
from tests.unit.test_webhook_signature import readme_helper


def _call(
    api: ApiClient,
    method: str,
    target: str,
    body: Any = None,
    *,
    key: str = TEST_API_KEY,
    idem: str | None = None,
) -> Answer:
    headers = {"authorization": f"Bearer {key}"}
    if body is not None:
        headers["content-type"] = "application/json"
    if idem is not None:
        headers["Idempotency-Key"] = idem
    raw = json.dumps(body).encode() if body is not None else b""
    return api.request(method, target, body=raw, headers=headers)


def _set_hook(api: ApiClient, url: str = HOOK_URL, key: str = TEST_API_KEY) -> str:
    answer = _call(api, "PUT", "/v1/webhook", {"url": url}, key=key)
    assert answer.status == 201, answer.text
    return str(answer.json()["secret"])


# ---- webhook endpoint ----------------------------------------------------------------------------


def test_creating_the_endpoint_shows_its_secret_once(api, store, merchant):
    # When the merchant sets its webhook URL for the first time
    created = _call(api, "PUT", "/v1/webhook", {"url": HOOK_URL})
    # Then the answer carries the signing secret, the one now stored
    assert created.status == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert store.get_merchant(merchant.id).webhook_secret == secret
    # and reading the endpoint never shows it again
    read = _call(api, "GET", "/v1/webhook")
    assert read.status == 200
    assert read.json()["url"] == HOOK_URL
    assert "secret" not in read.json()
    assert secret not in read.text


def test_changing_the_url_keeps_the_secret_and_does_not_show_it(api, store, merchant):
    # Given an endpoint with its secret
    secret = _set_hook(api)
    # When the merchant points it elsewhere
    changed = _call(api, "PUT", "/v1/webhook", {"url": "https://merchant.example/v2/hook"})
    # Then the URL changed, the secret did not, and the answer holds no secret
    assert changed.status == 200, changed.text
    assert changed.json()["url"] == "https://merchant.example/v2/hook"
    assert "secret" not in changed.json()
    assert store.get_merchant(merchant.id).webhook_secret == secret


@pytest.mark.parametrize(
    "url",
    [
        "http://merchant.example/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://printer.local/hook",
        "ftp://merchant.example/hook",
        "not a url",
    ],
)
def test_a_webhook_url_that_is_not_https_to_a_public_host_is_refused(api, store, merchant, url):
    # When the merchant sets a URL inside a network, or not https
    answer = _call(api, "PUT", "/v1/webhook", {"url": url})
    # Then it is a 400 naming the url, and nothing was stored
    assert answer.status == 400, answer.text
    assert "url" in answer.json()["error"]["fields"]
    assert store.get_merchant(merchant.id).webhook_url is None


def test_a_body_that_is_not_a_url_object_is_a_400(api, merchant):
    for body in ([], {"url": 5}, {"url": HOOK_URL, "secret": "mine"}):
        answer = _call(api, "PUT", "/v1/webhook", body)
        assert answer.status == 400, answer.text
        assert answer.json()["error"]["code"] == "validation_error"


def test_rotating_shows_a_new_secret_once_and_the_old_one_signs_within_its_window(
    api,
    store,
    gateways,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
):
    # Given an endpoint whose secret is rotated
    old = _set_hook(api)
    rotated = _call(api, "POST", "/v1/webhook/rotate")
    assert rotated.status == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert "secret" not in _call(api, "GET", "/v1/webhook").json()
    # When an event is delivered within the rotation window
    _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        _poller(sqs, notify).poll_once()
    # Then a receiver holding either secret accepts it, the new one first
    request = endpoint.calls[0].request
    verify = readme_helper()
    header = request.headers["Paylink-Signature"]
    assert header.count("v1=") == 2
    assert verify(request.content, header, [old])
    assert verify(request.content, header, [new])


def test_after_the_rotation_window_only_the_new_secret_signs(
    api,
    store,
    gateways,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
):
    # Given a rotation whose window has passed
    from paylink.core.models import iso, utcnow

    old = _set_hook(api)
    new = _call(api, "POST", "/v1/webhook/rotate").json()["secret"]
    past = iso(utcnow() - timedelta(seconds=1))
    store.set_notification_settings(merchant.id, {"webhook_secret_previous_until": past})
    assert _call(api, "GET", "/v1/webhook").json()["previous_secret_expires_at"] is None
    # When an event is delivered
    _queue_event_of_paid_payment(api, store, notify)
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        _poller(sqs, notify).poll_once()
    # Then only the new secret signs it
    request = endpoint.calls[0].request
    header = request.headers["Paylink-Signature"]
    verify = readme_helper()
    assert header.count("v1=") == 1
    assert verify(request.content, header, [new])
    assert not verify(request.content, header, [old])


def test_a_test_event_is_signed_delivered_and_listed_in_the_deliveries(
    api,
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
):
    # Given an endpoint
    secret = _set_hook(api)
    # When the merchant sends a test event and the notify worker delivers it
    queued = _call(api, "POST", "/v1/webhook/test")
    assert queued.status == 202, queued.text
    with respx.mock(assert_all_called=True) as mock:
        endpoint = mock.post(HOOK_URL).mock(return_value=httpx.Response(200, text="pong"))
        _poller(sqs, notify).poll_once()
    # Then the endpoint got a ping signed with the secret
    request = endpoint.calls[0].request
    body = json.loads(request.content)
    assert (body["id"], body["type"]) == (queued.json()["id"], "ping")
    assert readme_helper()(request.content, request.headers["Paylink-Signature"], [secret])
    # and the deliveries list it with the answer
    items = _call(api, "GET", "/v1/webhook/deliveries").json()["items"]
    assert [(d["event_id"], d["type"], d["tries"], d["outcome"]) for d in items] == [
        (body["id"], "ping", 1, "delivered")
    ]
    assert (items[0]["last_status"], items[0]["last_answer"], items[0]["next_try_at"]) == (200, "pong", None)


def test_a_test_event_goes_to_the_webhook_only_never_to_telegram_or_email(
    api,
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
    monkeypatch,
):
    # Given a merchant with a webhook and a Telegram chat
    from paylink.core.settings import get_settings
    from paylink.merchants.accounts import set_telegram

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", "123456:test-bot-token")
    get_settings.cache_clear()
    _set_hook(api)
    set_telegram(store, "shop", "123456789")
    # When a test event is delivered
    _call(api, "POST", "/v1/webhook/test")
    with respx.mock(assert_all_called=False) as mock:
        hook = mock.post(HOOK_URL).mock(return_value=httpx.Response(200))
        telegram = mock.post(url__startswith=get_settings().telegram_api_url).mock(
            return_value=httpx.Response(200, json={"ok": True})
        )
        _poller(sqs, notify).poll_once()
    # Then the webhook got it and Telegram nothing
    assert (hook.call_count, telegram.call_count) == (1, 0)


def test_a_refused_delivery_is_listed_with_its_answer_and_next_try(
    api,
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
):
    # Given an endpoint that answers 500
    _set_hook(api)
    _call(api, "POST", "/v1/webhook/test")
    with respx.mock(assert_all_called=True) as mock:
        mock.post(HOOK_URL).mock(return_value=httpx.Response(500, text="boom\n\x00 down"))
        _poller(sqs, notify).poll_once()
    # Then the delivery is listed as retrying, with the status, a one-line answer and the next try
    (item,) = _call(api, "GET", "/v1/webhook/deliveries").json()["items"]
    assert (item["outcome"], item["tries"], item["last_status"]) == ("retrying", 1, 500)
    assert item["last_answer"] == "boom down"
    assert item["next_try_at"] > item["last_try_at"]


def test_deliveries_are_paginated_with_a_cursor(api, store, notify, sqs, merchant, monkeypatch):  # noqa: F811
    # Given three delivered test events and pages of two
    import paylink.store.table

    monkeypatch.setattr(paylink.store.table, "PAGE_SIZE", 2)
    _set_hook(api)
    for _ in range(3):
        _call(api, "POST", "/v1/webhook/test")
    with respx.mock() as mock:
        mock.post(HOOK_URL).mock(return_value=httpx.Response(204))
        _poller(sqs, notify).poll_once()
    # When the merchant reads both pages
    first = _call(api, "GET", "/v1/webhook/deliveries").json()
    second = _call(api, "GET", f"/v1/webhook/deliveries?cursor={first['next_cursor']}").json()
    # Then it sees all three once
    ids = [d["event_id"] for d in first["items"] + second["items"]]
    assert len(first["items"]) == 2
    assert len(set(ids)) == 3


def test_deleting_the_endpoint_stops_webhooks_and_its_routes_answer_404(api, store, notify, merchant):  # noqa: F811
    # Given an endpoint
    _set_hook(api)
    # When it is deleted
    deleted = _call(api, "DELETE", "/v1/webhook")
    # Then it is gone with its secrets, and its routes answer 404 until a new one is set
    assert deleted.status == 204, deleted.text
    stored = store.get_merchant(merchant.id)
    assert (stored.webhook_url, stored.webhook_secret, stored.webhook_secret_previous) == (None, None, None)
    for method, target in (
        ("GET", "/v1/webhook"),
        ("POST", "/v1/webhook/rotate"),
        ("POST", "/v1/webhook/test"),
    ):
        assert _call(api, method, target).status == 404
    assert _call(api, "DELETE", "/v1/webhook").status == 404
    # and setting one again shows a fresh secret
    assert _set_hook(api) != ""


def test_a_test_event_without_a_notify_queue_is_a_clear_503(api, merchant, monkeypatch):
    from paylink.core.settings import get_settings

    _set_hook(api)
    monkeypatch.delenv("NOTIFY_QUEUE_URL", raising=False)
    get_settings.cache_clear()
    answer = _call(api, "POST", "/v1/webhook/test")
    assert answer.status == 503
    assert answer.json()["error"]["code"] == "notifications_off"


def test_a_put_repeated_with_its_idempotency_key_shows_the_same_secret_and_makes_one(api, store, merchant):
    # When a PUT that created the endpoint is retried with its Idempotency-Key
    first = _call(api, "PUT", "/v1/webhook", {"url": HOOK_URL}, idem="hook-1")
    again = _call(api, "PUT", "/v1/webhook", {"url": HOOK_URL}, idem="hook-1")
    # Then the retry replays the first answer, whose secret is the stored one
    assert (first.status, again.status) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert store.get_merchant(merchant.id).webhook_secret == first.json()["secret"]


def test_a_rotation_repeated_with_its_idempotency_key_rotates_once(api, store, merchant):
    old = _set_hook(api)
    first = _call(api, "POST", "/v1/webhook/rotate", idem="rot-1")
    again = _call(api, "POST", "/v1/webhook/rotate", idem="rot-1")
    assert again.json()["secret"] == first.json()["secret"]
    stored = store.get_merchant(merchant.id)
    assert (stored.webhook_secret, stored.webhook_secret_previous) == (first.json()["secret"], old)


def test_one_merchants_endpoint_is_invisible_to_another(api, store, merchant, other_merchant):
    # Given my endpoint
    _set_hook(api)
    # When the other merchant, which has none, reads, rotates, tests or deletes "its" endpoint
    answers = [
        _call(api, method, target, key=OTHER_API_KEY)
        for method, target in (
            ("GET", "/v1/webhook"),
            ("POST", "/v1/webhook/rotate"),
            ("POST", "/v1/webhook/test"),
            ("DELETE", "/v1/webhook"),
        )
    ]
    # Then each is a 404 and mine is as it was
    assert [a.status for a in answers] == [404, 404, 404, 404]
    assert all(HOOK_URL not in a.text for a in answers)
    assert store.get_merchant(merchant.id).webhook_url == HOOK_URL
    assert _call(api, "GET", "/v1/webhook/deliveries", key=OTHER_API_KEY).json()["items"] == []


# ---- API keys ------------------------------------------------------------------------------------


def _keys(api: ApiClient, key: str = TEST_API_KEY) -> list[dict[str, Any]]:
    answer = _call(api, "GET", "/v1/api-keys", key=key)
    assert answer.status == 200, answer.text
    return list(answer.json()["items"])


def _new_key(api: ApiClient, name: str = "shop bot", key: str = TEST_API_KEY) -> dict[str, Any]:
    answer = _call(api, "POST", "/v1/api-keys", {"name": name}, key=key)
    assert answer.status == 201, answer.text
    return dict(answer.json())


def test_a_new_key_is_shown_once_listed_without_it_and_works(api, store, merchant):
    # When the merchant creates a key
    created = _new_key(api)
    key = created["key"]
    # Then it starts plk_, its last four are listed, and the list never holds the key
    assert key.startswith("plk_")
    listed = _keys(api)
    assert {k["id"] for k in listed} == {created["id"], listed[-1]["id"]}
    assert next(k for k in listed if k["id"] == created["id"])["last4"] == key[-4:]
    assert key not in json.dumps(listed)
    # and it authenticates as the merchant
    assert _call(api, "GET", "/v1/links", key=key).status == 200


def test_a_revoked_key_answers_401_like_an_unknown_one(api, store, merchant):
    # Given a second key, revoked
    created = _new_key(api)
    revoked = _call(api, "DELETE", f"/v1/api-keys/{created['id']}")
    assert revoked.status == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    # When it is used
    refused = _call(api, "GET", "/v1/links", key=created["key"])
    unknown = _call(api, "GET", "/v1/links", key="plk_never_issued")
    # Then it is the 401 of an unknown key; the list still shows it revoked
    assert refused.status == 401
    assert refused.body == unknown.body
    assert [k["revoked_at"] is not None for k in _keys(api) if k["id"] == created["id"]] == [True]


def test_the_key_in_use_may_be_revoked_when_another_is_active(api, store, merchant):
    # Given the fixture's key and a new one
    created = _new_key(api)
    mine = next(k for k in _keys(api) if k["id"] != created["id"])
    # When the merchant revokes the key it is calling with
    answer = _call(api, "DELETE", f"/v1/api-keys/{mine['id']}")
    # Then it is revoked, and the merchant goes on with the new key
    assert answer.status == 200, answer.text
    assert _call(api, "GET", "/v1/links").status == 401
    assert _call(api, "GET", "/v1/links", key=created["key"]).status == 200


def test_the_last_active_key_cannot_be_revoked(api, store, merchant):
    # Given a merchant with one active key
    (only,) = _keys(api)
    # When it tries to revoke it
    answer = _call(api, "DELETE", f"/v1/api-keys/{only['id']}")
    # Then it is a 409 and the key still works
    assert answer.status == 409, answer.text
    assert answer.json()["error"]["code"] == "conflict"
    assert _call(api, "GET", "/v1/links").status == 200


def test_two_revocations_at_once_never_revoke_the_last_key(api, store, merchant, atomic_dynamodb):
    # Given two active keys, both revoked at the same moment (the domain, from two threads)
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from paylink.core.errors import Conflict
    from paylink.merchants.api_keys import revoke_key

    created = _new_key(api)
    ids = [k["id"] for k in _keys(api)]
    both = threading.Barrier(2)

    def revoke(key_id: str) -> str:
        both.wait(timeout=10)  # the two revocations in two threads, started together
        try:
            revoke_key(store, merchant, key_id)
        except Conflict:
            return "refused"
        return "revoked"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(revoke, ids))
    # Then one is revoked and the other refused: one key still works
    assert outcomes == ["refused", "revoked"]
    working = [_call(api, "GET", "/v1/links", key=k).status for k in (TEST_API_KEY, created["key"])]
    assert sorted(working) == [200, 401]


def test_revoking_a_revoked_key_answers_it_as_it_is(api, store, merchant):
    created = _new_key(api)
    first = _call(api, "DELETE", f"/v1/api-keys/{created['id']}")
    again = _call(api, "DELETE", f"/v1/api-keys/{created['id']}")
    assert (first.status, again.status) == (200, 200)
    assert again.json()["revoked_at"] == first.json()["revoked_at"]


LONG_AGO = "2026-01-01T00:00:00.000000Z"


def test_last_used_at_is_written_at_most_once_a_minute(api, store, merchant, monkeypatch):
    # Given a key used once
    from paylink.core.ids import hash_api_key
    from paylink.store.api_keys import ApiKeyItems

    writes: list[str] = []
    real = ApiKeyItems.touch_api_key

    def counted(self, digest, now, not_since):  # type: ignore[no-untyped-def]
        writes.append(now)
        return real(self, digest, now, not_since)

    monkeypatch.setattr(ApiKeyItems, "touch_api_key", counted)
    _call(api, "GET", "/v1/links")
    first = _keys(api)[0]["last_used_at"]
    # When it is used ten more times within the minute
    for _ in range(10):
        _call(api, "GET", "/v1/links")
    # Then last_used_at was written once and has not moved
    assert first is not None
    assert len(writes) == 1
    assert _keys(api)[0]["last_used_at"] == first
    # and once the date is over a minute old, the next use writes it again
    digest = hash_api_key(TEST_API_KEY)
    store.client.update_item(
        TableName=store.table, Key={"pk": f"APIKEY#{digest}", "sk": "APIKEY"},
        UpdateExpression="SET last_used_at = :t", ExpressionAttributeValues={":t": LONG_AGO},
    )  # fmt: skip
    _call(api, "GET", "/v1/links")
    assert len(writes) == 2
    assert _keys(api)[0]["last_used_at"] > LONG_AGO


def test_a_key_made_before_key_ids_works_and_is_listed_after_its_first_use(api, store, aws):
    # Given a merchant whose key item is the old bare shape (hash -> merchant id only)
    from paylink.core.ids import hash_api_key
    from paylink.merchants.accounts import create_merchant

    old_key = "plk_made_before_ids"
    merchant, _ = create_merchant(store, username="legacy", name="Legacy", iban="IR062960000000100324200001",
                                  api_key=old_key)  # fmt: skip
    digest = hash_api_key(old_key)
    store.client.put_item(
        TableName=store.table, Item={"pk": f"APIKEY#{digest}", "sk": "APIKEY", "merchant_id": merchant.id}
    )
    store.client.update_item(
        TableName=store.table, Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="REMOVE api_keys_active",
    )  # fmt: skip
    # When it is used
    assert _call(api, "GET", "/v1/links", key=old_key).status == 200
    # Then it is listed as the merchant's one active key, which cannot be revoked
    (listed,) = _keys(api, old_key)
    assert (listed["name"], listed["last4"], listed["revoked_at"]) == ("default", old_key[-4:], None)
    assert _call(api, "DELETE", f"/v1/api-keys/{listed['id']}", key=old_key).status == 409
    # and once a second key exists, it can be
    _new_key(api, key=old_key)
    assert _call(api, "DELETE", f"/v1/api-keys/{listed['id']}", key=old_key).status == 200
    assert _call(api, "GET", "/v1/links", key=old_key).status == 401


def test_another_merchants_key_id_answers_exactly_like_a_missing_one(api, store, merchant, other_merchant):
    # Given my second key
    created = _new_key(api)
    # When the other merchant revokes it, and a key that does not exist
    foreign = _call(api, "DELETE", f"/v1/api-keys/{created['id']}", key=OTHER_API_KEY)
    missing = _call(api, "DELETE", "/v1/api-keys/key_nosuchkey00000", key=OTHER_API_KEY)
    # Then both are the same 404, and my key still works and is not listed there
    assert foreign.status == 404
    assert foreign.body == missing.body
    assert _call(api, "GET", "/v1/links", key=created["key"]).status == 200
    assert created["id"] not in json.dumps(_keys(api, OTHER_API_KEY))


def test_a_key_name_is_required_and_bounded(api, merchant):
    for body in ({}, {"name": ""}, {"name": "x" * 61}, {"name": "a\nb"}, {"name": "ok", "scope": "all"}, []):
        answer = _call(api, "POST", "/v1/api-keys", body)
        assert answer.status == 400, (body, answer.text)


def test_a_merchant_has_at_most_ten_active_keys(api, merchant):
    for n in range(9):
        _new_key(api, f"key {n}")
    answer = _call(api, "POST", "/v1/api-keys", {"name": "one too many"})
    assert answer.status == 409, answer.text


def test_a_key_creation_repeated_with_its_idempotency_key_makes_one_key(api, merchant):
    first = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="key-1")
    again = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="key-1")
    assert (first.status, again.status) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == {**first.json(), "key": None}  # the same key's metadata, never the key
    assert len(_keys(api)) == 2


def test_a_new_key_is_never_kept_in_clear_nor_replayed(api, merchant, aws):
    # Given a key created with an Idempotency-Key (a day-long replay record is written)
    first = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="key-clear")
    new_key = first.json()["key"]
    # When the table is read (a backup, an export) and the request is replayed
    stored = json.dumps([i for i in table_items(aws) if i["pk"].startswith("IDEMPOTENCY#")], default=str)
    again = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="key-clear")
    # Then the key is in neither: only its SHA-256 is kept, and it is shown once
    assert new_key not in stored
    assert new_key not in again.text
    assert again.json()["id"] == first.json()["id"]


def test_my_idempotency_key_never_replays_my_new_key_to_another_merchant(api, merchant, other_merchant):
    mine = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="shared")
    theirs = _call(api, "POST", "/v1/api-keys", {"name": "ci"}, idem="shared", key=OTHER_API_KEY)
    assert (mine.status, theirs.status) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["key"] != mine.json()["key"]
