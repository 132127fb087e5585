"""A transfer refund's payer page: only the card that paid receives it, once, through its own payout."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from local.sandbox import Sandbox
from tests.conftest import TEST_API_KEY
from tests.helpers import act_at_gateway, local_target

BUYER = {"name": "Ali", "phone": "09121234567"}
AMOUNT = 1_000_000
FORM = {"content-type": "application/x-www-form-urlencoded"}


def matching_card(mask: str, middle: int = 0) -> str:
    """A Luhn-valid card whose first six and last four digits are the mask's."""
    head, tail = mask[:6], mask[-4:]
    for n in range(middle, middle + 1_000_000):
        card = f"{head}{n:06d}{tail}"
        total = 0
        for i, ch in enumerate(card):
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return card
    raise AssertionError("no card")


@pytest.fixture
def inquiry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN
    from paylink.core.settings import get_settings
    from paylink.merchants import identity

    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", f"{box.url}/inq")
        monkeypatch.setenv("PAYLINK_INQUIRY_TOKEN_PARAMETER", "/paylink/test/inquiry-token")
        monkeypatch.setattr(identity, "secret", lambda name: SANDBOX_TOKEN if name else "")
        get_settings.cache_clear()
        yield box
    get_settings.cache_clear()


@pytest.fixture
def awaiting(api, merchant, gateways, store, inquiry, monkeypatch):  # type: ignore[no-untyped-def]
    """A transfer refund of 300,000 rials awaiting its payer; returns (payment, refund, token).

    Paid through the Zibal sandbox, whose verify reports no hash of the card: the mask rule alone."""
    return _awaiting(api, monkeypatch)


@pytest.fixture
def awaiting_sep(api, merchant, gateways, store, inquiry, monkeypatch):  # type: ignore[no-untyped-def]
    """As `awaiting`, paid through the SEP sandbox, whose verify reports the card's hash (HashedPan)."""
    from paylink.merchants.accounts import update_merchant

    update_merchant(store, "shop", gateways=["sandbox-s"])
    found = _awaiting(api, monkeypatch, at_sep=True)
    assert found[0]["gateway"] == "sandbox-s"
    return found


def _awaiting(api, monkeypatch, at_sep: bool = False):  # type: ignore[no-untyped-def]
    from paylink.refunds import service
    from tests.integration.test_one_payer import _deliver, _pay_at_sep

    sent: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda payment, refund, token, base: sent.append(token))
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    for _ in range(2):
        if at_sep:  # a bank gateway: an auto-posted form in, a POST return out
            assert _deliver(api, _pay_at_sep(api, link["code"])).status == 303
            continue
        started = api.post_form(f"/{link['code']}", BUYER)
        api.get(local_target(act_at_gateway(started.location)))
    payment = api.get("/v1/payments", key=TEST_API_KEY).json()["items"][0]
    refund = api.post_json(
        f"/v1/payments/{payment['id']}/refunds", {"amount": 300_000}, key=TEST_API_KEY
    ).json()
    return payment, refund, sent[-1]


