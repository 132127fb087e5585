"""The merchants' Telegram bot: its webhook (`POST /telegram/webhook`), and the deploy's custom
resource that registers the webhook and the command menu with Telegram."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from paylink.core.observability import logged, logger, traced


def _base_url(event: dict[str, Any]) -> str:
    from paylink.core.settings import get_settings

    configured = get_settings().public_base_url.rstrip("/")
    return configured or f"https://{event.get('requestContext', {}).get('domainName', '')}"


@logged(http=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from paylink.bot.webhook import receive

    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    status, answer = receive(event.get("headers") or {}, body, _base_url(event))
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(answer)}


@logged()
def setup_handler(event: dict[str, Any], context: LambdaContext) -> None:
    """CloudFormation custom resource: setWebhook + setMyCommands on create and update (any change of
    its properties: the public URL, the token parameter, the layer version), deleteWebhook on delete.
    A Telegram failure is logged and reported as success: a bot outage must not roll back a deploy."""
    import httpx

    from paylink.bot import api
    from paylink.bot.webhook import register

    properties = event.get("ResourceProperties") or {}
    data: dict[str, str] = {}
    try:
        if event["RequestType"] in ("Create", "Update"):
            data["WebhookUrl"] = register(str(properties.get("PublicBaseUrl", "")))
        elif api.bot_token():
            api.call("deleteWebhook")
    except api.BotApiError as exc:
        logger.error("telegram webhook not registered", extra={"error_code": exc.error_code})
        data["Error"] = f"telegram answered {exc.error_code}"
    answer = {
        "Status": "SUCCESS",
        "Reason": data.get("Error", "ok"),
        "PhysicalResourceId": event.get("PhysicalResourceId") or "telegram-webhook",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }
    httpx.put(event["ResponseURL"], content=json.dumps(answer), headers={"Content-Type": ""}, timeout=10)
