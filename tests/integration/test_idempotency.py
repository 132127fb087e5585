"""`Idempotency-Key` on the merchant API's state-changing routes, against moto with template.yaml's table."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.run import Invoker, http_event
from local.template import functions, load_template, routes
from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.helpers import Answer, ApiClient, table_items
from tests.integration.test_invoice_notify import PAYER, outbox  # noqa: F401 - the fixture

LINK = {"title": "Handmade scarf", "amount": 1_200_000}
DAY = 86_400


def _send(
    api: ApiClient, method: str, target: str, payload: Any, *, key: str | None, api_key: str = TEST_API_KEY
) -> Answer:
    """One JSON request with the merchant's API key and, unless `key` is None, an Idempotency-Key."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["idempotency-key"] = key
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return api.request(method, target, body=body, headers=headers)


def _links(table: str) -> list[dict[str, Any]]:
    return [item for item in table_items(table) if item["sk"] == "LINK"]


def _records(table: str) -> list[dict[str, Any]]:
    return [item for item in table_items(table) if item["pk"].startswith("IDEMPOTENCY#")]


def test_same_key_and_body_replays_the_first_link_and_creates_one(api, merchant, aws):
    # Given a link created with an Idempotency-Key
    first = _send(api, "POST", "/v1/links", LINK, key="order-1001")
    assert first.status == 201, first.text
    # When the merchant sends the same request again (its connection dropped, say)
    again = _send(api, "POST", "/v1/links", LINK, key="order-1001")
    # Then it gets the first answer again, marked as a replay, and only one link exists
    assert again.status == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Content-Type"] == "application/json"
    assert [item["code"] for item in _links(aws)] == [first.json()["code"]]


def test_same_body_in_another_key_order_and_spacing_is_the_same_request(api, merchant, aws):
    # Given a link created with a key
    first = _send(api, "POST", "/v1/links", b'{"title": "Handmade scarf", "amount": 1200000}', key="k-order")
    # When the same JSON comes again, written differently
    again = _send(api, "POST", "/v1/links", b'{"amount":1200000,"title":"Handmade scarf"}', key="k-order")
    # Then it is a replay, not a reuse of the key
    assert again.status == 201, again.text
    assert again.json()["code"] == first.json()["code"]
    assert len(_links(aws)) == 1


def test_same_key_with_another_body_is_a_422_and_writes_nothing(api, merchant, aws):
    # Given a link created with a key
    first = _send(api, "POST", "/v1/links", LINK, key="order-1002")
    before = table_items(aws)
    # When the same key comes with another amount
    reused = _send(api, "POST", "/v1/links", {**LINK, "amount": 9_900_000}, key="order-1002")
    # Then it is refused in our error format, and the table is as it was
    assert reused.status == 422
    error = reused.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in error["fields"]
    assert table_items(aws) == before
    assert [item["code"] for item in _links(aws)] == [first.json()["code"]]


def test_requests_without_the_header_are_not_deduplicated(api, merchant, aws):
    # When the merchant creates the same link twice without a key
    codes = {_send(api, "POST", "/v1/links", LINK, key=None).json()["code"] for _ in range(2)}
    # Then there are two links, and no idempotency record
    assert len(codes) == 2
    assert len(_links(aws)) == 2
    assert _records(aws) == []


def test_one_key_of_two_merchants_creates_one_link_each(api, merchant, other_merchant, aws):
    # Given merchant A created a link with key "abc"
    mine = _send(api, "POST", "/v1/links", LINK, key="abc")
    # When merchant B sends the same request with the same key
    theirs = _send(api, "POST", "/v1/links", LINK, key="abc", api_key=OTHER_API_KEY)
    # Then B gets its own new link, not A's answer
    assert theirs.status == 201, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["code"] != mine.json()["code"]
    owners = {item["code"]: item["merchant_id"] for item in _links(aws)}
    assert owners == {mine.json()["code"]: merchant.id, theirs.json()["code"]: other_merchant.id}
    # And each merchant's record lives in a partition of its own (no hot key shared by all merchants)
    partitions = sorted(item["pk"] for item in _records(aws))
    assert partitions == sorted([f"IDEMPOTENCY#{merchant.id}", f"IDEMPOTENCY#{other_merchant.id}"])


def test_one_key_on_two_routes_runs_both(api, merchant, aws):
    # Given a link created with key "k-route"
    link = _send(api, "POST", "/v1/links", LINK, key="k-route")
    # When the same key is sent to create a coupon
    coupon = _send(
        api, "POST", "/v1/coupons", {"code": "NOWRUZ", "kind": "percent", "value": 10}, key="k-route"
    )
    # Then the coupon is created: keys are kept per route
    assert link.status == 201
    assert coupon.status == 201, coupon.text
    assert coupon.json()["code"] == "NOWRUZ"


