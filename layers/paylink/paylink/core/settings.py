"""One settings model, read from the environment once per process.

A plain pydantic model validated from `os.environ` (each field's alias is its variable's exact
name): every setting is a flat string, number or flag, which pydantic parses from text as it is,
so pydantic-settings (~25 ms of every cold start, for sources we do not use) is not needed.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Settings(BaseModel):
    """Configuration of every function; names match template.yaml's environment variables."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(default="paylink", alias="TABLE_NAME")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    # Gateways in order of preference, without credentials (names, protocols, base URLs: the
    # pages' form-action needs them on the click path). Deployed, each gateway's merchant_id is in
    # the SSM SecureString named by gateway_credentials_parameter; locally and in tests the list
    # may carry merchant_id itself when no parameter is named.
    gateways_json: str = Field(default="[]", alias="PAYLINK_GATEWAYS")
    gateway_credentials_parameter: str = Field(default="", alias="PAYLINK_GATEWAY_CREDENTIALS_PARAMETER")
    timezone: str = Field(default="Asia/Tehran", alias="PAYLINK_TIMEZONE")
    country: str = Field(default="IR", alias="PAYLINK_COUNTRY")
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")
    # The click path's page cache (template PageCacheSeconds; paylink.web.click reads and bounds it
    # itself, so text here: a bad value turns the cache off instead of failing every function).
    page_cache_seconds: str = Field(default="", alias="PAYLINK_PAGE_CACHE_SECONDS")
    # Required of the settle functions, with no default: bank_batch | jibit | sandbox (template
    # PayoutProvider). Empty: they refuse to run rather than guess
    # (paylink.settlement.payouts.payout_provider).
    payout_provider: str = Field(default="", alias="PAYLINK_PAYOUT_PROVIDER")
    # The stack's stage (template Stage); sandbox payouts run only in a test stage (payouts.TEST_STAGES).
    stage: str = Field(default="", alias="PAYLINK_STAGE")
    # Jibit Transferor payouts (paylink.settlement.jibit_payout): the API's base URL and its credentials.
    payout_api_url: str = Field(default="https://napi.jibit.ir/trf", alias="PAYLINK_PAYOUT_API_URL")
    # secret: the deployed stack names SSM parameters (*_PARAM); a local run gives the values.
    payout_api_key_param: str = Field(default="", alias="PAYLINK_PAYOUT_API_KEY_PARAM")
    payout_secret_key_param: str = Field(default="", alias="PAYLINK_PAYOUT_SECRET_KEY_PARAM")
    payout_api_key: SecretStr = Field(default=SecretStr(""), alias="PAYLINK_PAYOUT_API_KEY")
    payout_secret_key: SecretStr = Field(default=SecretStr(""), alias="PAYLINK_PAYOUT_SECRET_KEY")
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
    # Local runs and tests only: the bot token itself. Deployed, the token is in the SSM
    # SecureString named by telegram_bot_token_parameter (paylink.core.secrets); empty: no Telegram.
    telegram_bot_token: SecretStr = Field(default=SecretStr(""), alias="PAYLINK_TELEGRAM_BOT_TOKEN")
    telegram_bot_token_parameter: str = Field(default="", alias="PAYLINK_TELEGRAM_BOT_TOKEN_PARAMETER")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="PAYLINK_TELEGRAM_API_URL")
    # Failover budget: the checkout stops asking further gateways once this much time has gone;
    # each attempt's timeout is cut to what is left, so the buyer waits at most this long.
    checkout_budget_seconds: float = Field(default=8.0, alias="PAYLINK_CHECKOUT_BUDGET_SECONDS")
    # What one anonymous client (a source address, a phone) may hold at one merchant in payments
    # still open: one always, beyond that this many, together within this percent of the daily cap.
    client_open_payments: int = Field(default=3, ge=1, alias="PAYLINK_CLIENT_OPEN_PAYMENTS")
    client_cap_share_percent: int = Field(default=20, ge=1, le=100, alias="PAYLINK_CLIENT_CAP_SHARE_PERCENT")
    # Local runs and tests only: scheduled events may name the `now` they run at.
    allow_clock_override: bool = Field(default=False, alias="PAYLINK_ALLOW_CLOCK_OVERRIDE")
    # Invoices sent to payers (paylink.notify.messages): the SES sender address and the SMS sender id.
    email_sender: str = Field(default="", alias="PAYLINK_EMAIL_SENDER")
    sms_sender_id: str = Field(default="", alias="PAYLINK_SMS_SENDER_ID")
    # SMS provider of invoices, reminders and codes (paylink.notify.messages.notifiers): kavenegar
    # (Iranian phones) or sns (other countries). Unset (unit tests) keeps SNS; every deployed
    # function gets the template's SmsProvider, kavenegar by default.
    sms_provider: str = Field(default="sns", alias="PAYLINK_SMS_PROVIDER")
    # Kavenegar (paylink.notify.kavenegar): SSM name of the API key, the verify/lookup template of
    # one-time codes, the API's base URL.
    kavenegar_api_key_parameter: str = Field(default="", alias="PAYLINK_KAVENEGAR_API_KEY_PARAMETER")
    kavenegar_otp_template: str = Field(default="", alias="PAYLINK_KAVENEGAR_OTP_TEMPLATE")
    kavenegar_api_url: str = Field(default="https://api.kavenegar.com", alias="PAYLINK_KAVENEGAR_API_URL")
    # Bank inquiries (paylink.merchants.identity, Zibal's facility API): SSM name of the Bearer token
    # and the API's base URL.
    inquiry_token_parameter: str = Field(default="", alias="PAYLINK_INQUIRY_TOKEN_PARAMETER")
    inquiry_api_url: str = Field(default="https://api.zibal.ir", alias="PAYLINK_INQUIRY_API_URL")
    # The panel's keyed-hash key (paylink.panel.codes.keyed): SSM name of a random SecureString that
    # keys the digests of phones and national codes in the table and signs device cookies.
    panel_key_parameter: str = Field(default="", alias="PAYLINK_PANEL_KEY_PARAMETER")
    # Sign-in codes texted per hour by the whole deployment (paylink.panel.codes.GLOBAL_SHARDS): a
    # botnet of addresses must not text every mobile at our cost. The template's SigninCodesPerHour.
    signin_codes_per_hour: int = Field(default=2000, ge=1, alias="PAYLINK_SIGNIN_CODES_PER_HOUR")
    # Local runs only: SNS and SES of the moto server.
    notify_endpoint_url: str | None = Field(default=None, alias="PAYLINK_NOTIFY_ENDPOINT_URL")
    # CSV exports (paylink.web.exports): larger than this many bytes they become an export job, written
    # to the export bucket by the export worker and handed over as a short-lived link. Lambda answers
    # at most 6 MB of JSON, in which the CSV is escaped (a Persian letter, 2 bytes of UTF-8, may take
    # 6): 1 MB keeps a wide margin.
    export_bucket: str = Field(default="", alias="EXPORT_BUCKET")
    # The queue of export jobs (paylink.exports.jobs) the export worker runs; empty: no large exports.
    export_queue_url: str = Field(default="", alias="EXPORT_QUEUE_URL")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    # Settled payments past the refund window (paylink.payments.archive); empty: none archived here.
    archive_bucket: str = Field(default="", alias="ARCHIVE_BUCKET")
    csv_inline_max_bytes: int = Field(default=1_000_000, gt=0, alias="PAYLINK_CSV_INLINE_MAX_BYTES")
    export_url_seconds: int = Field(default=300, gt=0, le=3600, alias="PAYLINK_EXPORT_URL_SECONDS")


# Variables that hold a secret's VALUE: allowed in a local run or a test, never in template.yaml
# (scripts/check_deploy.py fails the build if a function's environment sets one).
SECRET_VALUE_VARIABLES = frozenset({"PAYLINK_TELEGRAM_BOT_TOKEN"})

# The local runner runs every function in one process: while it invokes one, this holds that
# function's own settings (its template environment only), as a separate Lambda would have.
FUNCTION_SETTINGS: ContextVar[Settings | None] = ContextVar("paylink_function_settings", default=None)


@cache
def _process_settings() -> Settings:
    return Settings.model_validate(os.environ)


class _SettingsReader:
    """`get_settings()`: the invoked function's settings, read from the environment once."""

    def __call__(self) -> Settings:
        scoped = FUNCTION_SETTINGS.get()
        return scoped if scoped is not None else _process_settings()

    def cache_clear(self) -> None:
        _process_settings.cache_clear()


get_settings = _SettingsReader()
