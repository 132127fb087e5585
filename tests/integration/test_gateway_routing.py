"""Health-based routing against moto and the sandbox: failover, time budget, circuit breaker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.conftest import TEST_API_KEY

BUYER = {"name": "Ali", "phone": "09121234567"}


@pytest.fixture
def code(api, merchant, gateways):  # type: ignore[no-untyped-def]
    return api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]


def _checkout(api, code):  # type: ignore[no-untyped-def]
    answer = api.post_form(f"/{code}", BUYER)
    assert answer.status == 303, answer.text
    return answer.location


def _circuit(store, name):  # type: ignore[no-untyped-def]
    return store.gateway_healths([name], [])[name]


def _creates(gateways, name):  # type: ignore[no-untyped-def]
    return [c for c in gateways.calls(name) if c["path"].endswith("/v1/request")]


def test_a_slow_gateway_fails_over_within_the_budget(api, code, gateways):
    # Given gateway a answers only after 2 s, beyond its 1 s timeout
    gateways.set_mode("a", "slow")
    # When a buyer checks out
    started = time.monotonic()
    location = _checkout(api, code)
    elapsed = time.monotonic() - started
    # Then he is sent to b, within the 4 s budget the test configures
    assert location.startswith(f"{gateways.url}/b/")
    assert elapsed < 4.0
    # (a answers our abandoned request only after its 2 s: wait, so that late call is this test's)
    time.sleep(2.2)


def _fail_three_times(store, gateways):  # type: ignore[no-untyped-def]
    """Gateway a fails three requests in a row (here: the minute probe's)."""
    from paylink.core.models import utcnow
    from paylink.payments.probe import probe

    gateways.set_mode("a", "down")
    for _ in range(3):
        probe(store, utcnow(), "https://pay.example")


def test_a_failing_gateway_sinks_below_a_healthy_one(api, code, gateways):
    # Given gateway a failed once and b worked once
    gateways.set_mode("a", "down")
    _checkout(api, code)
    gateways.set_mode("a", "ok")
    tried_before = len(_creates(gateways, "a"))
    # When the next buyer checks out
    location = _checkout(api, code)
    # Then the healthier b is asked first
    assert location.startswith(f"{gateways.url}/b/")
    assert len(_creates(gateways, "a")) == tried_before


def test_three_failures_open_the_circuit_and_the_gateway_is_skipped(api, code, gateways, store):
    # Given gateway a failed three requests in a row
    _fail_three_times(store, gateways)
    assert _circuit(store, "sandbox-a").state.value == "open"
    # When a is healthy again but still cooling down
    gateways.set_mode("a", "ok")
    tried_before = len(_creates(gateways, "a"))
    location = _checkout(api, code)
    # Then a is not even asked
    assert location.startswith(f"{gateways.url}/b/")
    assert len(_creates(gateways, "a")) == tried_before


def test_checkouts_alone_open_the_circuit_of_a_merchants_only_gateway(api, merchant, gateways, store):
    # Given a merchant that accepts only gateway a, which is down
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="SET gateways = :only",
        ExpressionAttributeValues={":only": ["sandbox-a"]},
    )
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]
    gateways.set_mode("a", "down")
    # When three buyers fail to check out
    answers = [api.post_form(f"/{code}", BUYER).status for _ in range(3)]
    # Then each saw the 503 page, the circuit is open, and the fourth is answered without asking a
    assert answers == [503, 503, 503]
    assert _circuit(store, "sandbox-a").state.value == "open"
    tried_before = len(_creates(gateways, "a"))
    assert api.post_form(f"/{code}", BUYER).status == 503
    assert len(_creates(gateways, "a")) == tried_before


def _cool_down(store, name):  # type: ignore[no-untyped-def]
    from paylink.core.models import iso, utcnow
    from paylink.payments.health import COOLDOWN

    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"GATEWAY#{name}", "sk": "CIRCUIT"},
        UpdateExpression="SET opened_at = :past",
        ExpressionAttributeValues={":past": iso(utcnow() - COOLDOWN - timedelta(seconds=1))},
    )


