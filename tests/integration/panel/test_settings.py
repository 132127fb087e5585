"""Panel settings (issue 14): the webhook's secret and a new API key shown once, revocation, the
Telegram deep link and unlinking, each action refused cross-site, another merchant's key or chat
answering exactly like a missing one."""

from __future__ import annotations

import re

import httpx
import pytest
import respx

from tests.helpers import reset_caches
from tests.integration.panel.support import Browser, signed_up
from tests.integration.test_webhooks import notify, sqs  # noqa: F401 - fixtures

HOOK = "https://merchant.example/hooks"
CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}


@pytest.fixture
def shop(aws, texts, inquiry):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09121234567", "scarves", "203.0.113.9")


@pytest.fixture
def rival(shop, texts):  # type: ignore[no-untyped-def]
    return signed_up(texts, "09351234567", "hats", "203.0.113.10")


def _secret(html: str, element: str) -> str:
    match = re.search(rf'id="{element}">([^<]+)<', html)
    assert match, f"no {element} shown"
    return match.group(1)


def _key_id_of(html: str, key: str) -> str:
    match = re.search(rf"…{key[-4:]}</span>.*?name=\"key\" value=\"([^\"]+)\"", html, re.S)
    assert match, "key not listed"
    return match.group(1)


def _key_ids(html: str) -> list[str]:
    return re.findall(r'name="key" value="([^"]+)"', html)


def test_a_new_webhook_shows_its_secret_once_and_never_on_the_settings_page(shop):
    made = shop.post("/dashboard/settings/webhook", {"url": HOOK})

    assert made.status == 200
    secret = _secret(made.text, "hook-secret")
    again = shop.get("/dashboard/settings")
    assert HOOK in again.text
    assert secret not in again.text


def test_changing_the_webhook_url_keeps_the_secret_hidden(shop):
    secret = _secret(shop.post("/dashboard/settings/webhook", {"url": HOOK}).text, "hook-secret")

    changed = shop.post("/dashboard/settings/webhook", {"url": HOOK + "/v2"})

    assert changed.status == 200
    assert secret not in changed.text
    assert 'id="hook-secret"' not in changed.text


def test_rotating_shows_a_new_secret_once(shop):
    first = _secret(shop.post("/dashboard/settings/webhook", {"url": HOOK}).text, "hook-secret")

    rotated = shop.post("/dashboard/settings/webhook/rotate", {})

    second = _secret(rotated.text, "hook-secret")
    assert second != first
    assert second not in shop.get("/dashboard/settings").text


def test_a_webhook_url_that_is_not_https_is_refused_with_a_field_error(shop):
    answer = shop.post("/dashboard/settings/webhook", {"url": "http://127.0.0.1/x"})

    assert answer.status == 400
    assert 'id="e-url"' in answer.text
    assert 'id="hook-secret"' not in answer.text


def test_deleting_the_webhook_removes_it(shop):
    shop.post("/dashboard/settings/webhook", {"url": HOOK})

    deleted = shop.post("/dashboard/settings/webhook/delete", {})

    assert deleted.status == 200
    assert HOOK not in shop.get("/dashboard/settings").text


def test_a_test_event_is_queued_and_listed_once_tried(shop, notify, sqs):  # noqa: F811
    shop.post("/dashboard/settings/webhook", {"url": HOOK})

    sent = shop.post("/dashboard/settings/webhook/test", {})

    assert sent.status == 200
    queued = sqs.receive_message(QueueUrl=notify["NotifyQueue"], MaxNumberOfMessages=10)
    assert any('"ping"' in m["Body"] for m in queued.get("Messages", []))


def test_a_new_api_key_is_shown_once_and_listed_by_its_last_four(shop):
    made = shop.post("/dashboard/settings/keys", {"name": "web shop"})

    assert made.status == 200
    key = _secret(made.text, "new-key")
    page = shop.get("/dashboard/settings")
    assert key not in page.text
    assert "web shop" in page.text
    assert "…" + key[-4:] in page.text


