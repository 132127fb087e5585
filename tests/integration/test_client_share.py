"""One anonymous client cannot hold what belongs to other buyers: its open payments at a merchant
(counted by the source address API Gateway reports, never by what a form claims) stay within a small
share of the merchant's daily cap, and come back as soon as the payment ends."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from local.run import Invoker, http_event
from local.template import functions, load_template, routes
from tests.conftest import TEST_API_KEY, VALID_IBAN
from tests.helpers import ApiClient, act_at_gateway, local_target, table_items
from tests.integration.test_concurrent_callbacks import moto_server  # noqa: F401 - the fixture

MAX_PER_PAYMENT_TOMAN = "1000000"  # a personal account's limit per payment: 10,000,000 rials


def _fill(client: ApiClient, target: str, form: dict[str, str], tries: int = 6) -> list[int]:
    """The statuses of `tries` payments one client opens and leaves open."""
    return [client.post_form(target, form).status for _ in range(tries)]


def _payments(table: str) -> list[dict]:  # type: ignore[type-arg]
    return [item for item in table_items(table) if str(item["pk"]).startswith("PAYMENT#")]


def test_one_client_filling_the_daily_cap_with_open_payments_leaves_room_for_another_buyer(
    aws, merchant, gateways
):
    # Given a personal account (30,000,000 rials a day, 10,000,000 a payment) and a client that
    # opens payments of the most a payment may be on its personal page and never pays them
    attacker = ApiClient(source_ip="198.51.100.7")
    form = {"amount": MAX_PER_PAYMENT_TOMAN, "name": "Mallory"}
    opened = _fill(attacker, "/u/shop", form)
    # When a real buyer from another address pays the most a payment may be
    buyer = ApiClient(source_ip="203.0.113.77")
    answer = buyer.post_form("/u/shop", {"amount": MAX_PER_PAYMENT_TOMAN, "name": "Sara"})
    # Then the buyer reaches a gateway, and the client got no more than one such payment
    assert answer.status == 303, answer.text
    assert opened.count(303) == 1
    assert set(opened[1:]) == {429}


def test_a_client_over_its_share_sees_a_clear_429_page_and_nothing_is_recorded(aws, merchant, gateways):
    # Given a client holding its share of the merchant's day in open payments
    attacker = ApiClient(source_ip="198.51.100.7")
    form = {"amount": MAX_PER_PAYMENT_TOMAN, "name": "Mallory"}
    assert attacker.post_form("/u/shop", form).status == 303
    before = _payments(aws)
    # When it starts one more, in Persian and in English
    persian = attacker.post_form("/u/shop", form)
    english = attacker.post_form("/u/shop?lang=en", form)
    # Then each is a 429 page saying why and how to go on, and no payment was recorded
    assert persian.status == english.status == 429
    assert "text/html" in persian.headers["Content-Type"]
    assert "پرداخت نیمه‌تمام" in persian.text
    assert "unfinished payment" in english.text
    assert 'href="/u/shop?lang=en"' in english.text
    assert _payments(aws) == before


def test_small_open_payments_of_one_client_are_limited_in_number(aws, merchant, gateways):
    # Given a client opening payments of 10,000 toman, far below any amount share
    client = ApiClient(source_ip="198.51.100.7")
    # When it opens ten and leaves them open
    opened = _fill(client, "/u/shop", {"amount": "10000", "name": "Mallory"}, tries=10)
    # Then only the first three reach a gateway
    assert opened == [303] * 3 + [429] * 7


def test_a_payment_cancelled_at_the_gateway_gives_the_client_its_share_back(aws, merchant, gateways):
    # Given a client holding its whole share in one open payment
    client = ApiClient(source_ip="198.51.100.7")
    form = {"amount": MAX_PER_PAYMENT_TOMAN, "name": "Ali"}
    started = client.post_form("/u/shop", form)
    assert client.post_form("/u/shop", form).status == 429
    # When the buyer cancels it at the gateway
    assert client.get(local_target(act_at_gateway(started.location, "cancel"))).status == 303
    # Then the same client may start a payment again at once
    assert client.post_form("/u/shop", form).status == 303


def test_a_cancel_returned_twice_gives_the_share_back_once(aws, merchant, gateways):
    # Given a client holding three open payments, one of them cancelled at the gateway
    client = ApiClient(source_ip="198.51.100.7")
    form = {"amount": "10000", "name": "Ali"}
    started = [client.post_form("/u/shop", form) for _ in range(3)]
    cancel = local_target(act_at_gateway(started[0].location, "cancel"))
    # When the cancel return arrives twice
    assert client.get(cancel).status == 303
    assert client.get(cancel).status == 303
    # Then the client got one payment's room back, not two
    assert [client.post_form("/u/shop", form).status for _ in range(2)] == [303, 429]


def test_a_paid_payment_no_longer_counts_as_open(aws, merchant, gateways):
    # Given a client whose three payments are all paid
    client = ApiClient(source_ip="198.51.100.7")
    form = {"amount": "10000", "name": "Ali"}
    for _ in range(3):
        started = client.post_form("/u/shop", form)
        assert started.status == 303
        assert client.get(local_target(act_at_gateway(started.location))).status == 303
    # When it pays once more
    answer = client.post_form("/u/shop", form)
    # Then it reaches a gateway (only payments still open count against it)
    assert answer.status == 303


def test_someone_typing_a_buyers_phone_does_not_lock_that_buyer_out(api, merchant, gateways):
    # Given a link that collects the payer's phone, and an attacker who knows a buyer's phone
    code = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()[
        "code"
    ]
    victims_phone = "09121234567"
    # When the attacker opens payments with that phone (typed in every form) from one address
    attacker = ApiClient(source_ip="198.51.100.9")
    for phone in (victims_phone, "+989121234567", "۰۹۱۲۱۲۳۴۵۶۷", victims_phone):
        attacker.post_form(f"/{code}", {"name": "Mallory", "phone": phone})
    # Then the buyer, from their own address, still reaches a gateway: a phone typed into a form is
    # a claim, so it never counts as the client (only the address API Gateway reports does)
    buyer = ApiClient(source_ip="203.0.113.80").post_form(
        f"/{code}", {"name": "Sara", "phone": victims_phone}
    )
    assert buyer.status == 303, buyer.text


def test_one_ipv6_network_counts_as_one_client(aws, merchant, gateways):
    # Given a client that moves through the addresses of its one /64 network
    statuses = [
        ApiClient(source_ip=f"2001:db8:1:2::{n:x}")
        .post_form("/u/shop", {"amount": "10000", "name": "M"})
        .status
        for n in range(1, 6)
    ]
    # Then its network counts as one client
    assert statuses == [303] * 3 + [429] * 2


def _event(method: str, target: str, body: bytes, headers: dict[str, str], source_ip: str) -> dict:  # type: ignore[type-arg]
    route = next(r for r in routes(load_template()) if r.method == method and r.pattern.match(target))
    match = route.pattern.match(target)
    assert match is not None
    return http_event(
        method, target, {"host": "pay.example", **headers}, body, route, match.groupdict(), source_ip
    )


def test_twenty_parallel_checkouts_of_one_client_open_no_more_than_its_share(moto_server, gateways):  # noqa: F811
    from paylink.merchants.accounts import create_merchant
    from paylink.store import get_store

    fns = functions(load_template())
    merchant_api, checkout = Invoker(fns["CreateLinkFunction"]), Invoker(fns["CheckoutFunction"])
    # Given a personal merchant and a link of 10,000 rials
    create_merchant(get_store(), username="busy", name="Busy", iban=VALID_IBAN, api_key=TEST_API_KEY)
    auth = {"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"}
    body = json.dumps({"title": "Pin", "amount": 10_000, "collect": ["name"]}).encode()
    code = json.loads(merchant_api.invoke(_event("POST", "/v1/links", body, auth, "203.0.113.1"))["body"])[
        "code"
    ]
    form = {"content-type": "application/x-www-form-urlencoded"}
    # When one client posts the form twenty times at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(
                lambda _: checkout.invoke(_event("POST", f"/{code}", b"name=M", form, "198.51.100.7")),
                range(20),
            )
        )
    # Then three reach a gateway and the others are told to finish those first
    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [303] * 3 + [429] * 17


def test_a_days_reservations_leave_the_table_after_their_day(aws, merchant, gateways):
    from datetime import datetime

    # Given a buyer who starts a payment and cancels it at the gateway
    buyer = ApiClient(source_ip="203.0.113.78")
    started = buyer.post_form("/u/shop", {"amount": "100000", "name": "Sara"})
    assert started.status == 303, started.text
    assert buyer.get(local_target(act_at_gateway(started.headers["Location"], "cancel"))).status == 303
    # Then the day's cap reservation and the client's hold each expire two days after the payment
    # began (TTL): no checkout reads them after their day, and they would otherwise stay for ever
    payment = _payments(aws)[-1]
    began = datetime.fromisoformat(str(payment["created_at"])).timestamp()
    for prefix in ("DAILY#", "HOLD#"):
        (item,) = [i for i in table_items(aws) if str(i["pk"]).startswith(prefix)]
        assert int(item["ttl"]) == int(began) + 2 * 86_400, prefix
