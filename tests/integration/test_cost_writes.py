"""Fewer writes per payment (issue 18), each saving keeping its guarantee: a payment is on no index of
its link (the link's list is its merchant's, filtered), and a success on a healthy gateway leaves
its circuit unwritten while a failure still counts."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target, table_items

BUYER = {"name": "Ali", "phone": "09121234567"}


def _link(api, key=TEST_API_KEY):  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=key)
    assert answer.status == 201, answer.text
    return answer.json()["code"]


def _pay(api, code):  # type: ignore[no-untyped-def]
    answer = api.post_form(f"/{code}", BUYER)
    assert answer.status == 303, answer.text
    back = api.get(local_target(act_at_gateway(answer.location)))
    assert back.status == 303, back.text


def test_a_payment_item_is_on_no_index_of_its_link(aws, api, merchant, gateways):
    # Given a paid payment
    _pay(api, _link(api))
    # When its item is read
    [payment] = [i for i in table_items(aws) if str(i["pk"]).startswith("PAYMENT#")]
    # Then it has no gsi1 entry (its merchant's list, gsi2, and its work lists, gsi3, only)
    assert "gsi1pk" not in payment
    assert payment["gsi2pk"] == f"MERCHANT#{merchant.id}#PAYMENTS"


def test_a_links_payments_are_listed_newest_first_and_only_that_links(
    aws, api, store, merchant, gateways, monkeypatch
):
    import paylink.store.table as table

    # Given two links of the merchant, paid twice and once
    first, second = _link(api), _link(api)
    for code in (first, second, first):
        _pay(api, code)
    # When the first link's payments are listed: by the store, and by the API's link filter in
    # pages of one (the cursor carries on through the filtered list)
    listed, _ = store.payments_of_link(first, None)
    monkeypatch.setattr(table, "PAGE_SIZE", 1)
    page = api.get(f"/v1/payments?link={first}", key=TEST_API_KEY).json()
    rest = api.get(f"/v1/payments?link={first}&cursor={page['next_cursor']}", key=TEST_API_KEY).json()
    # Then both of its payments come, newest first, and none of the other link
    assert [p.link_code for p in listed] == [first, first]
    assert listed[0].created_at >= listed[1].created_at
    assert [p["id"] for p in page["items"] + rest["items"]] == [p.id for p in listed]


def test_a_link_filter_reads_the_asking_merchants_list_only(
    aws, api, store, merchant, other_merchant, gateways
):
    # Given a paid payment of the merchant's link
    code = _link(api)
    _pay(api, code)
    # When the other merchant's payments are filtered by that link code
    mine, _ = store.payments_of_merchant(merchant.id, None, link=code)
    theirs, _ = store.payments_of_merchant(other_merchant.id, None, link=code)
    # Then only the owner's list has it
    assert (len(mine), theirs) == (1, [])


def _circuit_item(aws, name):  # type: ignore[no-untyped-def]
    found = [i for i in table_items(aws) if i["pk"] == f"GATEWAY#{name}" and i["sk"] == "CIRCUIT"]
    return found[0] if found else None


def test_a_checkout_on_a_healthy_gateway_writes_no_circuit(aws, api, merchant, gateways):
    # Given a gateway never failed
    code = _link(api)
    # When buyers check out through it
    for _ in range(2):
        assert api.post_form(f"/{code}", BUYER).status == 303
    # Then its circuit was never written (closed, no failure: nothing changed)
    assert _circuit_item(aws, "sandbox-a") is None


def _circuit_writes(store, health, ok):  # type: ignore[no-untyped-def]
    from paylink.core.models import utcnow
    from paylink.payments.health import Outcome

    outcome = Outcome("sandbox-a", ok=ok, timeout=False, latency_ms=40)
    items = store.health_items([(outcome, health)], utcnow())
    return [i["Update"] for i in items if i["Update"]["Key"]["sk"] == "CIRCUIT"]


@pytest.mark.parametrize(
    ("state", "failures", "trial_at", "ok", "written"),
    [
        ("closed", 0, None, True, False),  # healthy and a success: nothing changes, nothing written
        ("closed", 0, None, False, True),  # a first failure counts
        ("closed", 2, None, True, True),  # a success after failures resets the count
        ("half_open", 0, "2026-12-02T07:00:00Z", True, True),  # a successful trial closes it
        ("open", 3, None, False, True),  # a failure while open opens it again
    ],
)
def test_only_a_success_on_a_healthy_closed_circuit_skips_the_circuit_write(
    store, state, failures, trial_at, ok, written
):
    from paylink.payments.health import CircuitState, GatewayHealth

    # Given a gateway's circuit as read at checkout
    health = GatewayHealth("sandbox-a", state=CircuitState(state), failures=failures, trial_at=trial_at)
    # When an outcome is recorded, Then the circuit is written unless nothing changes
    assert bool(_circuit_writes(store, health, ok)) is written


def _return_url(api, code):  # type: ignore[no-untyped-def]
    """A buyer who paid at the (Zibal) sandbox: the return URL, not yet followed."""
    answer = api.post_form(f"/{code}", BUYER)
    assert answer.status == 303, answer.text
    return local_target(act_at_gateway(answer.location))


def _with_param(target, name, value):  # type: ignore[no-untyped-def]
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query))
    query[name] = value
    return f"{parts.path}?{urlencode(query)}"


def _statuses(aws):  # type: ignore[no-untyped-def]
    return {i["id"]: i["status"] for i in table_items(aws) if str(i["pk"]).startswith("PAYMENT#")}


def test_a_gateway_that_echoes_the_order_id_gets_no_token_index_and_its_return_still_credits(
    aws, api, merchant, gateways
):
    # Given a payment at a Zibal gateway (its return names our order id)
    code = _link(api)
    target = _return_url(api, code)
    # Then no GWTOKEN item was written for it
    assert not [i for i in table_items(aws) if str(i["pk"]).startswith("GWTOKEN#")]
    # When the buyer comes back, Then the payment it names is found by its id and credited
    assert api.get(target).status == 303
    assert set(_statuses(aws).values()) == {"paid"}


def test_a_return_naming_a_payment_with_another_token_credits_nothing(aws, api, merchant, gateways):
    # Given two buyers at the gateway; the first paid
    code = _link(api)
    paid_return = _return_url(api, code)
    other_return = _return_url(api, code)
    from urllib.parse import parse_qsl, urlsplit

    other_id = dict(parse_qsl(urlsplit(other_return).query))["orderId"]
    # When the first's return is replayed naming the second payment as its order
    forged = api.get(_with_param(paid_return, "orderId", other_id))
    # Then it is refused and the second payment is not paid by it
    assert forged.status in (400, 404)
    assert _statuses(aws)[other_id] == "redirected"


@pytest.mark.parametrize("order_id", ["x" * 3000, "pay_" + "A" * 500, "", "PAYMENT#pay_x"])
def test_a_return_with_a_malformed_order_id_gets_a_4xx_and_changes_nothing(
    aws, api, merchant, gateways, order_id
):
    # Given a buyer's return whose order id was tampered with (too long for a key, not an id)
    code = _link(api)
    target = _with_param(_return_url(api, code), "orderId", order_id)
    # When it arrives, Then a clear 4xx, never a 500, and the payment is still waiting
    answer = api.get(target)
    assert 400 <= answer.status < 500, answer.text
    assert set(_statuses(aws).values()) == {"redirected"}


def _checkout_calls(aws, api, code, monkeypatch, weight):  # type: ignore[no-untyped-def]
    """The DynamoDB operations of one checkout, with the health sample drawn as `weight`."""
    import paylink.store.gateways as gateways_store
    from paylink.store import get_store

    monkeypatch.setattr(gateways_store, "sampled_success_weight", lambda: weight)
    seen: list[str] = []
    events = get_store().client.meta.events

    def record(model, **_):  # type: ignore[no-untyped-def]
        seen.append(model.name)

    events.register("before-call.dynamodb", record, unique_id="cost-writes-ops")
    try:
        assert api.post_form(f"/{code}", BUYER).status == 303
    finally:
        events.unregister("before-call.dynamodb", unique_id="cost-writes-ops")
    return seen


def _bucket_totals(store):  # type: ignore[no-untyped-def]
    from paylink.core.models import utcnow
    from paylink.payments.health import window_keys

    totals = store.gateway_healths(["sandbox-a"], window_keys(utcnow()))["sandbox-a"].totals
    return totals.attempts, totals.successes, totals.failures


def test_a_success_on_a_quiet_gateway_not_drawn_moves_its_payment_with_one_plain_write(
    aws, api, store, merchant, gateways, monkeypatch
):
    # Given a healthy gateway whose returns name our order id (Zibal: no token index to write)
    code = _link(api)
    # When a checkout succeeds and the health sample is not drawn
    calls = _checkout_calls(aws, api, code, monkeypatch, 0)
    # Then the payment moved with one conditional UpdateItem, and no bucket counted it
    assert calls[-1] == "UpdateItem"
    assert calls.count("TransactWriteItems") == 1
    [payment] = [i for i in table_items(aws) if str(i["pk"]).startswith("PAYMENT#")]
    assert payment["status"] == "redirected"
    assert _bucket_totals(store) == (0, 0, 0)


def test_a_drawn_success_counts_for_the_sample_and_a_failure_always_counts_once(
    aws, api, store, merchant, gateways, monkeypatch
):
    from paylink.payments.health import SUCCESS_SAMPLE

    # Given a healthy gateway
    code = _link(api)
    # When a checkout's success is drawn for the sample
    calls = _checkout_calls(aws, api, code, monkeypatch, SUCCESS_SAMPLE)
    # Then it rode in the redirect's transaction, counted SUCCESS_SAMPLE times
    assert calls[-1] == "TransactWriteItems"
    assert _bucket_totals(store) == (SUCCESS_SAMPLE, SUCCESS_SAMPLE, 0)
    # And when the gateway then fails a checkout (whatever the draw), it counts once
    gateways.set_mode("a", "down")
    api.post_form(f"/{code}", BUYER)  # (another gateway may take it)
    assert _bucket_totals(store) == (SUCCESS_SAMPLE + 1, SUCCESS_SAMPLE, 1)


def test_a_paid_payment_writes_nothing_on_its_merchant_and_the_settle_run_still_finds_it(
    aws, api, store, merchant, gateways
):
    # Given a paid payment
    profile_before = [
        i for i in table_items(aws) if i["pk"] == f"MERCHANT#{merchant.id}" and i["sk"] == "PROFILE"
    ]
    _pay(api, _link(api))
    # Then its merchant's item is as it was (no flag, no last payment time: issue 18)
    profile_after = [
        i for i in table_items(aws) if i["pk"] == f"MERCHANT#{merchant.id}" and i["sk"] == "PROFILE"
    ]
    assert profile_after == profile_before
    # And the settle run's list of merchants has the merchant, from the payment's own entry
    assert merchant.id in set(store.merchants_with_unsettled_money())
    assert [p.status.value for p in store.unsettled_payments(merchant.id)] == ["paid"]


def test_a_merchant_whose_id_begins_another_on_the_same_shard_sees_only_its_own_payments(aws, store):
    from paylink.core.models import Payment, PaymentStatus
    from paylink.store.settlements import merchant_shard, unsettled_keys

    # Given two merchants on one shard, one's id the start of the other's
    short = "mer_a"
    longer = next(f"mer_a{n}" for n in range(1000) if merchant_shard(f"mer_a{n}") == merchant_shard(short))
    for number, merchant_id in enumerate((short, longer, short)):
        paid_at = f"2026-12-01T10:00:0{number}Z"
        payment = Payment(
            id=f"pay_shard{number:010d}",
            merchant_id=merchant_id,
            link_code="LINKCODE0001",
            link_title="Scarf",
            merchant_name="Shop",
            amount=10_000,
            status=PaymentStatus.PAID,
            payer={"name": "Ali"},
            created_at=paid_at,
            paid_at=paid_at,
        )
        item = {
            "pk": f"PAYMENT#{payment.id}",
            "sk": "PAYMENT",
            **unsettled_keys(merchant_id, paid_at, payment.id),
        }
        store.client.put_item(
            TableName=store.table, Item=item | payment.model_dump(mode="json", exclude_none=True)
        )
    # When each merchant's unsettled payments are read, all of them and those paid before 10:00:02
    mine = [p.id for p in store.unsettled_payments(short)]
    theirs = [p.id for p in store.unsettled_payments(longer)]
    early = [p.id for p in store.unsettled_payments(short, before="2026-12-01T10:00:02Z")]
    # Then each sees its own only, oldest first, and `before` bounds the paid time
    assert mine == ["pay_shard0000000000", "pay_shard0000000002"]
    assert theirs == ["pay_shard0000000001"]
    assert early == ["pay_shard0000000000"]
    # And the settle run lists both merchants once each
    listed = list(store.merchants_with_unsettled_money())
    assert sorted(listed) == sorted({short, longer})


def test_a_payment_verified_by_its_own_token_leaves_no_reference_item_and_credits_once(
    aws, api, merchant, gateways
):
    # Given a payment paid at a gateway whose verify asks about our token alone (Zibal)
    code = _link(api)
    started = api.post_form(f"/{code}", BUYER)
    back = local_target(act_at_gateway(started.location))
    # When its return is delivered, then delivered again
    first, again = api.get(back), api.get(back)
    # Then it is credited once, its reference is kept on the payment, and no GWREF item is written
    assert (first.status, again.status) == (303, 303)
    [payment] = api.get("/v1/payments", key=TEST_API_KEY).json()["items"]
    assert payment["status"] == "paid"
    assert payment["gateway_reference"]
    assert api.get(f"/v1/links/{code}", key=TEST_API_KEY).json()["paid_count"] == 1
    assert not [i for i in table_items(aws) if str(i["pk"]).startswith("GWREF#")]


def test_a_credited_reference_is_kept_90_days_then_goes_with_its_ttl(aws, api, store, merchant, gateways):
    import time

    from tests.integration.test_one_payer import _deliver, _pay_at_sep, _restrict

    # Given a payment paid at a gateway whose verify takes the return's reference (SEP's RefNum)
    _restrict(store, merchant, "sandbox-s")
    assert _deliver(api, _pay_at_sep(api, _link(api))).status == 303
    # Then the reference's item has a TTL about 90 days ahead: far past any gateway's verify window
    [credited] = [i for i in table_items(aws) if str(i["pk"]).startswith("GWREF#") and i["sk"] == "GWREF"]
    days = (int(credited["ttl"]) - time.time()) / 86_400
    assert 89 < days <= 90
