"""Gateway returns are claims: a reference, a "cancelled" or a status a browser sends never verifies,
credits, reverses or closes any payment but the one it provably belongs to (issue 11, items 1, 3)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

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


# -- one bank payment, one credit, where no GWREF item is kept (Zibal, Zarinpal) ------------------


def _zibal_return(api, code: str) -> str:  # type: ignore[no-untyped-def]
    """Check out at the Zibal sandbox and pay there; the return's path and query, not yet delivered."""
    from tests.helpers import act_at_gateway, local_target

    started = api.post_form(f"/{code}", BUYER)
    assert started.status == 303
    return local_target(act_at_gateway(started.location))


def test_a_return_and_reconciliation_that_both_read_a_zibal_payment_waiting_credit_it_once(
    api, merchant, gateways, store
):
    # Given a payment paid at Zibal, read as waiting by its return and by the reconciler at once
    from paylink.core.models import utcnow
    from paylink.payments.callback import apply_verification
    from paylink.payments.routing import adapter

    code = _link(api, 900_000)
    _zibal_return(api, code)
    waiting = store.get_payment(_payments(api)[code]["id"])
    gateway = adapter(waiting.gateway)
    # When both verify it ("paid", then "already verified") and both act on what they read
    for reconciling in (False, True):
        answer = gateway.verify(token=waiting.gateway_token, amount_irr=waiting.amount)
        assert answer.paid
        apply_verification(store, gateway, waiting, answer, refs={}, hinted_cancel=False,
                           now=utcnow(), reconciling=reconciling)  # fmt: skip
    # Then the one-shot paid move credited it once: no reference item is needed for that
    assert _payments(api)[code]["status"] == "paid"
    link = api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()
    assert (link["paid_count"], link["paid_total"]) == (1, 900_000)


@pytest.mark.parametrize("how", ["post_form", "query_and_form", "another_zibal_gateway"])
def test_a_paid_zibal_return_credits_no_other_payment_however_it_is_sent(api, merchant, gateways, how):
    # Given two buyers at the same Zibal gateway; the first paid there, the second did not
    code = _link(api, 900_000)
    paid = dict(parse_qsl(urlsplit(_zibal_return(api, code)).query))
    assert api.post_form(f"/{code}", BUYER).status == 303
    [other] = [p for p in _payments_list(api) if p["id"] != paid["orderId"]]
    # When the first one's return is sent naming the second payment (as a POST form, split between
    # query and form), or as it is to the other gateway speaking Zibal
    forged = {**paid, "orderId": other["id"]}
    if how == "post_form":
        answer = _form(api, "/callback/sandbox-a", forged)
    elif how == "query_and_form":
        query = urlencode({"orderId": other["id"]})
        answer = _form(api, f"/callback/sandbox-a?{query}", {k: v for k, v in paid.items() if k != "orderId"})
    else:
        answer = api.get(f"/callback/sandbox-b?{urlencode(paid)}")
    # Then it is refused and no payment is credited by it
    assert answer.status in (400, 404)
    assert sorted(p["status"] for p in _payments_list(api)) == ["redirected", "redirected"]
    assert api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()["paid_count"] == 0


def test_a_gateway_token_indexed_for_one_payment_is_never_recorded_for_another(
    api, merchant, gateways, store
):
    # Given a payment at a gateway whose return names only its token (Zarinpal's Authority): the
    # token index is what ties a verify's answer to one payment, now that no GWREF item is kept
    from paylink.core.ids import new_payment_id
    from paylink.core.models import PaymentStatus, iso, utcnow

    code = _link(api, 900_000)
    _zibal_return(api, code)
    base = store.get_payment(_payments(api)[code]["id"])
    fresh = {"status": PaymentStatus.CREATED, "gateway": None, "gateway_token": None, "redirected_at": None,
             "holds": [], "holds_slot": False}  # fmt: skip
    first, second = (base.model_copy(update={**fresh, "id": new_payment_id()}) for _ in range(2))
    at = {"status": PaymentStatus.REDIRECTED, "gateway": "sandbox-a", "gateway_token": "AUTH1",
          "redirected_at": iso(utcnow())}  # fmt: skip
    for payment in (first, second):
        store.reserve_payment(payment, "2026-01-01", None)
    assert store.record_redirect(first.model_copy(update=at))
    # When a second payment is given the same token
    # Then it is not recorded with it, and the token still leads to the first payment only
    assert not store.record_redirect(second.model_copy(update=at))
    assert store.get_payment(second.id).status is PaymentStatus.CREATED
    assert store.payment_for_token("sandbox-a", "AUTH1").id == first.id


@pytest.mark.parametrize("protocol", ["payping", "sep"])
@pytest.mark.parametrize("reconciling", [False, True])
def test_a_reference_credited_before_never_credits_again_where_verify_takes_the_returns(
    api, merchant, gateways, store, protocol, reconciling
):
    # Given two waiting payments, and a gateway whose verify takes a reference from the buyer's
    # return (PayPing's paymentRefId, SEP's RefNum); the first was credited with reference 4242
    from paylink.core.models import utcnow
    from paylink.payments.callback import apply_verification
    from paylink.payments.gateways import PROTOCOLS, GatewayConfig, VerifyOutcome, VerifyResult

    code = _link(api, 900_000)
    _zibal_return(api, code)
    _zibal_return(api, code)
    first, second = (store.get_payment(p["id"]) for p in _payments_list(api))
    config = GatewayConfig(name="sandbox-a", protocol=protocol, base_url="https://gw.test", merchant_id="k")
    gateway = PROTOCOLS[protocol](config, httpx.Client())
    paid = VerifyResult(VerifyOutcome.VERIFIED, amount_irr=900_000, reference="4242")
    for payment in (first, second):
        # When the gateway's verify answers "paid" with that same reference for the second one,
        # on its return or in reconciliation
        apply_verification(store, gateway, payment, paid, refs={}, hinted_cancel=False, now=utcnow(),
                           reconciling=reconciling)  # fmt: skip
    # Then the second is not credited, and the attempt is on record
    statuses = {p["id"]: p["status"] for p in _payments_list(api)}
    assert (statuses[first.id], statuses[second.id]) == ("paid", "redirected")
    assert api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()["paid_count"] == 1
    day = utcnow().date().isoformat()
    assert [r["reason"] for r in store.return_attempts("sandbox-a", day)] == ["reference_reused"]


def _payments_list(api):  # type: ignore[no-untyped-def]
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def _form(api, target: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return api.request("POST", target, body=urlencode(fields).encode(),
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
