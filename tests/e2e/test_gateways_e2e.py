"""Gateways over HTTP against the local runner: every protocol, failover, reconciliation, concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import httpx
import pytest

from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
INSTANCES = ["a", "b", "c", "d"]
PROTOCOL = {"a": "zibal", "b": "payping", "c": "zarinpal", "d": "sep"}
AMOUNT = 1_250_000


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def only(runner: Runner, http: httpx.Client) -> Iterator[object]:
    """Put one sandbox instance in a mode for the duration of a test (its merchant uses only it)."""

    def switch(name: str, mode: str = "ok") -> None:
        http.post(f"{runner.sandbox_url}/{name}/mode", json={"mode": mode})

    yield switch
    for name in INSTANCES:
        http.post(f"{runner.sandbox_url}/{name}/mode", json={"mode": "ok"})


def _merchant_and_link(
    runner: Runner, http: httpx.Client, username: str, gateways: str
) -> tuple[dict[str, str], str]:
    key = runner.create_merchant(username, gateways=gateways)
    auth = {"Authorization": f"Bearer {key}"}
    created = http.post(f"{runner.url}/v1/links", json={"title": "Gloves", "amount": AMOUNT}, headers=auth)
    assert created.status_code == 201, created.text
    return auth, created.json()["code"]


def _payments(runner: Runner, http: httpx.Client, auth: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"]  # type: ignore[type-arg]
    return items


def _invoke(runner: Runner, http: httpx.Client, function: str, event: dict) -> dict:  # type: ignore[type-arg]
    answer = http.post(f"{runner.url}/_local/invoke/{function}", json=event)
    assert answer.status_code == 200, answer.text
    result: dict = answer.json()  # type: ignore[type-arg]
    return result


def _later(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("instance", INSTANCES, ids=[PROTOCOL[i] for i in INSTANCES])
def test_each_protocol_pays_verifies_and_ignores_a_replay(runner, http, only, instance):
    # Given a merchant that uses one sandbox instance, speaking one real protocol
    auth, code = _merchant_and_link(runner, http, f"proto_{instance}", f"sandbox-{instance}")
    # When a buyer pays there and is sent back
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    page = open_gateway(http, started)
    assert page.url.path.startswith(f"/{instance}/")
    back = act(http, page, "pay")
    assert back is not None
    first = back.deliver(http)
    # Then he lands on a paid receipt, and a replayed return changes nothing
    assert first.status_code == 303
    receipt = http.get(urljoin(runner.url, first.headers["location"]))
    assert "پرداخت موفق" in receipt.text
    assert back.deliver(http).headers["location"] == first.headers["location"]
    [payment] = _payments(runner, http, auth)
    assert (payment["status"], payment["amount"], payment["gateway"]) == (
        "paid",
        AMOUNT,
        f"sandbox-{instance}",
    )
    assert payment["card_mask"]
    assert "*" in payment["card_mask"]


def test_a_slow_gateway_fails_over_within_the_budget(runner, http):
    # Given instance a answers only after 8 s (its timeout is 3 s) and b is fine
    http.post(f"{runner.sandbox_url}/a/mode", json={"mode": "slow"})
    try:
        _, code = _merchant_and_link(runner, http, "slow_a", "sandbox-a,sandbox-b")
        # When a buyer checks out
        started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
        # Then he is sent to b within the 8 s budget
        assert started.status_code == 303
        assert started.headers["location"].startswith(f"{runner.sandbox_url}/b/")
        assert started.elapsed.total_seconds() < 8.0
    finally:
        http.post(f"{runner.sandbox_url}/a/mode", json={"mode": "ok"})


def test_a_buyer_who_never_returns_is_credited_by_reconciliation(runner, http, only):
    # Given a buyer who paid at Zibal's sandbox and never came back
    only("a", "no_return")
    auth, code = _merchant_and_link(runner, http, "no_return", "sandbox-a")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    assert act(http, open_gateway(http, started), "pay") is None
    assert _payments(runner, http, auth)[0]["status"] == "redirected"
    # When reconciliation runs two minutes later
    _invoke(runner, http, "ReconcileFunction", {"now": _later(2)})
    # Then the payment is paid
    assert _payments(runner, http, auth)[0]["status"] == "paid"


def test_a_verify_that_timed_out_is_credited_by_reconciliation(runner, http, only):
    # Given PayPing's sandbox commits the verify but its answer is lost
    only("b", "verify_timeout")
    auth, code = _merchant_and_link(runner, http, "verify_timeout", "sandbox-b")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    back.deliver(http)
    assert _payments(runner, http, auth)[0]["status"] == "redirected"
    # When reconciliation runs
    http.post(f"{runner.sandbox_url}/b/mode", json={"mode": "ok"})
    _invoke(runner, http, "ReconcileFunction", {"now": _later(2)})
    # Then the repeated verify ("already verified") makes it paid
    assert _payments(runner, http, auth)[0]["status"] == "paid"


def test_a_bank_payment_without_return_expires_after_its_window(runner, http, only):
    # Given a buyer who left SEP's page without coming back (SEP needs his RefNum to verify)
    only("d", "no_return")
    auth, code = _merchant_and_link(runner, http, "sep_gone", "sandbox-d")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    act(http, open_gateway(http, started), "pay")
    # When reconciliation runs inside SEP's window, then after it (the bank has reversed it)
    _invoke(runner, http, "ReconcileFunction", {"now": _later(5)})
    assert _payments(runner, http, auth)[0]["status"] == "redirected"
    _invoke(runner, http, "ReconcileFunction", {"now": _later(60)})
    # Then it is expired: the buyer keeps his money
    [payment] = _payments(runner, http, auth)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "no_return")


def test_ten_concurrent_returns_credit_once(runner, http, only):
    # Given a buyer paid at Zarinpal's sandbox
    auth, code = _merchant_and_link(runner, http, "ten_returns", "sandbox-c")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    # When his return arrives ten times at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: back.deliver(httpx.Client(timeout=30)), range(10)))
    # Then all land on one receipt and the link counts one payment
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["location"] for a in answers}) == 1
    link = http.get(f"{runner.url}/v1/links/{code}", headers=auth).json()
    assert (link["paid_count"], link["paid_total"]) == (1, AMOUNT)


def test_double_return_credits_once(runner, http, only):
    # Given a gateway that delivers the return twice (once server-side, once through the browser)
    only("a", "double_return")
    auth, code = _merchant_and_link(runner, http, "double_return", "sandbox-a")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    back.deliver(http)
    # Then one payment, paid once
    link = http.get(f"{runner.url}/v1/links/{code}", headers=auth).json()
    assert (link["paid_count"], link["paid_total"]) == (1, AMOUNT)
    assert [p["status"] for p in _payments(runner, http, auth)] == ["paid"]


def test_a_forged_return_changes_nothing(runner, http, only):
    # Given a return claiming success for a payment nobody paid
    only("a", "forged_return")
    auth, code = _merchant_and_link(runner, http, "forged", "sandbox-a")
    started = http.post(f"{runner.url}/{code}", data={"name": "Sara", "phone": "09351234567"})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    back.deliver(http)
    # Then the payment is not paid
    assert _payments(runner, http, auth)[0]["status"] == "redirected"
