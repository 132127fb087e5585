"""Gateway returns are claims: a reference, a "cancelled" or a status a browser sends never verifies,
credits, reverses or closes any payment but the one it provably belongs to (issue 11, items 1, 3)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx

from tests.conftest import TEST_API_KEY
from tests.e2e.buyer import Return, act, open_gateway
from tests.helpers import hidden_fields
from tests.integration.test_one_payer import BUYER, _AsResponse, _deliver, _pay_at_sep, _restrict

CALLBACK = "/callback/sandbox-s"


def _payments(api):  # type: ignore[no-untyped-def]
    return {p["link_code"]: p for p in api.get("/v1/payments", key=TEST_API_KEY).json()["items"]}


def _link(api, amount: int) -> str:  # type: ignore[no-untyped-def]
    created = api.post_json("/v1/links", {"title": f"Item {amount}", "amount": amount}, key=TEST_API_KEY)
    return str(created.json()["code"])


def _sep_calls(gateways, path: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return [c for c in gateways.calls("s") if c["path"].endswith(path)]


def _post_return(api, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return api.request("POST", CALLBACK, body=urlencode(fields).encode(),
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip


def _return_of(started, payment_id: str, terminal: str, amount: int, **fields: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A return for the payment whose checkout answered `started`, built by an attacker."""
    token = hidden_fields(started.text)["Token"]
    return {"MID": "0", "State": "OK", "Status": "2", "RRN": "", "RefNum": "", "ResNum": payment_id,
            "TerminalId": terminal, "TraceNo": "", "Amount": str(amount), "Token": token,
            **fields}  # fmt: skip


def _paid_and_started(api, store, merchant):  # type: ignore[no-untyped-def]
    """A paid SEP payment Y (its RefNum is on its receipt) and a payment Z of another amount at SEP."""
    _restrict(store, merchant, "sandbox-s")
    cheap, dear = _link(api, 700_000), _link(api, 900_000)
    paid_return = _pay_at_sep(api, cheap)
    _deliver(api, paid_return)
    started = api.post_form(f"/{dear}", BUYER)
    assert started.status == 200
    payments = _payments(api)
    assert payments[cheap]["status"] == "paid"
    return paid_return.fields["RefNum"], started, payments[cheap], payments[dear]


# -- item 1: another payment's reference ----------------------------------------------------------


def test_a_return_carrying_a_paid_payments_refnum_never_reverses_its_money(api, merchant, gateways, store):
    # Given a paid payment Y and a waiting payment Z of another amount at SEP
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    y_ref, started, y, z = _paid_and_started(api, store, merchant)
    reverses = len(_sep_calls(gateways, "ReverseTransaction"))
    # When a forged return for Z carries Z's token and ResNum but Y's RefNum, and reconciliation runs
    _post_return(api, _return_of(started, z["id"], gateways.merchant, 900_000, RefNum=y_ref))
    reconcile(store, utcnow() + timedelta(minutes=2))
    # Then Y's money is never reversed at SEP and Y stays paid
    assert len(_sep_calls(gateways, "ReverseTransaction")) == reverses
    assert _payments(api)[y["link_code"]]["status"] == "paid"


def test_reconciliation_never_verifies_a_kept_refnum_that_is_another_payments(api, merchant, gateways, store):
    # Given Z kept Y's RefNum before references were claimed (data written by an older version)
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    y_ref, _, y, z = _paid_and_started(api, store, merchant)
    store.save_gateway_refs(store.get_payment(z["id"]), {"RefNum": y_ref})
    verifies = len(_sep_calls(gateways, "VerifyTransaction"))
    reverses = len(_sep_calls(gateways, "ReverseTransaction"))
    # When reconciliation runs
    reconcile(store, utcnow() + timedelta(minutes=2))
    # Then SEP is neither asked nor made to reverse, Y stays paid and Z no longer holds the RefNum
    assert len(_sep_calls(gateways, "VerifyTransaction")) == verifies
    assert len(_sep_calls(gateways, "ReverseTransaction")) == reverses
    assert _payments(api)[y["link_code"]]["status"] == "paid"
    assert store.get_payment(z["id"]).gateway_refs == {}