def _post_card(api, token: str, card: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return api.request(
        "POST",
        f"/refund/{token}",
        body=urlencode({"card": card}).encode(),
        headers={**FORM, **(headers or {})},
    )


def _refund(api, payment_id: str) -> dict:  # type: ignore[type-arg]
    return api.get(f"/v1/payments/{payment_id}/refunds", key=TEST_API_KEY).json()["items"][0]


def test_the_payer_page_shows_the_refund_and_asks_for_the_card(api, awaiting):
    payment, _, token = awaiting
    page = api.get(f"/refund/{token}?lang=en")
    assert page.status == 200
    assert "Card number" in page.text
    assert payment["card_mask"] in page.text


def test_an_unknown_token_is_a_404(api, awaiting):
    assert api.get("/refund/not-a-token").status == 404


def test_the_card_that_paid_receives_the_refund_through_its_own_payout(api, awaiting, store):
    payment, refund, token = awaiting
    # When the payer enters the card that paid
    answer = _post_card(api, token, matching_card(payment["card_mask"]))
    # Then the refund is paid out once, to that card's checked account, and succeeds
    assert answer.status == 303
    assert _refund(api, payment["id"])["status"] == "succeeded"
    payout = store.get_payout("rfd_" + refund["id"].removeprefix("ref_"))
    assert payout is not None
    assert payout["amount"] == 300_000


def test_another_card_is_refused_and_nothing_is_paid(api, awaiting, store):
    payment, refund, token = awaiting
    other = matching_card("603799******" + ("0000" if payment["card_mask"][-4:] != "0000" else "1111"))
    # When someone enters a card that did not pay
    answer = _post_card(api, token, other)
    # Then it is refused on the page, the refund still awaits its payer, no payout exists
    assert answer.status == 400
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"
    assert store.get_payout("rfd_" + refund["id"].removeprefix("ref_")) is None


def test_a_cross_site_post_is_refused(api, awaiting, store):
    payment, _, token = awaiting
    answer = _post_card(
        api,
        token,
        matching_card(payment["card_mask"]),
        {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert answer.status == 403
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"


def test_a_second_post_of_the_card_pays_nothing_more(api, awaiting, store):
    payment, refund, token = awaiting
    card = matching_card(payment["card_mask"])
    _post_card(api, token, card)
    again = _post_card(api, token, card)
    assert again.status == 303
    payout = store.get_payout("rfd_" + refund["id"].removeprefix("ref_"))
    assert payout is not None
    assert payout["attempt"] == 1


def test_an_expired_link_takes_no_card(api, awaiting, store):
    payment, refund, token = awaiting
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"REFUND#{refund['id']}", "sk": "REFUND"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": "2020-01-01T00:00:00.000000Z"},
    )
    answer = _post_card(api, token, matching_card(payment["card_mask"]))
    assert answer.status == 410
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"


def test_a_reminder_replaces_the_link(api, awaiting, store, merchant):
    from paylink.refunds import service

    _, refund, token = awaiting
    service.remind_payer(store, merchant, refund["id"], "https://pay.example")
    assert api.get(f"/refund/{token}").status == 404


def test_a_reminder_after_the_link_expired_gives_the_payer_a_working_link(
    api, awaiting, store, merchant, monkeypatch
):
    from paylink.refunds import service

    payment, refund, _ = awaiting
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"REFUND#{refund['id']}", "sk": "REFUND"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": "2020-01-01T00:00:00.000000Z"},
    )
    sent: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda p, r, token, base: sent.append(token))
    service.remind_payer(store, merchant, refund["id"], "https://pay.example")
    answer = _post_card(api, sent[-1], matching_card(payment["card_mask"]))
    assert answer.status == 303
    assert _refund(api, payment["id"])["status"] == "succeeded"


# ---- the gateway's hash of the paying card -----------------------------------------------------


def test_with_the_gateways_card_hash_the_card_that_paid_receives_the_refund(api, awaiting_sep, store):
    # Given a refund of a payment whose gateway (SEP) reported a hash of the paying card
    payment, refund, token = awaiting_sep
    assert store.get_payment(payment["id"]).card_hash
    # When the payer enters the card that paid (the sandbox's: the mask's first Luhn-valid card)
    answer = _post_card(api, token, matching_card(payment["card_mask"]))
    # Then the refund is paid out to it
    assert answer.status == 303
    assert _refund(api, payment["id"])["status"] == "succeeded"
    assert store.get_payout("rfd_" + refund["id"].removeprefix("ref_")) is not None


def test_with_the_gateways_card_hash_another_card_of_the_same_mask_is_refused(api, awaiting_sep, store):
    # Given a refund of a payment whose gateway reported a hash of the paying card
    payment, refund, token = awaiting_sep
    payers_card = matching_card(payment["card_mask"])
    others_card = matching_card(payment["card_mask"], int(payers_card[6:12]) + 1)
    # When another card with the same first six and last four digits is entered
    answer = _post_card(api, token, others_card)
    # Then it is refused before any bank inquiry, and nothing is paid
    assert answer.status == 400
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"
    assert store.get_payout("rfd_" + refund["id"].removeprefix("ref_")) is None


def test_the_card_hash_is_kept_off_the_merchant_api(api, awaiting_sep, store):
    # Given a payment whose gateway reported a hash of the paying card
    payment, _, _ = awaiting_sep
    stored = store.get_payment(payment["id"]).card_hash
    # When the merchant reads it over the API
    shown = api.get(f"/v1/payments/{payment['id']}", key=TEST_API_KEY).text
    # Then the hash is not in the answer
    assert stored
    assert stored.lower() not in shown.lower()
