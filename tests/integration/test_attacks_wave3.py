"""Wave 3 attacks from outside, through the public contract (HTTP events as API Gateway sends
them): the Telegram webhook, refunds and the payer's page, the merchant panel and settings API."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from tests.helpers import ApiClient, reset_caches
from tests.integration.panel.conftest import (  # noqa: F401 - the fixtures (the panel key: autouse)
    panel_key,
    texts,
)
from tests.integration.test_log_hygiene import logs  # noqa: F401 - the fixture
from tests.integration.test_refund_payer import (  # noqa: F401 - the fixtures
    _post_card,
    _refund,
    awaiting,
    awaiting_sep,
    inquiry,
    matching_card,
)

BOT_TOKEN = "123456:wave3-attack-token"


# ---- the Telegram bot --------------------------------------------------------------------------


@pytest.fixture
def bot(aws: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The webhook with a bot token, the Bot API mocked; yields a `send(chat, user, text)`."""
    from paylink.bot.api import webhook_secret

    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    reset_caches()
    api = ApiClient()
    secret = webhook_secret(BOT_TOKEN)
    counter = iter(range(70_000, 80_000))
    with respx.mock() as mock:
        sent = mock.post(url__regex=r"^https://api\.telegram\.org/bot").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"username": "shop_bot"}})
        )

        def send(chat: dict[str, Any], user: int, text: str) -> int:
            message = {"message_id": 1, "date": 0, "text": text, "chat": chat, "from": {"id": user}}
            update = {"update_id": next(counter), "message": message}
            headers = {"content-type": "application/json", "x-telegram-bot-api-secret-token": secret}
            answer = api.request(
                "POST", "/telegram/webhook", body=json.dumps(update).encode(), headers=headers
            )
            return answer.status

        send.sent = sent  # type: ignore[attr-defined]
        yield send


def _link_token(store: Any, merchant: Any, token: str) -> str:
    from paylink.bot.linking import _hash

    store.put_telegram_token(_hash(token), merchant.id, int(time.time()) + 600)
    return token


def _last_text(bot: Any) -> str:
    call = bot.sent.calls[-1]
    return json.loads(call.request.content or b"{}").get("text", "")


GROUP = {"id": -100500, "type": "supergroup", "title": "Scarf Shop staff"}


def test_another_member_of_a_linked_group_cannot_relink_it_to_their_own_shop(
    bot, store, merchant, other_merchant
):
    # Given the shop's staff group, linked to the shop by its owner (user 1)
    assert bot(GROUP, 1, "/start " + _link_token(store, merchant, "owner-token")) == 200
    assert store.telegram_chat(str(GROUP["id"]))["merchant_id"] == merchant.id
    # When another member (user 2), who has a shop of their own, sends their own link token there
    assert bot(GROUP, 2, "/start " + _link_token(store, other_merchant, "intruder-token")) == 200
    # Then the group stays the shop's: the staff's /new links keep paying the shop, not the intruder
    assert store.telegram_chat(str(GROUP["id"]))["merchant_id"] == merchant.id
    assert store.telegram_chats_of(other_merchant.id) == []


def test_another_member_of_a_linked_group_cannot_unlink_it(bot, store, merchant):
    # Given the shop's staff group, linked by its owner (user 1)
    assert bot(GROUP, 1, "/start " + _link_token(store, merchant, "owner-token")) == 200
    # When another member (user 2) sends /stop there
    assert bot(GROUP, 2, "/stop") == 200
    # Then the group stays linked (only who linked it unlinks it, or the merchant from the panel)
    assert store.telegram_chat(str(GROUP["id"]))["merchant_id"] == merchant.id


def test_the_member_who_linked_a_group_can_still_unlink_it(bot, store, merchant):
    # Given the shop's staff group, linked by its owner (user 1)
    assert bot(GROUP, 1, "/start " + _link_token(store, merchant, "owner-token")) == 200
    # When the owner sends /stop there
    assert bot(GROUP, 1, "/stop") == 200
    # Then the group is unlinked
    assert store.telegram_chat(str(GROUP["id"])) is None