def test_a_revoked_key_is_listed_as_revoked_and_stops_working(shop):
    key = _secret(shop.post("/dashboard/settings/keys", {"name": "old"}).text, "new-key")
    shop.post("/dashboard/settings/keys", {"name": "new"})
    page = shop.get("/dashboard/settings?lang=en")
    old_id = _key_id_of(page.text, key)

    revoked = shop.post("/dashboard/settings/keys/revoke?lang=en", {"key": old_id})

    assert revoked.status == 200
    assert "revoked" in revoked.text
    api = shop.client.request("GET", "/v1/links", headers={"authorization": f"Bearer {key}"})
    assert api.status == 401


def test_the_last_active_key_is_not_revoked(shop):
    shop.post("/dashboard/settings/keys", {"name": "only"})
    *others, only = _key_ids(shop.get("/dashboard/settings").text)
    for other in others:  # whatever keys sign-up made
        assert shop.post("/dashboard/settings/keys/revoke", {"key": other}).status == 200

    answer = shop.post("/dashboard/settings/keys/revoke", {"key": only})

    assert answer.status == 409
    assert _key_ids(shop.get("/dashboard/settings").text) == [only]


def test_another_merchants_key_answers_like_a_missing_one(shop, rival):
    shop.post("/dashboard/settings/keys", {"name": "a"})
    shop.post("/dashboard/settings/keys", {"name": "b"})
    theirs = _key_ids(shop.get("/dashboard/settings").text)[0]

    foreign = rival.post("/dashboard/settings/keys/revoke", {"key": theirs})
    missing = rival.post("/dashboard/settings/keys/revoke", {"key": "key_nosuchkey000000"})

    assert foreign.status == missing.status == 404
    assert foreign.text == missing.text
    assert theirs in shop.get("/dashboard/settings").text


def test_the_telegram_button_shows_a_deep_link(shop, monkeypatch):
    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", "123456:panel-test-token")
    reset_caches()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(url__regex=r"/getMe$").mock(
            return_value=httpx.Response(200, json={"ok": True, "result": {"username": "paylink_bot"}})
        )
        mock.route(host__regex=r"^(?!api\.telegram\.org$)").pass_through()
        answer = shop.post("/dashboard/settings/telegram", {})

    assert answer.status == 200
    assert re.search(r'href="https://t\.me/paylink_bot\?start=[A-Za-z0-9_-]{20,64}"', answer.text)


def test_a_linked_chat_is_listed_and_unlinked(shop, store):
    from paylink.bot.linking import _hash, link_chat

    merchant_id = store.merchant_id_for_phone(_subject())
    store.put_telegram_token(_hash("tok-panel"), merchant_id, 2_000_000_000)
    link_chat(store, "tok-panel", 4242, "fa")
    assert "4242" in shop.get("/dashboard/settings").text

    answer = shop.post("/dashboard/settings/telegram/unlink", {"chat": "4242"})

    assert answer.status == 200
    assert store.telegram_chat("4242") is None


def test_another_merchants_chat_answers_like_a_missing_one(shop, rival, store):
    from paylink.bot.linking import _hash, link_chat

    store.put_telegram_token(_hash("tok-shop"), store.merchant_id_for_phone(_subject()), 2_000_000_000)
    link_chat(store, "tok-shop", 5151, "fa")

    foreign = rival.post("/dashboard/settings/telegram/unlink", {"chat": "5151"})
    missing = rival.post("/dashboard/settings/telegram/unlink", {"chat": "999999"})

    assert foreign.status == missing.status == 404
    assert foreign.text == missing.text
    assert store.telegram_chat("5151") is not None


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/dashboard/settings/webhook", {"url": HOOK}),
        ("/dashboard/settings/webhook/rotate", {}),
        ("/dashboard/settings/webhook/delete", {}),
        ("/dashboard/settings/webhook/test", {}),
        ("/dashboard/settings/keys", {"name": "evil"}),
        ("/dashboard/settings/keys/revoke", {"key": "x"}),
        ("/dashboard/settings/telegram", {}),
        ("/dashboard/settings/telegram/unlink", {"chat": "1"}),
    ],
)
def test_a_cross_site_post_to_a_settings_action_is_refused(shop, path, fields):
    answer = shop.post(path, fields, headers=CROSS_SITE)

    assert answer.status == 403
    assert "evil" not in shop.get("/dashboard/settings").text


