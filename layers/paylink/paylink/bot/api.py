"""A small Telegram Bot API client (core.telegram.org/bots/api) and the webhook's secret.

The bot token comes from SSM (`PAYLINK_TELEGRAM_BOT_TOKEN_PARAMETER`, paylink.core.secrets) and
sits in every request URL, so no URL is ever logged (paylink.core.observability scrubs httpx's
lines too). The webhook's secret token is derived from the bot token with an HMAC: nothing more to
provision or rotate, a new bot token brings a new secret, and Telegram never sees the bot token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from paylink.core.observability import logger

if TYPE_CHECKING:
    import httpx

TIMEOUT = 5.0  # the webhook answers within seconds; Telegram's own limits are far above that
SECRET_LABEL = b"paylink telegram webhook secret token v1"
WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ["message"]


class BotApiError(Exception):
    """Telegram answered `ok: false` (or not at all: error_code 0)."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """The same call will fail again (blocked bot, chat gone, bad request): no retry."""
        return self.error_code in (400, 403)


def bot_token() -> str:
    """The bot token; "" when this deployment has no bot (or the parameter cannot be read: logged)."""
    from paylink.core.secrets import secret
    from paylink.core.settings import get_settings

    settings = get_settings()
    if settings.telegram_bot_token.get_secret_value():
        return settings.telegram_bot_token.get_secret_value()
    try:
        return secret(settings.telegram_bot_token_parameter)
    except Exception as exc:  # a missing parameter or a denied read: no bot, nothing else breaks
        logger.error(
            "telegram bot token unreadable",
            extra={"parameter": settings.telegram_bot_token_parameter, "error": type(exc).__name__},
        )
        return ""


def webhook_secret(token: str) -> str:
    """The `secret_token` Telegram sends back in X-Telegram-Bot-Api-Secret-Token (64 hex chars)."""
    return hmac.new(token.encode(), SECRET_LABEL, hashlib.sha256).hexdigest()


def secret_matches(token: str, header: str | None) -> bool:
    """Constant-time check of the webhook header; False without a bot token or a header."""
    if not token or not header:
        return False
    return hmac.compare_digest(webhook_secret(token).encode(), header.encode("utf-8", "replace"))


@cache
def http_client() -> httpx.Client:
    import httpx

    return httpx.Client(timeout=httpx.Timeout(TIMEOUT), follow_redirects=False)


def call(method: str, params: dict[str, Any] | None = None, *, files: dict[str, Any] | None = None) -> Any:
    """One Bot API method; its `result`, or BotApiError. Only the method name is ever logged."""
    from paylink.core.settings import get_settings

    token = bot_token()
    if not token:
        raise BotApiError(0, "no bot token configured")
    url = f"{get_settings().telegram_api_url.rstrip('/')}/bot{token}/{method}"
    try:
        if files:
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
            answer = http_client().post(url, data=form, files=files)
        else:
            answer = http_client().post(url, json=params or {})
        body = answer.json()
    except Exception as exc:  # timeouts, refused connections, an HTML error page
        raise BotApiError(0, type(exc).__name__) from None
    if not isinstance(body, dict) or not body.get("ok"):
        body = body if isinstance(body, dict) else {}
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise BotApiError(
            int(body.get("error_code") or answer.status_code), str(body.get("description", "")), retry_after
        )
    return body.get("result")


def send_message(chat_id: int | str, text: str) -> None:
    call("sendMessage", {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}})


def send_photo(chat_id: int | str, png: bytes, caption: str) -> None:
    """A photo uploaded as multipart/form-data (the QR code is drawn here, not fetched by Telegram)."""
    call(
        "sendPhoto",
        {"chat_id": str(chat_id), "caption": caption},
        files={"photo": ("qr.png", png, "image/png")},
    )


_usernames: dict[str, str] = {}  # by the token's secret: a rotated token asks again


def bot_username() -> str:
    """The bot's @username (getMe, once per process and token) for deep links."""
    key = webhook_secret(bot_token())
    if key not in _usernames:
        _usernames[key] = str(call("getMe")["username"])
    return _usernames[key]


def register_webhook(base_url: str, commands: dict[str, list[dict[str, str]]]) -> str:
    """Point Telegram at our webhook with its secret, and set the command menu per language
    ("" = the default). Returns the webhook URL. Safe to repeat: both calls replace what was set."""
    token = bot_token()
    if not token:
        raise BotApiError(0, "no bot token configured")
    url = base_url.rstrip("/") + WEBHOOK_PATH
    call(
        "setWebhook", {"url": url, "secret_token": webhook_secret(token), "allowed_updates": ALLOWED_UPDATES}
    )
    for language, menu in commands.items():
        params: dict[str, Any] = {"commands": menu}
        if language:
            params["language_code"] = language
        call("setMyCommands", params)
    return url
