"""The bot's webhook: Telegram's secret header checked, each update handled once, answered fast.

Telegram redelivers an update until the webhook answers 2xx, so an update is claimed by its
`update_id` (conditional put) before anything is done; a failure releases the claim and answers
500, and Telegram's redelivery tries again. Every command is a few reads or one write plus one or
two Bot API calls of at most 5 s each, well within what Telegram waits, so nothing is queued here;
payment notices go through the notify queue (paylink.bot.notices).
"""

from __future__ import annotations

import time
from typing import Any

from paylink.bot import api
from paylink.bot.commands import handle_update
from paylink.core.json_input import loads
from paylink.core.observability import correlate, logger
from paylink.store import get_store

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name


def receive(headers: dict[str, str], body: str, base_url: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one webhook request."""
    given = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER), None)
    if not api.secret_matches(api.bot_token(), given):
        logger.warning("telegram webhook refused: wrong or missing secret token")
        return 403, {"error": "forbidden"}
    try:
        update = loads(body)
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    update_id = update.get("update_id") if isinstance(update, dict) else None
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        return 400, {"error": "update_id is missing"}
    correlate(telegram_update_id=str(update_id))
    store = get_store()
    if not store.claim_telegram_update(update_id, int(time.time())):
        logger.info("telegram update already handled")
        return 200, {}
    try:
        handle_update(store, update, base_url)
    except api.BotApiError as exc:
        # Telegram refused our reply (a blocked bot, a flood): the update itself was handled;
        # answering 500 would only bring it back and act on it twice.
        logger.warning("telegram reply not sent", extra={"error_code": exc.error_code})
    except Exception:
        store.release_telegram_update(update_id)
        raise
    return 200, {}


def register(base_url: str) -> str:
    """setWebhook and setMyCommands (the deploy's custom resource and `make run` call it)."""
    from paylink.bot.texts import COMMANDS

    return api.register_webhook(base_url, COMMANDS)
