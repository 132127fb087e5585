"""Settings are read from the environment by the exact names template.yaml gives them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paylink.core.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings():  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_template_variables_are_parsed_from_their_text(monkeypatch):
    # Given the environment Lambda gives a function (all values are text)
    monkeypatch.setenv("TABLE_NAME", "paylink-prod-Table")
    monkeypatch.setenv("PAYLINK_CHECKOUT_BUDGET_SECONDS", "4.5")
    monkeypatch.setenv("PAYLINK_ALLOW_CLOCK_OVERRIDE", "true")
    monkeypatch.setenv("PAYLINK_TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("SOMETHING_ELSE", "ignored")
    # When the settings are read
    settings = get_settings()
    # Then each is typed, secrets stay hidden when printed, and unknown variables are ignored
    assert settings.table_name == "paylink-prod-Table"
    assert settings.checkout_budget_seconds == 4.5
    assert settings.allow_clock_override is True
    assert settings.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings)


def test_absent_variables_take_their_defaults(monkeypatch):
    # Given no paylink variable at all
    for name in ("TABLE_NAME", "PAYLINK_TIMEZONE", "PAYLINK_CHECKOUT_BUDGET_SECONDS", "SETTLE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    # Then the defaults apply
    settings = get_settings()
    assert (settings.table_name, settings.timezone, settings.checkout_budget_seconds) == (
        "paylink",
        "Asia/Tehran",
        8.0,
    )
    assert settings.settle_queue_url == ""


def test_names_are_exact_not_lower_case_field_names():
    # Given a field's own (lower-case) name instead of its variable's name
    settings = Settings.model_validate({"table_name": "wrong", "TABLE_NAME": "right"})
    # Then only the variable's name counts
    assert settings.table_name == "right"


def test_a_malformed_value_fails_loudly_at_start():
    # Given a number that is not one
    with pytest.raises(ValidationError):
        Settings.model_validate({"PAYLINK_WEBHOOK_RETRY_SCALE": "fast"})
