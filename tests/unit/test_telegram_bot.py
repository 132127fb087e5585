"""The bot's pure parts: amounts typed in a chat, the webhook's secret, commands' shapes."""

from __future__ import annotations

import pytest

from paylink.bot.api import secret_matches, webhook_secret
from paylink.bot.commands import COMMAND, language, parse_toman

TOKEN = "123456:unit-test-token"


@pytest.mark.parametrize(
    ("typed", "toman"),
    [("150000", 150_000), ("150,000", 150_000), ("۱۵۰٬۰۰۰", 150_000), ("١٥٠،٠٠٠", 150_000), ("1_500", 1_500)],
)
def test_an_amount_in_persian_or_latin_digits_with_separators_is_read(typed: str, toman: int):
    assert parse_toman(typed) == toman


@pytest.mark.parametrize("typed", ["abc", "-5", "1.5", "12e3", "", "1" * 13, "۱۵۰ هزار"])
def test_anything_else_is_not_an_amount(typed: str):
    assert parse_toman(typed) is None


def test_the_webhook_secret_is_derived_from_the_bot_token_in_telegrams_alphabet():
    secret = webhook_secret(TOKEN)
    assert len(secret) == 64
    assert secret.isalnum()
    assert TOKEN not in secret
    assert webhook_secret("another:token") != secret


@pytest.mark.parametrize("given", [None, "", "wrong", webhook_secret("another:token"), "é" * 64])
def test_a_wrong_or_missing_secret_does_not_match(given: str | None):
    assert not secret_matches(TOKEN, given)


def test_without_a_bot_token_nothing_matches():
    assert not secret_matches("", webhook_secret(""))


def test_the_right_secret_matches():
    assert secret_matches(TOKEN, webhook_secret(TOKEN))


def test_a_command_addressed_to_the_bot_in_a_group_is_read():
    match = COMMAND.match("/new@paylink_bot 5000 Tea")
    assert match is not None
    assert (match.group(1), match.group(2)) == ("new", "5000 Tea")


def test_english_only_for_an_english_speaking_chat():
    assert language({"from": {"language_code": "en-US"}}) == "en"
    assert language({"from": {"language_code": "fa"}}) == "fa"
    assert language({}) == "fa"
