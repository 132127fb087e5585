"""One settings model, read from the environment once per process."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of every function; names match template.yaml's environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(default="paylink", alias="TABLE_NAME")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    gateways_json: str = Field(default="[]", alias="PAYLINK_GATEWAYS")
    timezone: str = Field(default="Asia/Tehran", alias="PAYLINK_TIMEZONE")
    country: str = Field(default="IR", alias="PAYLINK_COUNTRY")
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")
    payout_provider: str = Field(default="sandbox", alias="PAYLINK_PAYOUT_PROVIDER")
    checkout_budget_seconds: float = Field(default=12.0, alias="PAYLINK_CHECKOUT_BUDGET_SECONDS")


@cache
def get_settings() -> Settings:
    """The process-wide settings (environment read on first use)."""
    return Settings()
