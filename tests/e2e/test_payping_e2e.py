"""PayPing v3 as published, over HTTP against the local runner: a buyer who never comes back is
credited through GET /v1/report/{code} inside PayPing's 10-minute verify window, and a verify
"still in progress" (HTTP 202) is called again, never expired (reference/payping-v3-facts.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
PAYPING = "b"
OTHERS = ("a", "c", "d")
AMOUNT = 1_250_000


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def payping(runner: Runner, http: httpx.Client) -> Iterator[None]:
    """Only the PayPing instance answers: every other sandbox instance is down for the test."""
    listing = http.get(f"{runner.sandbox_url}/").json()["instances"]
    assert any(i["name"] == PAYPING and i["protocol"] == "payping" for i in listing)
    for name in OTHERS:
        _mode(runner, http, name, "down")
    yield
    for name in (*OTHERS, PAYPING):
        _mode(runner, http, name, "ok")


def _mode(runner: Runner, http: httpx.Client, name: str, mode: str) -> None:
    answer = http.post(f"{runner.sandbox_url}/{name}/mode", json={"mode": mode})
    assert answer.json() == {"name": name, "mode": mode}


def _paid_without_return(runner: Runner, http: httpx.Client, username: str) -> tuple[dict[str, str], str]:
    """A PayPing payment the buyer paid at the bank, then never came back from: (auth, paymentCode)."""
    # The merchant uses the PayPing instance only, so the down instances record no failed calls
    # that would weigh on other tests' gateway health.
    key = runner.create_merchant(username, gateways=f"sandbox-{PAYPING}")
    auth = {"Authorization": f"Bearer {key}"}
    created = http.post(f"{runner.url}/v1/links", json={"title": "Gloves", "amount": AMOUNT}, headers=auth)
    assert created.status_code == 201, created.text
    _mode(runner, http, PAYPING, "no_return")
    started = http.post(
        f"{runner.url}/{created.json()['code']}", data={"name": "Sara", "phone": "09351234567"}
    )
    page = open_gateway(http, started)
    assert page.url.path.startswith(f"/{PAYPING}/v3/pay/start/")
    assert act(http, page, "pay") is None  # paid at the bank; the buyer closed the tab
    [payment] = _payments(runner, http, auth)
    assert payment["status"] == "redirected"
    return auth, page.url.path.rsplit("/", 1)[1]


def _payments(runner: Runner, http: httpx.Client, auth: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"]  # type: ignore[type-arg]
    return items


def _reconcile(runner: Runner, http: httpx.Client, minutes_later: float) -> None:
    now = (datetime.now(UTC) + timedelta(minutes=minutes_later)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = http.post(f"{runner.url}/_local/invoke/ReconcileFunction", json={"now": now})
    assert answer.status_code == 200, answer.text


def _calls(runner: Runner, http: httpx.Client, code: str) -> list[dict]:  # type: ignore[type-arg]
    calls: list[dict] = http.get(f"{runner.sandbox_url}/{PAYPING}/calls").json()  # type: ignore[type-arg]
    return [c for c in calls if code in c["path"] or (isinstance(c["body"], dict) and code in str(c["body"]))]


def test_a_payping_buyer_who_never_returns_is_credited_through_the_report(runner, http, payping):
    # Given a PayPing payment paid at the bank whose buyer never came back (no paymentRefId)
    auth, code = _paid_without_return(runner, http, "pp_no_return")
    _mode(runner, http, PAYPING, "ok")
    # When reconciliation runs three minutes later, on our clock and on PayPing's
    http.post(f"{runner.sandbox_url}/_sim/clock", json={"advance_seconds": 180})
    _reconcile(runner, http, 3)
    # Then the report's refId was verified inside the 10-minute window, and the payment is paid
    [payment] = _payments(runner, http, auth)
    assert (payment["status"], payment["amount"]) == ("paid", AMOUNT)
    calls = _calls(runner, http, code)
    report = next(c for c in calls if c["path"] == f"/v1/report/{code}")
    verify = next(c for c in calls if c["path"] == "/v3/pay/verify" and c["http_status"] == 200)
    assert report["http_status"] == 200
    # And paymentRefId went out as the int64 the published VerifyModel takes
    assert isinstance(verify["body"]["paymentRefId"], int)


def test_a_payping_verify_in_progress_is_called_again_never_expired(runner, http, payping):
    # Given a PayPing payment without a return, and PayPing answering its first verify "202: still
    # in progress, call again"
    auth, code = _paid_without_return(runner, http, "pp_in_progress")
    _mode(runner, http, PAYPING, "verify_in_progress")
    # When reconciliation runs after our own window estimate has closed (30 minutes later)
    _reconcile(runner, http, 30)
    # Then the payment is left waiting: PayPing can still complete it
    [payment] = _payments(runner, http, auth)
    assert payment["status"] == "redirected"
    assert any(c["path"] == "/v3/pay/verify" and c["http_status"] == 202 for c in _calls(runner, http, code))
    # When reconciliation runs again and PayPing has finished
    _reconcile(runner, http, 35)
    # Then the payment is paid, once
    [payment] = _payments(runner, http, auth)
    assert payment["status"] == "paid"