def test_a_failed_request_is_not_remembered(api, merchant, aws):
    # Given a request refused for a bad body
    refused = _send(api, "POST", "/v1/links", {"title": "Handmade scarf", "amount": -5}, key="order-1003")
    assert refused.status == 400
    assert _records(aws) == []
    # When the merchant fixes the body and sends it with the same key
    fixed = _send(api, "POST", "/v1/links", LINK, key="order-1003")
    # Then it runs, and a retry of it is a replay
    assert fixed.status == 201, fixed.text
    again = _send(api, "POST", "/v1/links", LINK, key="order-1003")
    assert again.json()["code"] == fixed.json()["code"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_links(aws)) == 1


def test_an_unauthenticated_request_with_a_key_is_a_401_and_writes_nothing(api, merchant, aws):
    # When a request with a key comes with a wrong API key
    answer = _send(api, "POST", "/v1/links", LINK, key="order-1004", api_key="plk_wrong")
    # Then it is a 401 and no record was written
    assert answer.status == 401
    assert _records(aws) == []


@pytest.mark.parametrize(
    "key",
    ["", "   ", "k" * 256, "tab\tinside", "کلید"],
    ids=["empty", "blank", "256", "control", "non-ascii"],
)
def test_a_malformed_key_is_a_400_on_the_header(api, merchant, aws, key):
    # When the key is empty, too long or not printable ASCII
    answer = _send(api, "POST", "/v1/links", LINK, key=key)
    # Then it is a validation error on the header, and nothing is written
    assert answer.status == 400
    assert answer.json()["error"]["code"] == "validation_error"
    assert "Idempotency-Key" in answer.json()["error"]["fields"]
    assert _links(aws) == []
    assert _records(aws) == []


def test_a_key_of_255_characters_is_accepted(api, merchant, aws):
    answer = _send(api, "POST", "/v1/links", LINK, key="k" * 255)
    assert answer.status == 201, answer.text


def test_the_record_is_kept_24_hours_and_holds_no_secret(api, merchant, aws):
    # When a link is created with a key
    started = int(time.time())
    _send(api, "POST", "/v1/links", LINK, key="order-secret-7f3a")
    finished = int(time.time())
    # Then one completed record expires (DynamoDB TTL `ttl`) a day later
    [record] = _records(aws)
    assert record["status"] == "COMPLETED"
    assert started + DAY <= int(record["ttl"]) <= finished + DAY
    # And neither the API key nor the raw Idempotency-Key is stored in it
    stored = json.dumps(record, default=str)
    assert TEST_API_KEY not in stored
    assert "order-secret-7f3a" not in stored
    assert record["sk"].startswith("merchant-api#")


