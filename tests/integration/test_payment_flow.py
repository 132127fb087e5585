"""Checkout and callback against moto and the sandbox gateways over real HTTP."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_API_KEY
from tests.helpers import ApiClient, act_at_gateway, local_target, payment_ttl, table_items

BUYER = {"name": "Ali Rezaei", "phone": "09121234567"}
NINETY_DAYS = 90 * 86_400


@pytest.fixture
def link(api, merchant, gateways):  # type: ignore[no-untyped-def]
    answer = api.post_json("/v1/links", {"title": "Handmade scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    return answer.json()


def _checkout(api, code, fields=None):  # type: ignore[no-untyped-def]
    return api.post_form(f"/{code}", fields or BUYER)


def _payments(api):  # type: ignore[no-untyped-def]
    return api.get("/v1/payments", key=TEST_API_KEY).json()["items"]


def _pay(api, code, action="pay"):  # type: ignore[no-untyped-def]
    started = _checkout(api, code)
    assert started.status == 303, started.text
    return local_target(act_at_gateway(started.location, action))


def test_link_page_shows_title_merchant_and_amount_in_toman(api, link):
    # When a buyer opens the link
    page = api.get(f"/{link['code']}")
    # Then the Persian page shows what is paid, to whom, and how much in toman
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'dir="rtl"' in page.text
    assert "Handmade scarf" in page.text
    assert "Scarf Shop" in page.text
    assert "۱۲۰٬۰۰۰" in page.text


def test_checkout_records_the_payment_and_redirects_to_the_gateway(api, link, gateways):
    # When the buyer posts the form
    answer = _checkout(api, link["code"])
    # Then he is sent (303) to the first gateway's own page, and the payment is recorded
    assert answer.status == 303
    assert answer.location.startswith(f"{gateways.url}/a/start/")
    [payment] = _payments(api)
    assert payment["status"] == "redirected"
    assert payment["gateway"] == "sandbox-a"
    assert payment["amount"] == 1_200_000
    assert payment["payer"] == BUYER


def test_checkout_fails_over_when_the_first_gateway_is_down(api, link, gateways):
    # Given gateway a is down
    gateways.set_mode("a", "down")
    # When the buyer posts the form
    answer = _checkout(api, link["code"])
    # Then he goes to gateway b in the same request
    assert answer.status == 303
    assert answer.location.startswith(f"{gateways.url}/b/start/")


def test_no_healthy_gateway_shows_503_and_records_a_failed_payment(api, link, gateways):
    # Given every gateway is down
    for name in ("a", "b", "s"):
        gateways.set_mode(name, "down")
    # When the buyer posts the form
    answer = _checkout(api, link["code"])
    # Then he sees the 503 page and the payment is recorded as failed
    assert answer.status == 503
    assert "text/html" in answer.headers["Content-Type"]
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "no_gateway")


def test_paid_callback_verifies_and_shows_the_receipt(api, link):
    # Given the buyer paid at the gateway
    callback = _pay(api, link["code"])
    # When the gateway sends him back
    answer = api.get(callback)
    # Then the payment is paid and he is sent to the receipt
    [payment] = _payments(api)
    assert answer.status == 303
    assert answer.location == f"/r/{payment['id']}"
    assert payment["status"] == "paid"
    assert payment["gateway_reference"]
    assert payment["card_mask"].count("*") >= 6
    receipt = api.get(answer.location)
    assert receipt.status == 200
    assert payment["gateway_reference"] in receipt.text


def test_repeated_callback_credits_once(api, link):
    # Given a paid and returned payment
    callback = _pay(api, link["code"])
    first = api.get(callback)
    # When the same return arrives again, several times
    again = [api.get(callback) for _ in range(3)]
    # Then it still shows the same receipt, and the link counts one payment
    assert {a.location for a in again} == {first.location}
    [payment] = _payments(api)
    assert payment["status"] == "paid"
    read = api.get(f"/v1/links/{link['code']}", key=TEST_API_KEY).json()
    assert (read["paid_count"], read["paid_total"]) == (1, 1_200_000)


def test_cancelled_payment_shows_a_failure_receipt_with_a_retry_link(api, link):
    # Given the buyer cancelled at the gateway
    callback = _pay(api, link["code"], action="cancel")
    # When he comes back
    answer = api.get(callback)
    # Then the payment is cancelled and the receipt offers to try again
    [payment] = _payments(api)
    assert payment["status"] == "cancelled"
    receipt = api.get(answer.location)
    assert f'href="/{link["code"]}"' in receipt.text
    read = api.get(f"/v1/links/{link['code']}", key=TEST_API_KEY).json()
    assert read["paid_count"] == 0


def test_declined_card_fails_the_payment(api, link, gateways):
    # Given the gateway declines the card
    gateways.set_mode("a", "decline")
    callback = _pay(api, link["code"])
    # When the buyer comes back
    api.get(callback)
    # Then the payment failed
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "declined")


@pytest.mark.parametrize(
    ("mode", "action", "ended"),
    [("ok", "cancel", ("cancelled", "cancelled")), ("decline", "pay", ("failed", "declined"))],
    ids=["cancelled", "declined"],
)
def test_an_unpaid_return_leaves_the_table_90_days_after_it_ended(
    api, link, gateways, store, mode, action, ended
):
    # Given a buyer who cancelled, or whose card was declined, at the gateway
    gateways.set_mode("a", mode)
    callback = _pay(api, link["code"], action=action)
    # When he comes back
    before = int(time.time())
    api.get(callback)
    after = int(time.time())
    # Then the payment ended unpaid, and the table's TTL takes it 90 days after that end
    [payment] = _payments(api)
    assert (payment["status"], payment["failure_reason"]) == ended
    assert payment_ttl(store, payment["id"]) in range(before + NINETY_DAYS, after + NINETY_DAYS + 1)


def test_a_payment_no_gateway_took_leaves_the_table_90_days_after_it_failed(api, link, gateways, store):
    # Given every gateway is down
    for name in ("a", "b", "s"):
        gateways.set_mode(name, "down")
    # When the buyer posts the form
    before = int(time.time())
    assert _checkout(api, link["code"]).status == 503
    after = int(time.time())
    # Then the failed payment goes with the table's TTL 90 days later
    [payment] = _payments(api)
    assert payment["failure_reason"] == "no_gateway"
    assert payment_ttl(store, payment["id"]) in range(before + NINETY_DAYS, after + NINETY_DAYS + 1)


def test_a_paid_payment_stays_in_the_table(api, link, store):
    # Given the buyer paid at the gateway
    callback = _pay(api, link["code"])
    # When the gateway sends him back
    api.get(callback)
    # Then the paid payment has no TTL: money moved, it is kept (and archived once settled)
    [payment] = _payments(api)
    assert payment["status"] == "paid"
    assert payment_ttl(store, payment["id"]) is None


def test_an_unpaid_end_whose_unit_of_stock_was_removed_meanwhile_still_leaves_the_table(
    api, merchant, gateways, store
):
    # Given the last unit of a link held by a buyer at the gateway, and the merchant then drops the
    # stock (no unit left to give back: the move is retried without it)
    link = api.post_json("/v1/links", {"title": "Last lamp", "amount": 900_000, "max_payments": 1},
                         key=TEST_API_KEY).json()  # fmt: skip
    callback = _pay(api, link["code"], action="cancel")
    changed = api.patch_json(f"/v1/links/{link['code']}", {"max_payments": None}, key=TEST_API_KEY)
    assert changed.status == 200, changed.text
    # When the buyer comes back
    before = int(time.time())
    api.get(callback)
    after = int(time.time())
    # Then the payment is cancelled, and the retried move carries the TTL too
    [payment] = _payments(api)
    assert payment["status"] == "cancelled"
    assert payment_ttl(store, payment["id"]) in range(before + NINETY_DAYS, after + NINETY_DAYS + 1)


def test_an_unpaid_payment_gone_with_its_ttl_answers_as_an_unknown_one(api, link, store):
    # Given a cancelled payment that DynamoDB's TTL has deleted
    callback = _pay(api, link["code"], action="cancel")
    receipt = api.get(callback).location
    [payment] = _payments(api)
    store.client.delete_item(TableName=store.table, Key={"pk": f"PAYMENT#{payment['id']}", "sk": "PAYMENT"})
    # When its receipt, the merchant API and a late return for it are asked
    # Then each answers as for a payment that never existed
    page = api.get(receipt)
    assert (page.status, "text/html" in page.headers["Content-Type"]) == (404, True)
    assert api.get(f"/v1/payments/{payment['id']}", key=TEST_API_KEY).status == 404
    assert api.get(callback).status == 404
    assert _payments(api) == []


def test_forged_success_return_before_payment_changes_nothing(api, link):
    # Given a payment the buyer has not paid yet
    started = _checkout(api, link["code"])
    token = started.location.rsplit("/", 1)[1]
    [payment] = _payments(api)
    # When someone forges a successful return for it
    answer = api.get(f"/callback/sandbox-a?success=1&trackId={token}&orderId={payment['id']}&status=2")
    # Then it stays redirected: only the gateway's verify can make it paid
    assert answer.status == 303
    assert _payments(api)[0]["status"] == "redirected"


def test_return_for_an_unknown_token_is_404_and_only_recorded(api, link, aws, store):
    # Given the table as it is
    before = table_items(aws)
    # When a return names a token we never issued
    answer = api.get("/callback/sandbox-a?success=1&trackId=999999999&orderId=pay_x&status=2")
    # Then it is a 404 page, nothing changed, and the attempt is on record
    assert answer.status == 404
    assert [i for i in table_items(aws) if not i["pk"].startswith("RETURN#")] == before
    [attempt] = [i for i in table_items(aws) if i["pk"].startswith("RETURN#sandbox-a#")]
    assert attempt["reason"] == "unknown_token"


def test_return_to_merchant_redirect_url_carries_payment_id_status_reference_and_metadata(
    api, merchant, gateways
):
    # Given a link with the merchant's own return page, reference and metadata
    link = api.post_json(
        "/v1/links",
        {"title": "Course", "amount": 500_000, "redirect_url": "https://shop.example/thanks?order=7",
         "reference": "C-17", "metadata": {"cohort": "autumn"}},
        key=TEST_API_KEY,
    ).json()  # fmt: skip
    callback = _pay(api, link["code"])
    # When the buyer comes back paid
    answer = api.get(callback)
    # Then he goes to the merchant's page with payment_id and status added
    [payment] = _payments(api)
    assert answer.location == (
        f"https://shop.example/thanks?order=7&payment_id={payment['id']}&status=paid"
        "&reference=C-17&metadata%5Bcohort%5D=autumn"
    )


def test_invoice_is_gone_once_paid(api, merchant, gateways):
    # Given a paid invoice
    invoice = api.post_json(
        "/v1/links",
        {"title": "Invoice 12", "amount": 300_000, "kind": "invoice", "payer": {"name": "Sara"}},
        key=TEST_API_KEY,
    ).json()
    api.get(_pay(api, invoice["code"]))
    # When it is opened or posted again
    page = api.get(f"/{invoice['code']}")
    again = _checkout(api, invoice["code"])
    # Then both answer the 410 page
    assert (page.status, again.status) == (410, 410)


def test_inactive_and_unknown_links_answer_410_and_404_pages(api, link):
    # Given an inactive link
    api.patch_json(f"/v1/links/{link['code']}", {"active": False}, key=TEST_API_KEY)
    # Then it answers 410, an unknown code 404, both as pages
    assert api.get(f"/{link['code']}").status == 410
    unknown = api.get("/nosuchcode00")
    assert unknown.status == 404
    assert "text/html" in unknown.headers["Content-Type"]


def test_payment_over_the_daily_cap_is_refused_before_any_gateway(api, merchant, gateways, store):
    # Given a personal account (30,000,000 rials a day) with three 9,900,000 payments started today
    # by three buyers (each from its own address, with its own phone)
    link = api.post_json("/v1/links", {"title": "Big", "amount": 9_900_000}, key=TEST_API_KEY).json()
    for n in range(3):
        buyer = ApiClient(source_ip=f"198.51.100.{n + 1}")
        assert buyer.post_form(f"/{link['code']}", {**BUYER, "phone": f"0912000000{n}"}).status == 303
    calls_before = len(gateways.calls("a"))
    # When a fourth would pass the daily cap
    answer = _checkout(api, link["code"])
    # Then the form is shown again with the amount error and no gateway was asked
    assert answer.status == 400
    assert len(gateways.calls("a")) == calls_before


def test_open_amount_is_typed_in_toman_and_kept_in_rials(api, merchant, gateways):
    # Given an open link
    link = api.post_json("/v1/links", {"title": "Donation", "kind": "open"}, key=TEST_API_KEY).json()
    # When the buyer types 50,000 toman with Persian digits
    answer = api.post_form(f"/{link['code']}", {**BUYER, "amount": "۵۰٬۰۰۰"})
    # Then the payment is 500,000 rials
    assert answer.status == 303
    assert _payments(api)[0]["amount"] == 500_000