def test_after_the_cool_down_one_successful_trial_closes_the_circuit(api, code, gateways, store):
    # Given a's circuit opened and its cool-down is over, and a works again
    _fail_three_times(store, gateways)
    gateways.set_mode("a", "ok")
    _cool_down(store, "sandbox-a")
    # When the next buyer checks out
    location = _checkout(api, code)
    # Then that request is a's trial; it succeeds and the circuit closes
    assert location.startswith(f"{gateways.url}/a/")
    assert _circuit(store, "sandbox-a").state.value == "closed"


def test_after_the_cool_down_a_failed_trial_opens_the_circuit_again(api, code, gateways, store):
    # Given a's circuit opened, its cool-down is over, and a is still down
    _fail_three_times(store, gateways)
    _cool_down(store, "sandbox-a")
    tried_before = len(_creates(gateways, "a"))
    # When the next buyer checks out
    location = _checkout(api, code)
    # Then the one trial fails, the buyer still goes to b, and a rests again for a new cool-down
    assert location.startswith(f"{gateways.url}/b/")
    assert len(_creates(gateways, "a")) == tried_before + 1
    again = len(_creates(gateways, "a"))
    _checkout(api, code)
    assert len(_creates(gateways, "a")) == again
    assert _circuit(store, "sandbox-a").state.value == "open"


def test_only_one_request_gets_the_trial(store):
    # Given a circuit whose cool-down is over
    from paylink.core.models import iso, utcnow
    from paylink.payments.health import COOLDOWN

    now = utcnow()
    store.client.put_item(
        TableName=store.table,
        Item={"pk": "GATEWAY#g", "sk": "CIRCUIT", "state": "open", "opened_at": iso(now - COOLDOWN * 2)},
    )
    # When two requests claim the trial
    first = store.claim_trial("g", iso(now), iso(now - COOLDOWN))
    second = store.claim_trial("g", iso(now), iso(now - COOLDOWN))
    # Then only the first gets it
    assert (first, second) == (True, False)


def test_outcomes_feed_the_health_buckets(api, code, gateways, store, monkeypatch):
    import paylink.payments.health as health

    # Given every success counted (not one in SUCCESS_SAMPLE) and one failover from a to b
    monkeypatch.setattr(health, "SUCCESS_SAMPLE", 1)
    gateways.set_mode("a", "down")
    _checkout(api, code)
    # Then a's bucket counts a failure and b's a success, with latencies
    from paylink.core.models import utcnow
    from paylink.payments.health import window_keys

    healths = store.gateway_healths(["sandbox-a", "sandbox-b"], window_keys(utcnow()))
    assert (healths["sandbox-a"].totals.attempts, healths["sandbox-a"].totals.failures) == (1, 1)
    assert (healths["sandbox-b"].totals.attempts, healths["sandbox-b"].totals.successes) == (1, 1)
    assert healths["sandbox-a"].success_rate < healths["sandbox-b"].success_rate


def test_a_merchant_may_restrict_its_gateways(api, merchant, gateways, store):
    # Given a merchant that accepts only gateway b
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
        UpdateExpression="SET gateways = :only",
        ExpressionAttributeValues={":only": ["sandbox-b"]},
    )
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]
    # When a buyer checks out while a is healthy
    location = _checkout(api, code)
    # Then he goes to b
    assert location.startswith(f"{gateways.url}/b/")


def test_the_probe_feeds_health_and_opens_a_failing_circuit(store, gateways, monkeypatch):
    # Given gateway a is down
    from paylink.core.models import utcnow
    from paylink.payments.probe import probe

    gateways.set_mode("a", "down")
    # When the probe runs three times
    for _ in range(3):
        verdicts = probe(store, utcnow(), "https://pay.example")
    # Then a failed each time and its circuit is open; b is fine
    assert verdicts["sandbox-b"] == "ok"
    assert _circuit(store, "sandbox-a").state.value == "open"
    assert probe(store, utcnow(), "https://pay.example")["sandbox-a"] == "resting"
