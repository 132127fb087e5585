"""End to end over HTTP against the local runner: pay, refund part inside the reverse window (a
partial goes by transfer), settle, refund the rest by transfer through the payer's page with the
card that paid (SMS from the sandbox's Kavenegar, card checked by its Zibal inquiry, paid out by its
Jibit), and see each refund in its settlement."""

from __future__ import annotations

import re
import time
from datetime import date

import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner
from tests.integration.test_refund_payer import matching_card

pytestmark = pytest.mark.e2e
AMOUNT = 3_456_780
FIRST = 400_000
PHONE = "09127654321"


def _pay(runner: Runner, http: httpx.Client, auth: dict[str, str], code: str) -> str:
    started = http.post(f"{runner.url}/{code}", data={"name": "Ali", "phone": PHONE})
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    assert back.deliver(http).status_code == 303
    return str(http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"][0]["id"])


def _settle(runner: Runner, http: httpx.Client, day: date) -> None:
    answer = http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day.isoformat()})
    assert answer.status_code == 200, answer.text


def _refund_links(runner: Runner, http: httpx.Client) -> list[str]:
    calls = http.get(f"{runner.sandbox_url}/sms/calls").json()
    texts = [c["body"]["message"] for c in calls if c["path"].endswith("/sms/send.json")]
    return [m.group(1) for t in texts for m in [re.search(r"/refund/([A-Za-z0-9_-]+)", t)] if m]


def test_refunds_by_transfer_reach_the_paying_card_and_their_settlements(runner: Runner):
    with httpx.Client(timeout=60) as http:
        key = runner.create_merchant("e2e_refunds", gateways="sandbox-c")  # Zarinpal: a 30-minute window
        auth = {"Authorization": f"Bearer {key}"}
        link = http.post(
            f"{runner.url}/v1/links", json={"title": "Rug", "amount": AMOUNT}, headers=auth
        ).json()
        _pay(runner, http, auth, link["code"])  # another payment: the balance covers the fee we keep
        paid = _pay(runner, http, auth, link["code"])
        # When the merchant refunds part of it minutes after payment
        first = http.post(f"{runner.url}/v1/payments/{paid}/refunds", json={"amount": FIRST}, headers=auth)
        # Then it goes by transfer (only the whole payment is reversed), and the payer gets a link
        assert first.status_code == 201, first.text
        assert (first.json()["method"], first.json()["status"]) == ("transfer", "awaiting_payer")
        links_before = _refund_links(runner, http)
        assert links_before
        # When the next business day is settled
        day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR")
        _settle(runner, http, day)
        [settlement] = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"]
        # Then the refund is netted in it
        assert (settlement["refunds"], settlement["carried_in"]) == (FIRST, 0)
        assert settlement["net"] == settlement["gross"] - settlement["fee"] - FIRST
        payment = http.get(f"{runner.url}/v1/payments/{paid}", headers=auth).json()
        assert payment["status"] == "settled"
        # When the merchant refunds the rest after settlement
        rest = http.post(f"{runner.url}/v1/payments/{paid}/refunds", json={}, headers=auth)
        assert rest.status_code == 201, rest.text
        assert (rest.json()["amount"], rest.json()["method"]) == (AMOUNT - FIRST, "transfer")
        token = [t for t in _refund_links(runner, http) if t not in links_before][-1]
        # And the payer opens the SMS link and enters the card that paid
        page = http.get(f"{runner.url}/refund/{token}?lang=en")
        assert page.status_code == 200
        assert payment["card_mask"] in page.text
        posted = http.post(
            f"{runner.url}/refund/{token}",
            data={"card": matching_card(payment["card_mask"])},
            follow_redirects=False,
        )
        assert posted.status_code == 303, posted.text
        # Then the refund is paid out by its own transfer and succeeds
        deadline = time.monotonic() + 60
        while True:
            listed = http.get(f"{runner.url}/v1/payments/{paid}/refunds", headers=auth).json()["items"]
            if listed[-1]["status"] == "succeeded" or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert [r["status"] for r in listed][-1] == "succeeded"
        payment = http.get(f"{runner.url}/v1/payments/{paid}", headers=auth).json()
        assert (payment["amount_refunded"], payment["status"]) == (AMOUNT, "refunded")
        # And the rest is netted in the next settlement, with a new payment
        _pay(runner, http, auth, link["code"])
        _settle(runner, http, next_business_day(day, "IR"))
        latest = http.get(f"{runner.url}/v1/settlements", headers=auth).json()["items"][0]
        assert latest["id"] != settlement["id"]
        assert latest["refunds"] == AMOUNT - FIRST
        total = latest["gross"] - latest["fee"] - latest["refunds"] - latest["carried_in"]
        assert latest["net"] == max(0, total)
        # And the receipt shows what was refunded
        receipt = http.get(f"{runner.url}/r/{paid}?lang=en")
        assert "Refunded" in receipt.text
