"""Reconciliation against moto and the sandbox: returns that never came, verifies that timed out."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, hidden_fields, local_target, payment_ttl

BUYER = {"name": "Ali", "phone": "09121234567"}
NINETY_DAYS = 90 * 86_400


@pytest.fixture
def code(api, merchant, gateways):  # type: ignore[no-untyped-def]
    return api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]


def _payments(api):  # type: ignore[no-untyped-def]
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def _reconcile(store, minutes_later: float):  # type: ignore[no-untyped-def]
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    return reconcile(store, utcnow() + timedelta(minutes=minutes_later))


def test_a_paid_buyer_who_never_returns_is_credited_by_reconciliation(api, code, gateways, store):
    # Given the buyer paid at the gateway but never came back
    gateways.set_mode("a", "no_return")
    started = api.post_form(f"/{code}", BUYER)
    page = httpx.get(started.location)
    httpx.post(started.location, data={**hidden_fields(page.text), "action": "pay"})
    assert _payments(api)[0]["status"] == "redirected"
    # When reconciliation runs after the payment's minimum age
    report = _reconcile(store, 2)
    # Then the gateway says paid, and the payment is paid, once
    assert report.decided == {"paid": 1}
    assert _payments(api)[0]["status"] == "paid"
    assert _reconcile(store, 3).checked == 0


def test_a_verify_that_timed_out_is_credited_by_reconciliation(api, code, gateways, store):
    # Given the gateway committed the verify but its answer never reached us
    gateways.set_mode("a", "verify_timeout")
    started = api.post_form(f"/{code}", BUYER)
    callback = local_target(act_at_gateway(started.location))
    api.get(callback)
    assert _payments(api)[0]["status"] == "redirected"
    gateways.set_mode("a", "ok")
    # When reconciliation runs
    _reconcile(store, 2)
    # Then the repeated verify's "already verified" makes it paid, counted once on its link
    [payment] = _payments(api)
    assert payment["status"] == "paid"
    link = api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()
    assert (link["paid_count"], link["paid_total"]) == (1, 1_200_000)


def test_an_abandoned_payment_expires_after_its_token_lifetime(api, code, gateways, store):
    # Given a buyer who went to the gateway and did nothing
    api.post_form(f"/{code}", BUYER)
    # When reconciliation runs while the token may still be used, then after its lifetime
    early = _reconcile(store, 2)
    late = _reconcile(store, 60)
    # Then it waits at first, then expires, and its share of the daily cap comes back
    assert early.left_waiting == 1
    assert late.decided == {"expired": 1}
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "abandoned")


def test_an_abandoned_payment_leaves_the_table_90_days_after_it_expired(api, code, gateways, store):
    # Given a buyer who went to the gateway and did nothing
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    api.post_form(f"/{code}", BUYER)
    # When reconciliation expires it after its token's lifetime
    ended = utcnow() + timedelta(minutes=60)
    reconcile(store, ended)
    # Then the table's TTL takes it 90 days after the run that expired it
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "abandoned")
    assert payment_ttl(store, payment["id"]) == int(ended.timestamp()) + NINETY_DAYS


def test_a_payment_the_gateway_reversed_stays_in_the_table(api, code, gateways, store, monkeypatch):
    # Given a buyer who paid at the gateway and never came back, and the gateway's own reversal of
    # the unverified money half an hour later
    gateways.set_mode("a", "no_return")
    started = api.post_form(f"/{code}", BUYER)
    page = httpx.get(started.location)
    httpx.post(started.location, data={**hidden_fields(page.text), "action": "pay"})
    later = gateways.now() + timedelta(minutes=31)
    monkeypatch.setattr(gateways, "now", lambda: later)
    # When reconciliation asks the gateway
    _reconcile(store, 32)
    # Then the payment is expired as reversed, and kept: money moved and went back
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "reversed_by_gateway")
    assert payment_ttl(store, payment["id"]) is None


def test_a_payment_whose_return_never_came_at_a_reference_gateway_stays_in_the_table(
    api, merchant, gateways, store
):
    # Given a buyer at SEP (verified by the RefNum only a return brings) who never came back
    from tests.integration.test_one_payer import _restrict

    _restrict(store, merchant, "sandbox-s")
    link = api.post_json("/v1/links", {"title": "Bag", "amount": 700_000}, key=TEST_API_KEY).json()
    assert api.post_form(f"/{link['code']}", BUYER).status == 200  # the bank's auto-posted form
    # When reconciliation closes it after the gateway's window
    _reconcile(store, 120)
    # Then it is expired and kept: nobody could ask whether the buyer paid (the bank reversed it if so)
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "no_return")
    assert payment_ttl(store, payment["id"]) is None


def test_a_recent_payment_is_not_disturbed(api, code, gateways, store):
    # Given a buyer who just went to the gateway
    api.post_form(f"/{code}", BUYER)
    # When reconciliation runs at once
    report = _reconcile(store, 0)
    # Then it is not even checked
    assert report.checked == 0


def test_a_verified_amount_that_differs_at_a_gateway_without_reverse_is_failed_for_refund(
    api, code, gateways, store
):
    # Given Zibal's sandbox charged the buyer another amount than ours (Zibal has no reverse API)
    gateways.set_mode("a", "amount_mismatch")
    started = api.post_form(f"/{code}", BUYER)
    callback = local_target(act_at_gateway(started.location))
    # When the buyer returns
    api.get(callback)
    # Then nothing changed but the attempt is on record
    assert _payments(api)[0]["status"] == "redirected"
    [attempt] = [a for a in store.return_attempts("sandbox-a", _today()) if a["reason"] == "amount_mismatch"]
    assert attempt["verified_amount"] == str(1_200_000 + 10_000)
    # And reconciliation closes it as failed, owed back to the buyer by hand
    _reconcile(store, 2)
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "amount_mismatch_refund_due")


def test_a_payment_failed_for_a_refund_by_hand_stays_in_the_table(api, code, gateways, store):
    # Given a verified amount that differs, at a gateway with no reverse API (Zibal)
    gateways.set_mode("a", "amount_mismatch")
    started = api.post_form(f"/{code}", BUYER)
    api.get(local_target(act_at_gateway(started.location)))
    # When reconciliation closes it as failed, owed back to the buyer by hand
    _reconcile(store, 2)
    # Then it is kept: the buyer's money is with the gateway until an operator refunds it
    [payment] = _payments(api)
    assert payment["failure_reason"] == "amount_mismatch_refund_due"
    assert payment_ttl(store, payment["id"]) is None


def _today() -> str:
    from paylink.core.models import utcnow

    return utcnow().date().isoformat()


def test_a_payment_whose_checkout_crashed_before_the_gateway_expires_and_frees_its_reservation(
    api, merchant, gateways, store, monkeypatch
):
    # Given a checkout that recorded its payment, then died before any gateway answered
    import paylink.payments.routing

    link = api.post_json("/v1/links", {"title": "Lamp", "amount": 900_000, "max_payments": 1},
                         key=TEST_API_KEY).json()  # fmt: skip

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit("the function was killed")  # not an Exception: no handler answers it

    monkeypatch.setattr(paylink.payments.routing, "first_token", crash)
    with pytest.raises(SystemExit):
        api.post_form(f"/{link['code']}", BUYER)
    monkeypatch.undo()
    [payment] = _payments(api)
    assert payment["status"] == "created"
    # When reconciliation runs a minute later
    _reconcile(store, 2)
    # Then the payment is expired, and the unit it held is free for the next buyer
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("expired", "not_started")
    assert api.post_form(f"/{link['code']}", BUYER).status == 303


def test_a_payment_whose_checkout_crashed_leaves_the_table_90_days_after_it_expired(
    api, code, gateways, store, monkeypatch
):
    # Given a checkout that recorded its payment, then died before any gateway answered
    import paylink.payments.routing
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit("the function was killed")

    with monkeypatch.context() as patched:
        patched.setattr(paylink.payments.routing, "first_token", crash)
        with pytest.raises(SystemExit):
            api.post_form(f"/{code}", BUYER)
    # When reconciliation expires it a minute later
    ended = utcnow() + timedelta(minutes=2)
    reconcile(store, ended)
    # Then nothing was ever charged, and the table's TTL takes it 90 days after that run
    [payment] = _payments(api)
    assert payment["failure_reason"] == "not_started"
    assert payment_ttl(store, payment["id"]) == int(ended.timestamp()) + NINETY_DAYS
