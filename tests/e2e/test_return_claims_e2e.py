"""Gateway returns are claims, over HTTP against the local runner (issue 11, items 1 and 3): another
payment's reference reverses nothing, a forged "cancelled" does not stop a real payment. The gateway
under test is forced by switching the other sandbox instances down (and by the merchant's list)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.buyer import Return, act, open_gateway
from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e
INSTANCES = ("a", "b", "c", "d")
BUYER = {"name": "Sara", "phone": "09351234567"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def force(runner: Runner, http: httpx.Client) -> Iterator[object]:
    """Leave one sandbox instance up: every other one answers an HTML 502 until the test ends."""

    def only(name: str) -> None:
        for other in INSTANCES:
            mode = "ok" if other == name else "down"
            assert http.post(f"{runner.sandbox_url}/{other}/mode", json={"mode": mode}).status_code == 200

    yield only
    for name in INSTANCES:
        http.post(f"{runner.sandbox_url}/{name}/mode", json={"mode": "ok"})


def _merchant(runner: Runner, username: str, instance: str) -> dict[str, str]:
    """A merchant on the one gateway left up. Restricted to it as well: a checkout failing over
    through the down instances would open their circuits (3 failures, 30 s) for the next tests."""
    return {"Authorization": f"Bearer {runner.create_merchant(username, gateways=f'sandbox-{instance}')}"}


def _link(runner: Runner, http: httpx.Client, auth: dict[str, str], amount: int) -> str:
    created = http.post(
        f"{runner.url}/v1/links", json={"title": f"Item {amount}", "amount": amount}, headers=auth
    )
    assert created.status_code == 201, created.text
    return str(created.json()["code"])


def _payments(runner: Runner, http: httpx.Client, auth: dict[str, str]) -> dict[str, dict]:  # type: ignore[type-arg]
    items = http.get(f"{runner.url}/v1/payments", headers=auth).json()["items"]
    return {p["link_code"]: p for p in items}


def _at_gateway(runner: Runner, http: httpx.Client, code: str, instance: str) -> httpx.Response:
    started = http.post(f"{runner.url}/{code}", data=BUYER)
    page = open_gateway(http, started)
    assert urlsplit(str(page.url)).path.startswith(f"/{instance}/"), page.url
    return page


def _pay(http: httpx.Client, page: httpx.Response) -> Return:
    back = act(http, page, "pay")
    assert isinstance(back, Return)
    return back


def _reconcile(runner: Runner, http: httpx.Client, minutes: int) -> None:
    now = (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert http.post(f"{runner.url}/_local/invoke/ReconcileFunction", json={"now": now}).status_code == 200


def _sep_reverses(runner: Runner, http: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    calls: list[dict] = http.get(f"{runner.sandbox_url}/d/calls").json()  # type: ignore[type-arg]
    return [c for c in calls if c["path"].endswith("ReverseTransaction")]


def test_a_sep_return_with_a_paid_payments_refnum_reverses_nothing(runner, http, force):
    # Given SEP only, a paid payment Y and a buyer at SEP for a payment Z of another amount
    force("d")
    auth = _merchant(runner, "claims_refnum", "d")
    cheap, dear = _link(runner, http, auth, 700_000), _link(runner, http, auth, 900_000)
    paid = _pay(http, _at_gateway(runner, http, cheap, "d"))
    paid.deliver(http)
    z_return = _pay(http, _at_gateway(runner, http, dear, "d"))
    reverses = len(_sep_reverses(runner, http))
    # When a forged return for Z carries Z's Token and ResNum but Y's RefNum (printed on Y's receipt)
    forged = Return("POST", z_return.url, {**z_return.fields, "RefNum": paid.fields["RefNum"]})
    refused = forged.deliver(http)
    # And reconciliation runs
    _reconcile(runner, http, 2)
    # Then SEP reverses nothing, Y stays paid and the return is refused
    assert len(_sep_reverses(runner, http)) == reverses
    assert _payments(runner, http, auth)[cheap]["status"] == "paid"
    assert refused.status_code == 400
    # And Z's own return still credits Z
    z_return.deliver(http)
    assert _payments(runner, http, auth)[dear]["status"] == "paid"


def _forged_cancel(instance: str, real: Return) -> Return:
    """The buyer's own cancel return, as an attacker forges it from what the real return shows."""
    if instance == "d":  # SEP: Status 1 CanceledByUser, no RefNum
        fields = {**real.fields, "State": "CanceledByUser", "Status": "1", "RefNum": "", "RRN": ""}
        return Return("POST", real.url, fields)
    data = json.loads(real.fields["data"])  # PayPing: status 0 and the payment's code
    cancelled = {
        "paymentCode": data["paymentCode"],
        "clientRefId": data["clientRefId"],
        "amount": data["amount"],
    }
    return Return("POST", real.url, {"status": "0", "errorCode": "", "data": json.dumps(cancelled)})


