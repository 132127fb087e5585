"""End to end over HTTP only, against the local runner: create, pay, verify, settle."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.buyer import Return, act, open_gateway
from tests.e2e.conftest import DEMO_KEY, Runner

pytestmark = pytest.mark.e2e
AMOUNT = 2_345_670
FEE = (AMOUNT * 150 + 5_000) // 10_000  # 1.5%, rounded half up to the rial: 35,185.05 -> 35,185


def _client() -> httpx.Client:
    return httpx.Client(timeout=15, follow_redirects=False)


def _buy(runner: Runner, http: httpx.Client, key: str, action: str) -> tuple[str, Return, str]:
    """Create a link, open it, post the form, act at the gateway.

    Returns the link code, the buyer's return and the gateway page URL.
    """
    auth = {"Authorization": f"Bearer {key}"}
    created = http.post(
        f"{runner.url}/v1/links", json={"title": "Wool scarf", "amount": AMOUNT}, headers=auth
    )
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    page = http.get(f"{runner.url}/{code}")
    assert page.status_code == 200
    assert "Wool scarf" in page.text
    started = http.post(f"{runner.url}/{code}", data={"name": "Ali", "phone": "09121234567"})
    gateway_page = open_gateway(http, started)
    assert str(gateway_page.url).startswith(runner.sandbox_url)
    assert re.search(r'<form method="post"', gateway_page.text)
    back = act(http, gateway_page, action)
    assert back is not None
    assert back.url.startswith(f"{runner.url}/callback/")
    return code, back, str(gateway_page.url)


def _settle_next_business_day(runner: Runner, http: httpx.Client) -> dict:  # type: ignore[type-arg]
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    answer = http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day})
    assert answer.status_code == 200, answer.text
    result: dict = answer.json()  # type: ignore[type-arg]
    assert result["date"] == day
    return result


def test_create_pay_verify_replay_and_settle_over_http(runner: Runner):
    key = runner.create_merchant("e2e_paid", gateways="sandbox-a")
    auth = {"Authorization": f"Bearer {key}"}
    with _client() as http:
        # Given a buyer who paid a new link at the sandbox gateway
        code, callback, _ = _buy(runner, http, key, "pay")
        # When the gateway sends him back, he lands on a paid receipt
        returned = callback.deliver(http)
        assert returned.status_code == 303
        receipt_url = urljoin(runner.url, returned.headers["location"])
        assert re.fullmatch(rf"{runner.url}/r/pay_\w+", receipt_url)
        receipt = http.get(receipt_url)
        assert receipt.status_code == 200
        assert "پرداخت موفق" in receipt.text
        # And a replayed return changes nothing
        again = callback.deliver(http)
        assert again.headers["location"] == returned.headers["location"]
        payments = http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"]
        assert [(p["status"], p["amount"]) for p in payments] == [("paid", AMOUNT)]
        link = http.get(f"{runner.url}/v1/links/{code}", headers=auth).json()
        assert (link["paid_count"], link["paid_total"]) == (1, AMOUNT)
        # When the next business day is settled
        _settle_next_business_day(runner, http)
        # Then one settlement holds the payment with the right gross, fee and net
        settlements = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"]
        assert len(settlements) == 1
        settlement = settlements[0]
        assert (settlement["payment_count"], settlement["gross"]) == (1, AMOUNT)
        assert (settlement["fee"], settlement["net"]) == (FEE, AMOUNT - FEE)
        assert settlement["status"] == "paid"
        # And settling the same day again creates nothing new
        _settle_next_business_day(runner, http)
        assert http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"] == settlements


def test_cancelled_payment_fails_and_settles_nothing_over_http(runner: Runner):
    key = runner.create_merchant("e2e_cancel", gateways="sandbox-a")
    auth = {"Authorization": f"Bearer {key}"}
    with _client() as http:
        # Given a buyer who cancelled at the sandbox gateway
        code, callback, _ = _buy(runner, http, key, "cancel")
        # When he comes back
        returned = callback.deliver(http)
        receipt = http.get(urljoin(runner.url, returned.headers["location"]))
        # Then the receipt says so and offers to try again
        assert receipt.status_code == 200
        assert f'href="/{code}"' in receipt.text
        payments = http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"]
        assert [p["status"] for p in payments] == ["cancelled"]
        # And settling the next business day pays this merchant nothing
        _settle_next_business_day(runner, http)
        assert http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"] == []


def test_switching_a_sandbox_instance_down_fails_over_by_hand(runner: Runner):
    key = runner.create_merchant("e2e_failover", gateways="sandbox-a,sandbox-b")
    with _client() as http:
        # Given instance a is switched down through the sandbox's control API
        switched = http.post(f"{runner.sandbox_url}/a/mode", json={"mode": "down"})
        assert switched.status_code == 200
        listing = http.get(f"{runner.sandbox_url}/").json()
        assert {"name": "a", "mode": "down"} in [
            {"name": i["name"], "mode": i["mode"]} for i in listing["instances"]
        ]
        try:
            # When a buyer pays a link
            _, callback, gateway_page = _buy(runner, http, key, "pay")
            # Then he was sent to instance b, and paying there works
            assert gateway_page.startswith(f"{runner.sandbox_url}/b/")
            assert callback.deliver(http).status_code == 303
        finally:
            http.post(f"{runner.sandbox_url}/a/mode", json={"mode": "ok"})


def test_runner_prints_the_url_and_the_demo_api_key(runner: Runner):
    # Given the runner started with a chosen demo key
    text = runner.output.read_text()
    # Then what it printed tells a newcomer where to go and which key to use
    assert f"API key:              {DEMO_KEY}" in text
    assert re.search(rf"Open a demo link:\s+{runner.url}/\w{{12}}", text)
    with _client() as http:
        demo = http.get(f"{runner.url}/v1/links", headers={"Authorization": f"Bearer {DEMO_KEY}"})
        assert demo.status_code == 200
        assert len(demo.json()["items"]) == 1


def test_runner_prints_the_demo_personal_page_and_it_opens(runner: Runner):
    text = runner.output.read_text()
    assert f"Demo personal page:   {runner.url}/u/demo" in text
    with _client() as http:
        assert http.get(f"{runner.url}/u/demo").status_code == 200
        assert http.get(f"{runner.url}/u/demo/qr.svg").headers["content-type"] == "image/svg+xml"


def test_a_holiday_settles_nothing_and_its_money_rolls_to_the_next_business_day(runner: Runner):
    from datetime import timedelta

    import holidays

    key = runner.create_merchant("e2e_holiday", gateways="sandbox-a")
    auth = {"Authorization": f"Bearer {key}"}
    with _client() as http:
        # Given a paid payment and Iran's next official holiday that is not a Friday
        _, callback, _ = _buy(runner, http, key, "pay")
        callback.deliver(http)
        today = local_date(utcnow(), "Asia/Tehran")
        official = holidays.country_holidays("IR", years=[today.year, today.year + 1])
        holiday = next(d for d in sorted(official) if d > today + timedelta(days=1) and d.weekday() != 4)
        # When the holiday is settled by hand
        answer = http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": holiday.isoformat()})
        # Then nothing is settled that day
        assert answer.json()["business_day"] is False
        assert http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"] == []
        # And the next business day settles the payment
        after = next_business_day(holiday, "IR").isoformat()
        http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": after})
        [settlement] = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"]
        assert (settlement["date"], settlement["gross"], settlement["status"]) == (after, AMOUNT, "paid")
