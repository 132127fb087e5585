"""The Telegram Bot API (core.telegram.org/bots/api), enough of it for a merchants' bot:

    POST|GET /bot{TOKEN}/{method}   parameters as JSON, a urlencoded form, multipart/form-data (file
                                    uploads: sendPhoto's `photo`) or the query string
    -> {"ok": true, "result": ...}
    or {"ok": false, "error_code": 400|401|403|404|429, "description": "...",
        "parameters": {"retry_after": N}}   (parameters only on 429)

Methods answered: getMe, setWebhook (`url` https, `secret_token` 1-256 of A-Za-z0-9_-,
`allowed_updates`, `drop_pending_updates`), deleteWebhook, getWebhookInfo, setMyCommands (`commands`
[{command, description}], `language_code`), sendMessage (`chat_id`, `text` 1-4096), sendPhoto
(`chat_id`, `photo` upload or URL, `caption`). Any other method: 404 "Not Found", as Telegram.
A token other than SANDBOX_BOT_TOKEN answers 401 "Unauthorized".

Every call is recorded (GET /{instance}/calls) with its parameters; an uploaded file is recorded as
{"filename", "content_type", "size", "png": true|false}, never its bytes.

Modes of its own, beside the core's down, slow, flaky:
    flood    sends answer 429 "Too Many Requests: retry after 5" with parameters.retry_after 5
    blocked  sends answer 403 "Forbidden: bot was blocked by the user"
"""

from __future__ import annotations

import json
import re
from typing import Any

from local.sandbox.protocols.base import (
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    Route,
    json_response,
    multipart_fields,
)

# A token of Telegram's shape (bot id, colon, 35 characters): the one bot this sandbox knows.
SANDBOX_BOT_TOKEN = "123456789:AAsandbox-paylink-bot-token-000000"  # noqa: S105 - the sandbox's own
BOT_ID = 123456789
BOT_USERNAME = "paylink_sandbox_bot"
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
RETRY_AFTER = 5
SENDS = ("sendMessage", "sendPhoto")


def _ok(result: Any) -> Response:
    return json_response({"ok": True, "result": result}, result="ok")


def _error(code: int, description: str, retry_after: int | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return json_response(body, code, result=code)


class Sim(GatewaySim):
    name = "telegram"
    modes = ("flood", "blocked")

    def __init__(self) -> None:
        self._webhook: dict[str, dict[str, Any]] = {}  # instance -> the webhook set
        self._message_id = 0
        self._commands: dict[tuple[str, str], list[Any]] = {}

    def routes(self) -> list[Route]:
        pattern = r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)"
        return [Route("POST", pattern, self.call), Route("GET", pattern, self.call)]

    def return_fields(self, payment: Payment, outcome: ReturnOutcome) -> list[tuple[str, str]]:
        raise NotImplementedError("a bot API has no buyer return")

    def transient_failure(self, ctx: Ctx) -> Response:
        return _error(502, "Bad Gateway")

    # -- the one handler (under the sandbox lock) -------------------------------------------------
    def call(self, ctx: Ctx) -> Response:
        if ctx.match["token"] != SANDBOX_BOT_TOKEN:
            return _error(401, "Unauthorized")
        params: dict[str, Any] = {**ctx.query, **ctx.form, **multipart_fields(ctx.headers, ctx.raw)}
        if isinstance(ctx.json, dict):
            params.update(ctx.json)
        method = ctx.match["method"]
        if method in SENDS and ctx.mode == "flood":
            return _error(429, f"Too Many Requests: retry after {RETRY_AFTER}", RETRY_AFTER)
        if method in SENDS and ctx.mode == "blocked":
            return _error(403, "Forbidden: bot was blocked by the user")
        handler = {
            "getMe": self.get_me,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.webhook_info,
            "setMyCommands": self.set_commands,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found")
        return handler(ctx, params)

    def get_me(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        return _ok({"id": BOT_ID, "is_bot": True, "first_name": "paylink", "username": BOT_USERNAME})

    def set_webhook(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.match(str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        # Telegram takes only https; the local runner's front is http, so http on localhost passes.
        if url and not (url.startswith("https://") or re.match(r"^http://(127\.0\.0\.1|localhost)[:/]", url)):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):  # a form sends it JSON-serialized
            allowed = json.loads(allowed)
        self._webhook[ctx.instance] = {
            "url": url,
            "has_secret": secret is not None,
            "allowed_updates": allowed,
        }
        return _ok(True)

    def delete_webhook(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        self._webhook.pop(ctx.instance, None)
        return _ok(True)

    def webhook_info(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        hook = self._webhook.get(ctx.instance, {})
        return _ok(
            {
                "url": hook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": 0,
                "allowed_updates": hook.get("allowed_updates"),
            }
        )

    def set_commands(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list) or not all(
            isinstance(c, dict) and c.get("command") and c.get("description") for c in commands
        ):
            return _error(400, "Bad Request: commands must be a list of {command, description}")
        self._commands[(ctx.instance, str(params.get("language_code") or ""))] = commands
        return _ok(True)

    def _message(self, ctx: Ctx, params: dict[str, Any], **content: Any) -> Response:
        if not params.get("chat_id"):
            return _error(400, "Bad Request: chat_id is empty")
        self._message_id += 1
        chat_id = params["chat_id"]
        chat = {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id, "type": "private"}
        return _ok(
            {
                "message_id": self._message_id,
                "date": int(ctx.core.now().timestamp()),
                "chat": chat,
                "from": {"id": BOT_ID, "is_bot": True, "username": BOT_USERNAME},
                **content,
            }
        )

    def send_message(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        return self._message(ctx, params, text=text)

    def send_photo(self, ctx: Ctx, params: dict[str, Any]) -> Response:
        photo = params.get("photo")
        if isinstance(photo, dict) and not photo.get("png") and not photo.get("size"):
            return _error(400, "Bad Request: file must be non-empty")
        if not photo:
            return _error(400, "Bad Request: there is no photo in the request")
        size = photo.get("size", 0) if isinstance(photo, dict) else 0
        sizes = [
            {"file_id": f"sbx-photo-{self._message_id + 1}", "width": 512, "height": 512, "file_size": size}
        ]
        return self._message(ctx, params, photo=sizes, caption=params.get("caption"))