@pytest.mark.parametrize("instance", ["b", "d"], ids=["payping", "sep"])
def test_a_forged_cancel_return_does_not_stop_a_real_payment(runner, http, force, instance):
    # Given one gateway up and a buyer paying there
    force(instance)
    auth = _merchant(runner, f"claims_cancel_{instance}", instance)
    code = _link(runner, http, auth, 900_000)
    real = _pay(http, _at_gateway(runner, http, code, instance))
    # When a forged "cancelled" return for his payment arrives before his real return
    _forged_cancel(instance, real).deliver(http)
    # (PayPing's report tells us the real payment at once, so its verify may credit it right here;
    # SEP has nothing to verify without a RefNum, so the payment waits.)
    assert _payments(runner, http, auth)[code]["status"] in (
        {"redirected", "paid"} if instance == "b" else {"redirected"}
    )
    real.deliver(http)
    # Then he is credited
    assert _payments(runner, http, auth)[code]["status"] == "paid"


def test_a_forged_payping_return_with_a_made_up_reference_does_not_stop_a_real_payment(runner, http, force):
    # Given PayPing only and a buyer still on its payment page
    force("b")
    auth = _merchant(runner, "claims_made_up_ref", "b")
    code = _link(runner, http, auth, 900_000)
    page = _at_gateway(runner, http, code, "b")
    payment = _payments(runner, http, auth)[code]
    payment_code = urlsplit(str(page.url)).path.rsplit("/", 1)[-1]
    # When a forged return claims a payment with a reference PayPing never issued for it
    data = {
        "paymentCode": payment_code,
        "paymentRefId": "123456789",
        "clientRefId": payment["id"],
        "amount": 90_000,
    }
    Return(
        "POST",
        f"{runner.url}/callback/sandbox-b",
        {"status": "0", "errorCode": "1", "data": json.dumps(data)},
    ).deliver(http)
    # And then he pays and his real return arrives
    _pay(http, page).deliver(http)
    # Then he is credited
    assert _payments(runner, http, auth)[code]["status"] == "paid"


def test_a_reference_squatted_by_an_attackers_waiting_payment_does_not_block_its_own_return(
    runner, http, force
):
    # Given PayPing only, an attacker's own payment X waiting at PayPing and a buyer Y who has paid
    force("b")
    auth = _merchant(runner, "claims_squat", "b")
    mine, theirs = _link(runner, http, auth, 500_000), _link(runner, http, auth, 700_000)
    x_page = _at_gateway(runner, http, mine, "b")
    x_code = urlsplit(str(x_page.url)).path.rsplit("/", 1)[-1]
    y_return = _pay(http, _at_gateway(runner, http, theirs, "b"))
    # When, before Y's return arrives, a forged return for X claims Y's paymentRefId
    # (PayPing answers that it is not X's)
    y_data = json.loads(y_return.fields["data"])
    squat = {**y_data, "paymentCode": x_code, "clientRefId": ""}
    Return("POST", y_return.url, {**y_return.fields, "data": json.dumps(squat)}).deliver(http)
    # And then Y's real return arrives
    answer = y_return.deliver(http)
    # Then Y is credited by its own return
    assert answer.status_code == 303
    assert _payments(runner, http, auth)[theirs]["status"] == "paid"
    assert _payments(runner, http, auth)[mine]["status"] == "redirected"
