"""One settings model, read from the environment once per process.

A plain pydantic model validated from `os.environ` (each field's alias is its variable's exact
name): every setting is a flat string, number or flag, which pydantic parses from text as it is,
so pydantic-settings (~25 ms of every cold start, for sources we do not use) is not needed.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Settings(BaseModel):
    """Configuration of every function; names match template.yaml's environment variables."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(default="paylink", alias="TABLE_NAME")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    gateways_json: str = Field(default="[]", alias="PAYLINK_GATEWAYS")
    timezone: str = Field(default="Asia/Tehran", alias="PAYLINK_TIMEZONE")
    country: str = Field(default="IR", alias="PAYLINK_COUNTRY")
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")
    payout_provider: str = Field(default="sandbox", alias="PAYLINK_PAYOUT_PROVIDER")
    # Sandbox payouts only: comma-separated IBANs whose transfers fail (to see a failure and its retry).
    sandbox_payout_fail_ibans: str = Field(default="", alias="PAYLINK_SANDBOX_PAYOUT_FAIL_IBANS")
    # Empty: the settle function settles every merchant itself instead of queueing one message each.
    settle_queue_url: str = Field(default="", alias="SETTLE_QUEUE_URL")
    sqs_endpoint_url: str | None = Field(default=None, alias="SQS_ENDPOINT_URL")
    # Empty: no merchant notifications are queued (unit tests, simple setups).
    notify_queue_url: str = Field(default="", alias="NOTIFY_QUEUE_URL")
    notify_dead_letter_queue_url: str = Field(default="", alias="NOTIFY_DEAD_LETTER_QUEUE_URL")
    # Divides the webhook retry delays (paylink.notify.webhooks.RETRY_DELAYS): local runs and tests only.
    webhook_retry_scale: float = Field(default=1.0, gt=0, alias="PAYLINK_WEBHOOK_RETRY_SCALE")
    telegram_bot_token: SecretStr = Field(default=SecretStr(""), alias="PAYLINK_TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="PAYLINK_TELEGRAM_API_URL")
    # Failover budget: the checkout stops asking further gateways once this much time has gone;
    # each attempt's timeout is cut to what is left, so the buyer waits at most this long.
    checkout_budget_seconds: float = Field(default=8.0, alias="PAYLINK_CHECKOUT_BUDGET_SECONDS")
    # Local runs and tests only: scheduled events may name the `now` they run at.
    allow_clock_override: bool = Field(default=False, alias="PAYLINK_ALLOW_CLOCK_OVERRIDE")
    # Invoices sent to payers (paylink.notify.messages): the SES sender address and the SMS sender id.
    email_sender: str = Field(default="", alias="PAYLINK_EMAIL_SENDER")
    sms_sender_id: str = Field(default="", alias="PAYLINK_SMS_SENDER_ID")
    # Local runs only: SNS and SES of the moto server.
    notify_endpoint_url: str | None = Field(default=None, alias="PAYLINK_NOTIFY_ENDPOINT_URL")


@cache
def get_settings() -> Settings:
    """The process-wide settings (environment read on first use)."""
    return Settings.model_validate(os.environ)
