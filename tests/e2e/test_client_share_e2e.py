"""Over HTTP against the local runner: one client filling a merchant's day with open payments
cannot keep another buyer from a gateway, and what it held comes back when its payments end.

Each client is its own source address (127.0.0.2, 127.0.0.3): the runner passes the connection's
peer address as `requestContext.http.sourceIp`, as API Gateway does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
MOST_PER_PAYMENT_TOMAN = "1000000"  # a personal account: 10,000,000 rials a payment, 30,000,000 a day
TOKEN_LIFETIME = timedelta(minutes=15)  # the Zibal sandbox's token lifetime


def _client(address: str) -> httpx.Client:
    """A client connecting from its own address."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, timeout=30, follow_redirects=False)


@pytest.fixture
def clients() -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with _client("127.0.0.2") as attacker, _client("127.0.0.3") as buyer:
        yield attacker, buyer


def _open(runner: Runner, http: httpx.Client, page: str, toman: str) -> httpx.Response:
    return http.post(f"{runner.url}{page}", data={"amount": toman, "name": "Mallory"})


def _invoke(runner: Runner, function: str, event: dict) -> dict:  # type: ignore[type-arg]
    answer = httpx.post(f"{runner.url}/_local/invoke/{function}", json=event, timeout=60)
    assert answer.status_code == 200, answer.text
    result: dict = answer.json()  # type: ignore[type-arg]
    return result


def test_one_address_filling_the_cap_with_open_payments_leaves_a_buyer_a_gateway(runner, clients):
    attacker, buyer = clients
    runner.create_merchant("share_cap", gateways="sandbox-a")
    page = "/u/share_cap"
    # Given a client at 127.0.0.2 opening payments of the most a payment may be, then small ones,
    # and leaving every one open
    big = [_open(runner, attacker, page, MOST_PER_PAYMENT_TOMAN).status_code for _ in range(4)]
    small = [_open(runner, attacker, page, "10000").status_code for _ in range(4)]
    # When a buyer at 127.0.0.3 pays the most a payment may be
    started = _open(runner, buyer, page, MOST_PER_PAYMENT_TOMAN)
    # Then he reaches the gateway's page, and the client held one payment of 10,000,000 rials
    assert started.status_code == 303, started.text[:300]
    gateway_page = open_gateway(buyer, started)
    assert gateway_page.status_code == 200
    assert str(gateway_page.url).startswith(runner.sandbox_url)
    assert big == [303, 429, 429, 429]
    assert small == [429] * 4  # its one open payment is over its share of the day already
    refused = _open(runner, attacker, page + "?lang=en", "10000")
    assert refused.status_code == 429
    assert "unfinished payment" in refused.text


def test_a_cancelled_or_abandoned_payment_gives_the_client_its_share_back(runner, clients):
    attacker, _ = clients
    runner.create_merchant("share_back", gateways="sandbox-a")
    page = "/u/share_back"
    # Given a client holding its three open payments of 10,000 toman
    started = [_open(runner, attacker, page, "10000") for _ in range(3)]
    assert [s.status_code for s in started] == [303] * 3
    assert _open(runner, attacker, page, "10000").status_code == 429
    # When it cancels one at the gateway, it may start one again at once
    back = act(attacker, open_gateway(attacker, started[0]), "cancel")
    assert back is not None
    cancelled_at = time.monotonic()
    back.deliver(attacker)
    again = _open(runner, attacker, page, "10000")
    assert again.status_code == 303
    print(f"share back after a cancel: {1000 * (time.monotonic() - cancelled_at):.0f} ms")
    assert _open(runner, attacker, page, "10000").status_code == 429
    # When the gateway's token lifetime has passed and reconciliation runs (every 5 minutes)
    httpx.post(
        f"{runner.sandbox_url}/_sim/clock", json={"advance_seconds": TOKEN_LIFETIME.total_seconds() + 1}
    )
    later = datetime.now(UTC) + TOKEN_LIFETIME + timedelta(seconds=1)
    report = _invoke(runner, "ReconcileFunction", {"now": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    # Then the abandoned payments have ended (the gateway says their token is over) and the client
    # may start one again
    assert sum(report["decided"].values()) >= 3
    assert _open(runner, attacker, page, "10000").status_code == 303