# ---- the payer's refund page -------------------------------------------------------------------


def test_the_refund_page_takes_a_few_cards_then_stops_asking_the_bank(api, awaiting, monkeypatch):  # noqa: F811
    # Given a refund awaiting its payer, and a bank that refuses card numbers that do not exist
    from paylink.merchants import identity
    from paylink.refunds.payer import CARD_TRIES

    payment, _, token = awaiting
    asked: list[str] = []

    def no_such_card(card: str) -> Any:
        asked.append(card)
        raise identity.InquiryRejected("no such card")

    monkeypatch.setattr(identity, "card_to_iban", no_such_card)
    # When the holder of the link tries card after card with the payer's first six and last four
    # digits (each one a paid inquiry, and an oracle for which numbers exist)
    answers = [
        _post_card(api, token, matching_card(payment["card_mask"], n * 10)).status
        for n in range(CARD_TRIES + 10)
    ]
    # Then only the first few reach the bank; the rest are refused with a 429 page
    assert len(asked) == CARD_TRIES
    assert answers[CARD_TRIES:] == [429] * 10
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"


def test_a_card_whose_account_belongs_to_someone_else_receives_nothing(
    api,
    awaiting,  # noqa: F811
    inquiry,  # noqa: F811
    store,
):
    # Given a refund awaiting its payer, and a bank inquiry that maps the payer's card to an account
    # whose owner is not the card's holder (a joint or stale mapping, a provider's mistake)
    payment, refund, token = awaiting
    inquiry.set_mode("inq", "iban_mismatch")
    # When the payer's card is entered
    answer = _post_card(api, token, matching_card(payment["card_mask"]))
    # Then no money leaves for that account; the refund still awaits its payer
    assert answer.status == 400
    assert store.get_payout("rfd_" + refund["id"].removeprefix("ref_")) is None
    assert _refund(api, payment["id"])["status"] == "awaiting_payer"


def test_a_card_with_the_payers_first_six_and_last_four_but_another_account_receives_nothing(
    api,
    awaiting_sep,  # noqa: F811
    store,
):
    # Given a refund awaiting its payer, who paid (through SEP, which reports the card's hash)
    # with the first card of the mask
    payment, refund, token = awaiting_sep
    payers_card = matching_card(payment["card_mask"])
    others_card = matching_card(payment["card_mask"], int(payers_card[6:12]) + 1)
    assert others_card != payers_card
    # When someone holding the link enters another person's card of the same bank ending alike
    answer = _post_card(api, token, others_card)
    # Then it is refused and no money leaves for that account
    assert answer.status == 400
    assert store.get_payout("rfd_" + refund["id"].removeprefix("ref_")) is None


# ---- the merchant panel ------------------------------------------------------------------------


def test_one_ipv6_subscriber_cannot_dodge_the_per_address_code_limit_by_rotating_addresses(
    aws,
    texts,  # noqa: F811
):
    # Given the codes one source address may ask for in its window
    from paylink.panel.codes import ADDRESS_SENDS
    from tests.integration.panel.support import Browser

    # When one home connection (one /64) asks codes for many phones, each from a new address in it
    statuses = [
        Browser(f"2001:db8:1:2::{n + 1:x}").post("/login", {"phone": f"0912000{n:04d}"}).status
        for n in range(ADDRESS_SENDS + 3)
    ]
    # Then its allowance is one address's: the rest are refused before any SMS goes
    assert statuses[:ADDRESS_SENDS] == [200] * ADDRESS_SENDS
    assert statuses[ADDRESS_SENDS:] == [429] * 3
    assert len(texts.sent) == ADDRESS_SENDS


# ---- refunds over the API ----------------------------------------------------------------------