def test_a_return_carrying_another_payments_refnum_is_refused_before_any_gateway_call(
    api, merchant, gateways, store
):
    # Given a paid payment Y and a waiting payment Z at SEP
    y_ref, started, _, z = _paid_and_started(api, store, merchant)
    verifies = len(_sep_calls(gateways, "VerifyTransaction"))
    # When a return for Z carries Y's RefNum
    answer = _post_return(api, _return_of(started, z["id"], gateways.merchant, 900_000, RefNum=y_ref))
    # Then it is refused without asking SEP, and the RefNum is neither kept on Z nor trusted later
    assert answer.status == 400
    assert len(_sep_calls(gateways, "VerifyTransaction")) == verifies
    assert y_ref not in (store.get_payment(z["id"]).gateway_refs or {}).values()
    reasons = [r["reason"] for r in store.return_attempts("sandbox-s", utcnow_day())]
    assert "foreign_reference" in reasons


def utcnow_day() -> str:
    from paylink.core.models import utcnow

    return utcnow().date().isoformat()


# -- item 3: a forged "cancelled" -----------------------------------------------------------------


def test_a_forged_cancel_return_does_not_stop_a_real_payment(api, merchant, gateways, store):
    # Given a buyer at SEP
    _restrict(store, merchant, "sandbox-s")
    code = _link(api, 900_000)
    started = api.post_form(f"/{code}", BUYER)
    z = _payments(api)[code]
    # When a forged "cancelled by user" return for his payment arrives first
    forged = _return_of(started, z["id"], gateways.merchant, 900_000, State="CanceledByUser", Status="1")
    _post_return(api, forged)
    # And then he pays and his real return arrives
    with httpx.Client() as http:
        back = act(http, open_gateway(http, _AsResponse(started)), "pay")
    assert isinstance(back, Return)
    _deliver(api, back)
    # Then he is credited
    assert _payments(api)[code]["status"] == "paid"


def test_an_unconfirmed_cancel_return_leaves_the_payment_to_reconciliation(api, merchant, gateways, store):
    # Given a buyer at SEP who cancels (SEP's cancel carries no RefNum: nothing can confirm it)
    from paylink.core.models import utcnow
    from paylink.payments.reconcile import reconcile

    _restrict(store, merchant, "sandbox-s")
    code = _link(api, 900_000)
    started = api.post_form(f"/{code}", BUYER)
    with httpx.Client() as http:
        back = act(http, open_gateway(http, _AsResponse(started)), "cancel")
    assert isinstance(back, Return)
    # When his return arrives
    _deliver(api, back)
    # Then the payment waits, and reconciliation closes it once SEP's window is over
    assert _payments(api)[code]["status"] == "redirected"
    reconcile(store, utcnow() + timedelta(hours=1))
    assert _payments(api)[code]["status"] == "expired"


# -- a verify answer about another order ----------------------------------------------------------


def test_a_verify_answer_naming_another_order_credits_nothing(api, merchant, gateways, store):
    # Given a payment waiting at a Zibal gateway
    from paylink.core.models import utcnow
    from paylink.payments.callback import apply_verification
    from paylink.payments.gateways.base import VerifyOutcome, VerifyResult
    from paylink.payments.routing import adapter

    code = _link(api, 900_000)
    api.post_form(f"/{code}", BUYER)
    payment = store.get_payment(_payments(api)[code]["id"])
    # When the gateway's verify answers "paid" for another order id
    answer = VerifyResult(VerifyOutcome.VERIFIED, amount_irr=900_000, reference="77", order_id="pay_other")
    gateway = adapter(payment.gateway)
    apply_verification(
        store, gateway, payment, answer, refs={}, hinted_cancel=False, now=utcnow(), reconciling=False
    )
    # Then the payment is not credited
    assert _payments(api)[code]["status"] == "redirected"


# -- a return that names only a guessable token ---------------------------------------------------


def test_a_zibal_return_with_only_a_track_id_reveals_no_payment(api, merchant, gateways):
    # Given a buyer who paid at Zibal (trackIds are sequential numbers: a neighbour's is guessable)
    code = _link(api, 900_000)
    started = api.post_form(f"/{code}", BUYER)
    with httpx.Client() as http:
        back = act(http, open_gateway(http, _AsResponse(started)), "pay")
    assert isinstance(back, Return)
    api.request("GET", back.url.replace("https://pay.example", ""))
    payment = _payments(api)[code]
    assert payment["status"] == "paid"
    track_id = back.url.split("trackId=")[1].split("&")[0]
    # When someone else sends a return with that trackId and no orderId
    answer = api.request(
        "GET", f"/callback/sandbox-a?{urlencode({'success': '1', 'trackId': track_id, 'status': '2'})}"
    )
    # Then the answer leads to no receipt: the payment id (its receipt's address) is not revealed
    assert answer.status == 400
    assert payment["id"] not in answer.headers.get("location", "") + answer.text