def test_an_expired_record_lets_the_request_run_again(api, merchant, aws):
    # Given a link created with a key whose record is past its 24 hours (TTL deletion may lag)
    import boto3

    first = _send(api, "POST", "/v1/links", LINK, key="order-1005")
    [record] = _records(aws)
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws)
    table.update_item(
        Key={"pk": record["pk"], "sk": record["sk"]},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    # When the same request comes again
    again = _send(api, "POST", "/v1/links", LINK, key="order-1005")
    # Then it runs again
    assert again.status == 201
    assert again.json()["code"] != first.json()["code"]
    assert len(_links(aws)) == 2


def _event(method: str, target: str, payload: Any, key: str) -> dict[str, Any]:
    route = next(r for r in routes(load_template()) if r.method == method and r.pattern.match(target))
    match = route.pattern.match(target)
    assert match is not None
    headers = {"host": "pay.example", "content-type": "application/json",
               "authorization": f"Bearer {TEST_API_KEY}", "idempotency-key": key}  # fmt: skip
    body = json.dumps(payload).encode()
    return http_event(method, target, headers, body, route, match.groupdict(), "203.0.113.8")


def test_a_duplicate_while_the_first_runs_is_a_retryable_409(merchant, aws, monkeypatch):
    import paylink.web.merchant_api

    # Given a first request still creating its link (held inside the route)
    inside, release = threading.Event(), threading.Event()
    create_link = paylink.web.merchant_api.create_link

    def held(*args: Any) -> dict[str, Any]:
        inside.set()
        assert release.wait(10)
        return create_link(*args)

    monkeypatch.setattr(paylink.web.merchant_api, "create_link", held)
    invoker = Invoker(functions(load_template())["CreateLinkFunction"])
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(invoker.invoke, _event("POST", "/v1/links", LINK, "order-1006"))
        assert inside.wait(10)
        # When its duplicate arrives meanwhile
        duplicate = invoker.invoke(_event("POST", "/v1/links", LINK, "order-1006"))
        release.set()
        finished = first.result(timeout=10)
    # Then the duplicate is told to retry shortly, and the first one creates the link
    assert duplicate["statusCode"] == 409
    assert json.loads(duplicate["body"])["error"]["code"] == "idempotency_in_progress"
    assert duplicate["headers"]["Retry-After"] == "1"
    assert finished["statusCode"] == 201
    # And the retry after it gets the first answer
    retried = invoker.invoke(_event("POST", "/v1/links", LINK, "order-1006"))
    assert retried["statusCode"] == 201
    assert json.loads(retried["body"])["code"] == json.loads(finished["body"])["code"]
    assert len(_links(aws)) == 1


def test_patch_with_a_key_replays_and_refuses_another_body(api, merchant, aws):
    # Given a link, deactivated with a key
    code = _send(api, "POST", "/v1/links", LINK, key=None).json()["code"]
    first = _send(api, "PATCH", f"/v1/links/{code}", {"active": False, "title": "Old scarf"}, key="patch-1")
    assert first.status == 200, first.text
    # And changed again since, without a key
    _send(api, "PATCH", f"/v1/links/{code}", {"title": "New scarf"}, key=None)
    # When the first change is retried with its key
    again = _send(api, "PATCH", f"/v1/links/{code}", {"active": False, "title": "Old scarf"}, key="patch-1")
    # Then the first answer is replayed and the later title is not overwritten
    assert again.status == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _send(api, "GET", f"/v1/links/{code}", b"", key=None).json()["title"] == "New scarf"
    # And the key with another body is refused
    reused = _send(api, "PATCH", f"/v1/links/{code}", {"active": True}, key="patch-1")
    assert reused.status == 422


def test_create_coupon_twice_with_a_key_creates_it_once(api, merchant, aws):
    # Given a coupon created with a key
    body = {"code": "YALDA", "kind": "percent", "value": 20}
    first = _send(api, "POST", "/v1/coupons", body, key="coupon-1")
    assert first.status == 201, first.text
    # When it is sent again with the key (without one, the same code would be a 409)
    again = _send(api, "POST", "/v1/coupons", body, key="coupon-1")
    # Then the first answer is replayed and one coupon exists
    assert again.status == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len([item for item in table_items(aws) if item["sk"] == "COUPON"]) == 1
    # And another body under the key is refused
    assert _send(api, "POST", "/v1/coupons", {**body, "value": 30}, key="coupon-1").status == 422


def test_send_invoice_twice_with_a_key_sends_once(api, merchant, gateways, outbox):  # noqa: F811
    # Given an invoice sent to its payer by SMS with a key
    invoice = {"title": "Design work", "kind": "invoice", "amount": 4_500_000, "payer": PAYER}
    code = _send(api, "POST", "/v1/links", invoice, key=None).json()["code"]
    first = _send(api, "POST", f"/v1/links/{code}/send", {"via": ["sms"]}, key="send-1")
    assert first.status == 200, first.text
    # When the send is retried with the key
    again = _send(api, "POST", f"/v1/links/{code}/send", {"via": ["sms"]}, key="send-1")
    # Then the first answer is replayed and the payer got one SMS
    assert again.status == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(outbox()["sms"]) == 1
    # And the key with other channels is refused
    assert _send(api, "POST", f"/v1/links/{code}/send", {"via": ["email"]}, key="send-1").status == 422


def test_a_request_that_crashes_is_not_remembered(api, merchant, aws, monkeypatch):
    import paylink.web.merchant_api

    # Given a request with a key that crashed inside the route
    create_link = paylink.web.merchant_api.create_link
    monkeypatch.setattr(paylink.web.merchant_api, "create_link", lambda *args: 1 / 0)
    crashed = _send(api, "POST", "/v1/links", LINK, key="order-1007")
    assert crashed.status == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert _records(aws) == []
    # When it is retried with the key once the fault is gone
    monkeypatch.setattr(paylink.web.merchant_api, "create_link", create_link)
    again = _send(api, "POST", "/v1/links", LINK, key="order-1007")
    # Then it runs
    assert again.status == 201, again.text
    assert "Idempotent-Replayed" not in again.headers


def test_a_failure_answered_without_raising_is_not_remembered(api, merchant, aws, monkeypatch):
    import functions.create_link.app as handler
    from paylink.web.http import json_response

    # Given a route that answers a 503 instead of raising
    busy = {"error": {"code": "busy", "message": "try again later"}}
    monkeypatch.setattr(handler, "json_response", lambda status, body: json_response(503, busy))
    failed = _send(api, "POST", "/v1/links", LINK, key="order-1008")
    assert failed.status == 503
    # Then nothing is remembered, and the retry runs
    assert _records(aws) == []
    monkeypatch.setattr(handler, "json_response", json_response)
    assert _send(api, "POST", "/v1/links", LINK, key="order-1008").status == 201


def test_dynamodb_calls_with_a_key_first_and_on_replay(api, merchant, store):
    from paylink.store.idempotency import idempotency_persistence
    from tests.integration.test_call_counts import dynamodb_calls

    records = idempotency_persistence(merchant.id)
    # When a link is created with a key, then retried
    with dynamodb_calls(store) as first, dynamodb_calls(records) as first_records:
        _send(api, "POST", "/v1/links", LINK, key="order-1009")
    with dynamodb_calls(store) as replay, dynamodb_calls(records) as replay_records:
        _send(api, "POST", "/v1/links", LINK, key="order-1009")
    # Then the merchant is looked up once per request (the route reuses the middleware's), the first
    # notes the key's first use (last_used_at, then not again within the minute) and adds the
    # record's put and update, and the replay writes nothing but the failed conditional put
    assert first == ["GetItem", "GetItem", "UpdateItem", "PutItem"]
    assert first_records == ["PutItem", "UpdateItem"]
    assert replay == ["GetItem", "GetItem"]
    assert replay_records == ["PutItem"]