from tests.conftest import TEST_API_KEY  # noqa: E402
from tests.integration.test_refunds import paid  # noqa: E402, F401 - the fixture


def test_a_payment_cannot_be_cut_into_endless_tiny_refunds(api, paid, monkeypatch):  # noqa: F811
    # Given a paid payment (the payer typed a phone), and the SMS each transfer refund sends there
    from paylink.refunds import service

    texted: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda payment, refund, token, base: texted.append(token))
    # When its merchant refunds it a thousand rials at a time (each an SMS to that phone, each its
    # own bank transfer later)
    statuses = [
        api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 1_000}, key=TEST_API_KEY).status
        for _ in range(service.MAX_REFUNDS_PER_PAYMENT + 3)
    ]
    # Then a payment takes a bounded number of refunds; the rest are a 409, nothing sent for them
    assert statuses == [201] * service.MAX_REFUNDS_PER_PAYMENT + [409] * 3
    assert len(texted) == service.MAX_REFUNDS_PER_PAYMENT


def test_a_refund_below_the_gateways_minimum_is_a_400_unless_it_is_all_that_is_left(api, paid):  # noqa: F811
    # When a merchant asks a one-rial refund of a payment with far more left
    answer = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 1}, key=TEST_API_KEY)
    # Then it is refused on `amount`, nothing is refunded
    assert answer.status == 400
    assert "amount" in answer.json()["error"]["fields"]
    assert api.get(f"/v1/payments/{paid}", key=TEST_API_KEY).json()["amount_refunded"] == 0


def test_the_holder_and_owner_names_compare_across_arabic_letter_forms_and_spacing():
    from paylink.refunds.payer import same_person

    assert same_person("علي  كريمي", ("علی کریمی",))
    assert same_person("مهدی\u200cزاده", ("مهدی زاده", "سارا احمدی"))
    assert not same_person("شخص دیگر", ("کاربر آزمایشی",))


def test_sign_up_and_an_iban_change_in_the_panel_log_no_phone_national_code_or_iban(
    aws,
    texts,  # noqa: F811
    logs,  # noqa: F811
    monkeypatch,
):
    # Given the panel's bank inquiries on a sandbox
    from local.sandbox import Sandbox
    from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN
    from paylink.merchants import identity
    from tests.integration.panel.support import IBAN, NATIONAL_CODE, Browser, sign_up
    from tests.integration.test_log_hygiene import assert_clean

    new_iban = "IR580540105180021273113007"
    with Sandbox(instances={"inq": "zibal-inquiry"}, port=0, slow_seconds=1.0) as box:
        monkeypatch.setenv("PAYLINK_INQUIRY_API_URL", f"{box.url}/inq")
        monkeypatch.setattr(identity, "secret", lambda name: SANDBOX_TOKEN)
        reset_caches()
        # When a phone signs in, signs up, fails an IBAN change (someone else's) and makes one
        browser = Browser("203.0.113.9")
        browser.sign_in(texts, phone="09127654321")
        assert sign_up(browser, username="scarves").status == 303
        owner = {"national_code": NATIONAL_CODE, "birth_date": "1370/01/31"}
        box.set_mode("inq", "iban_mismatch")
        assert browser.post("/dashboard/settings/iban", {"iban": new_iban, **owner}).status == 400
        box.set_mode("inq", "ok")
        assert browser.post("/dashboard/settings/iban", {"iban": new_iban, **owner}).status == 200
    # Then no line holds the phone, the national code, either IBAN or the code sent
    assert_clean(logs, "09127654321", "9127654321", NATIONAL_CODE, IBAN, new_iban, texts.last("09127654321"))


# ---- coupons on the buyer page -----------------------------------------------------------------