@pytest.mark.parametrize("path", ["/dashboard/settings/keys", "/dashboard/settings/webhook"])
def test_a_settings_action_without_a_session_goes_to_login(aws, path):
    answer = Browser().post(path, {"name": "x", "url": HOOK})

    assert answer.status == 303
    assert answer.location.startswith("/login")


def _subject() -> str:
    from paylink.panel.guard import subject_of

    return subject_of("+989121234567")


# -- IBAN change ---------------------------------------------------------------------------------
NEW_IBAN = "IR820540102680020817909002"
OWNER = {"national_code": "0499370899", "birth_date": "۱۳۷۰/۰۱/۳۱"}


def test_a_new_iban_of_the_same_person_is_saved_after_the_inquiries(shop, store):
    answer = shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER})

    assert answer.status == 200, answer.text
    merchant = store.get_merchant(store.merchant_id_for_phone(_subject()))
    assert merchant.iban == NEW_IBAN


def test_an_iban_of_someone_else_is_refused_and_nothing_changes(shop, store, inquiry):
    inquiry.set_mode("inq", "iban_mismatch")
    before = store.get_merchant(store.merchant_id_for_phone(_subject())).iban

    answer = shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER})

    assert answer.status == 400
    assert 'id="e-iban"' in answer.text
    assert store.get_merchant(store.merchant_id_for_phone(_subject())).iban == before


def test_a_national_code_not_of_the_signed_in_mobile_is_refused(shop, store, inquiry):
    inquiry.set_mode("inq", "shahkar_mismatch")

    answer = shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER})

    assert answer.status == 400
    assert 'id="e-national_code"' in answer.text
    assert store.get_merchant(store.merchant_id_for_phone(_subject())).iban != NEW_IBAN


def test_an_inquiry_that_cannot_run_changes_nothing_and_says_so(shop, store, inquiry):
    inquiry.set_mode("inq", "down")

    answer = shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER})

    assert answer.status == 503
    assert store.get_merchant(store.merchant_id_for_phone(_subject())).iban != NEW_IBAN


def test_a_cross_site_iban_change_is_refused(shop, store):
    answer = shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER}, headers=CROSS_SITE)

    assert answer.status == 403
    assert store.get_merchant(store.merchant_id_for_phone(_subject())).iban != NEW_IBAN


def test_a_merchant_cannot_pump_paid_identity_inquiries_by_resubmitting_the_iban_form(shop, store, inquiry):
    from paylink.panel.signup import INQUIRIES_PER_DAY

    # Given a merchant whose national code never matches its mobile (each try a paid Shahkar inquiry)
    inquiry.set_mode("inq", "shahkar_mismatch")
    before = len(inquiry.calls("inq"))
    # When it submits the IBAN form again and again
    answers = [
        shop.post("/dashboard/settings/iban", {"iban": NEW_IBAN, **OWNER})
        for _ in range(INQUIRIES_PER_DAY + 5)
    ]
    # Then no more than the phone's daily inquiries reach the provider; the rest are a 429 page
    assert len(inquiry.calls("inq")) - before <= INQUIRIES_PER_DAY
    assert [a.status for a in answers[-5:]] == [429] * 5
    assert "Retry-After" in answers[-1].headers
    assert store.get_merchant(store.merchant_id_for_phone(_subject())).iban != NEW_IBAN
