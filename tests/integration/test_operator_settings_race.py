"""The operator's command line (local/admin.py → paylink.merchants.accounts) writes a merchant's
webhook, Telegram chat and email only while they still hold what it read, as the panel's settings
do: a change made in between (the panel, another operator) is reported, never overwritten."""

from __future__ import annotations

from typing import Any

import pytest

from paylink.core.errors import Conflict
from paylink.merchants import accounts


def _change_between_read_and_write(store: Any, monkeypatch: pytest.MonkeyPatch, **fields: str) -> None:
    """Someone else writes `fields` right after the operator's command read the merchant."""
    real = accounts._merchant_by_username

    def read_then_changed(store_: Any, username: str) -> Any:
        merchant = real(store_, username)
        store.set_notification_settings(merchant.id, dict(fields))
        return merchant

    monkeypatch.setattr(accounts, "_merchant_by_username", read_then_changed)


def test_set_webhook_reports_a_concurrent_change_instead_of_overwriting_it(store, merchant, monkeypatch):
    # Given the panel sets the webhook while the operator's set-webhook runs
    _change_between_read_and_write(
        store, monkeypatch, webhook_url="https://panel.example/hook", webhook_secret="whsec_panel"
    )
    # When the operator's write comes, Then it is refused as a conflict
    with pytest.raises(Conflict):
        accounts.set_webhook(store, "shop", "https://operator.example/hook")
    # And the panel's webhook and secret are kept
    kept = store.get_merchant(merchant.id)
    assert (kept.webhook_url, kept.webhook_secret) == ("https://panel.example/hook", "whsec_panel")


def test_set_telegram_reports_a_concurrent_change_instead_of_overwriting_it(store, merchant, monkeypatch):
    _change_between_read_and_write(store, monkeypatch, telegram_chat_id="111111")
    with pytest.raises(Conflict):
        accounts.set_telegram(store, "shop", "222222")
    assert store.get_merchant(merchant.id).telegram_chat_id == "111111"


def test_rotating_the_secret_reports_a_concurrent_rotation(store, merchant, monkeypatch):
    accounts.set_webhook(store, "shop", "https://shop.example/hook")
    _change_between_read_and_write(store, monkeypatch, webhook_secret="whsec_other")
    with pytest.raises(Conflict):
        accounts.rotate_webhook_secret(store, "shop")
    assert store.get_merchant(merchant.id).webhook_secret == "whsec_other"


def test_without_a_concurrent_change_the_operator_writes_as_before(store, merchant):
    _, secret = accounts.set_webhook(store, "shop", "https://shop.example/hook")
    assert store.get_merchant(merchant.id).webhook_secret == secret
    accounts.set_webhook(store, "shop", "https://shop.example/hook2")  # a second set keeps working
    accounts.set_telegram(store, "shop", "123456789")
    accounts.set_telegram(store, "shop", None)
    assert store.get_merchant(merchant.id).telegram_chat_id is None
    assert store.get_merchant(merchant.id).webhook_url == "https://shop.example/hook2"