def test_one_client_cannot_guess_a_shops_coupon_codes_by_trying_word_after_word(api, merchant, gateways):
    # Given a shop's link and its staff coupon (a guessable word)
    from paylink.merchants.coupons import COUPON_TRIES

    link = api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY).json()
    body = {"code": "STAFF", "kind": "percent", "value": 100}
    assert api.post_json("/v1/coupons", body, key=TEST_API_KEY).status == 201
    guesser = ApiClient("198.51.100.7")
    # When one client tries word after word with the page's "apply" button, then the right one
    for n in range(COUPON_TRIES):
        wrong = guesser.post_form(f"/{link['code']}?lang=en", {"coupon": f"WORD{n}", "action": "apply"})
        assert wrong.status == 400
    right = guesser.post_form(f"/{link['code']}?lang=en", {"coupon": "STAFF", "action": "apply"})
    # Then after its allowance the page no longer says which code works (a 429, no discount shown)
    assert right.status == 429
    assert 'id="quote"' not in right.text
    # And another buyer's coupon still works
    other = ApiClient("198.51.100.8").post_form(f"/{link['code']}", {"coupon": "STAFF", "action": "apply"})
    assert other.status == 200


# ---- the merchant settings API -----------------------------------------------------------------

from tests.integration.test_merchant_settings_api import _call, _set_hook  # noqa: E402
from tests.integration.test_webhooks import notify, sqs  # noqa: E402, F401 - the fixtures


def test_test_events_cannot_turn_us_into_a_flood_of_posts_at_any_host(
    api,
    store,
    notify,  # noqa: F811
    sqs,  # noqa: F811
    merchant,
):
    # Given an endpoint at a host the merchant does not own (each ping is retried while it fails)
    from paylink.merchants.webhook_endpoint import TEST_EVENTS_PER_HOUR

    _set_hook(api)
    # When the merchant asks for test event after test event
    statuses = [_call(api, "POST", "/v1/webhook/test").status for _ in range(TEST_EVENTS_PER_HOUR + 5)]
    # Then only a few are queued; the rest are a 429 with Retry-After
    assert statuses == [202] * TEST_EVENTS_PER_HOUR + [429] * 5
    refused = _call(api, "POST", "/v1/webhook/test")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0


def test_the_panels_test_event_button_has_the_same_hourly_allowance(
    aws,
    texts,  # noqa: F811
    inquiry,  # noqa: F811
    notify,  # noqa: F811
    sqs,  # noqa: F811
):
    # Given a signed-up merchant with a webhook endpoint
    from paylink.merchants.webhook_endpoint import TEST_EVENTS_PER_HOUR
    from tests.integration.panel.support import signed_up

    shop = signed_up(texts, "09121234567", "scarves", "203.0.113.9")
    assert shop.post("/dashboard/settings/webhook", {"url": "https://merchant.example/hook"}).status == 200
    # When the test button is pressed again and again
    statuses = [
        shop.post("/dashboard/settings/webhook/test", {}).status for _ in range(TEST_EVENTS_PER_HOUR + 2)
    ]
    # Then the ones past the allowance are a 429 page, not a 503
    assert statuses == [200] * TEST_EVENTS_PER_HOUR + [429] * 2


@pytest.mark.parametrize("author", ["someone", 7, ["x"], None])
def test_an_update_whose_sender_is_not_an_object_is_answered_not_crashed(bot, author):
    # When an update's `from` is not a user object
    api = ApiClient()
    from paylink.bot.api import webhook_secret

    message = {
        "message_id": 1,
        "date": 0,
        "text": "/help",
        "chat": {"id": 5, "type": "private"},
        "from": author,
    }
    headers = {
        "content-type": "application/json",
        "x-telegram-bot-api-secret-token": webhook_secret(BOT_TOKEN),
    }
    update = json.dumps({"update_id": 61_000, "message": message}).encode()
    answer = api.request("POST", "/telegram/webhook", body=update, headers=headers)
    # Then it is answered (never a 500 that Telegram would redeliver again and again)
    assert answer.status == 200
