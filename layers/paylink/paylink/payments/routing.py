"""Which gateways a payment may go to, in which order, and the failover loop that gets a token."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from paylink.core.models import iso
from paylink.core.observability import logger
from paylink.core.settings import get_settings
from paylink.payments import health
from paylink.payments.health import Eligibility, GatewayHealth, Outcome

if TYPE_CHECKING:
    import httpx

    from paylink.payments.gateways.base import CreateResult, GatewayAdapter
    from paylink.store import Store

MIN_ATTEMPT_SECONDS = 0.5  # below this a gateway cannot answer; stop failing over


@cache
def http_client() -> httpx.Client:
    """One pooled client per process; every call passes its own tight timeout."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False)


@cache
def adapters() -> dict[str, GatewayAdapter]:
    """Configured gateways by name, in the configured order of preference."""
    from paylink.payments.gateways import build_adapter
    from paylink.payments.gateways.base import parse_gateways

    settings = get_settings()
    credentials = None
    if settings.gateway_credentials_parameter:
        import json

        from paylink.core.secrets import secret

        credentials = json.loads(secret(settings.gateway_credentials_parameter))
    configs = parse_gateways(settings.gateways_json, credentials=credentials)
    return {config.name: build_adapter(config, http_client()) for config in configs}


@cache
def _configured(raw_json: str) -> tuple[tuple[str, str], ...]:
    import json

    return tuple((str(c["name"]), str(c.get("base_url", ""))) for c in json.loads(raw_json or "[]"))


def configured_gateways() -> tuple[tuple[str, str], ...]:
    """(name, base URL) of each configured gateway in order, read once per configuration; no
    adapter is built and httpx is not imported (the page and checkout paths use this)."""
    return _configured(get_settings().gateways_json)


def gateway_names() -> list[str]:
    """Gateway names in configured order."""
    return [name for name, _ in configured_gateways()]


def adapter(name: str) -> GatewayAdapter | None:
    return adapters().get(name)


def plan_for(
    preferred: list[str] | None, healths: dict[str, GatewayHealth], now: datetime
) -> list[tuple[str, Eligibility]]:
    """The merchant's gateways (its own choice and order, else all configured) by health."""
    names = gateway_names()
    if preferred:
        names = [name for name in preferred if name in names]
    return health.plan(names, healths, now)


@dataclass
class Attempt:
    gateway: str | None = None
    created: CreateResult | None = None
    outcomes: list[tuple[Outcome, GatewayHealth]] = field(default_factory=list)
    elapsed_ms: int = 0


def _with_timeout(gateway: GatewayAdapter, seconds: float) -> GatewayAdapter:
    """The same gateway with a shorter timeout, so one slow gateway cannot eat the whole budget."""
    if seconds >= gateway.config.timeout_seconds:
        return gateway
    from paylink.payments.gateways import build_adapter

    return build_adapter(dataclasses.replace(gateway.config, timeout_seconds=seconds), http_client())


def first_token(
    store: Store,
    plan: list[tuple[str, Eligibility]],
    healths: dict[str, GatewayHealth],
    *,
    order_id: str,
    amount_irr: int,
    callback_base: str,
    description: str,
    mobile: str | None,
    budget_seconds: float,
) -> Attempt:
    """Ask the planned gateways in turn for a token until one gives it or the budget is spent.

    Only transport failures and timeouts count against a gateway's health; a gateway that
    refuses this payment for a business reason (amount too small...) is skipped without blame.
    """
    from paylink.payments.gateways.base import ErrorKind, GatewayError
    from paylink.web.origins import stays_on

    started = time.monotonic()
    attempt = Attempt()
    for name, eligibility in plan:
        remaining = budget_seconds - (time.monotonic() - started)
        if remaining < MIN_ATTEMPT_SECONDS:
            break
        gateway = adapter(name)
        if gateway is None:
            continue
        if eligibility is Eligibility.TRIAL:
            now = health.utcnow()
            if not store.claim_trial(name, iso(now), iso(now - health.COOLDOWN)):
                continue  # another request holds this gateway's one trial
        known = healths.get(name, GatewayHealth(name))
        begun = time.monotonic()
        try:
            created = _with_timeout(gateway, remaining).create(
                order_id=order_id,
                amount_irr=amount_irr,
                callback_url=f"{callback_base}/{name}",
                description=description,
                mobile=mobile,
            )
        except GatewayError as exc:
            latency = round((time.monotonic() - begun) * 1000)
            blame = exc.kind is not ErrorKind.BUSINESS
            if blame or eligibility is Eligibility.TRIAL:
                outcome = Outcome(name, ok=not blame, timeout=exc.code == "timeout", latency_ms=latency)
                attempt.outcomes.append((outcome, known))
            logger.warning(
                "gateway did not start the payment; trying the next one",
                extra={
                    "payment_id": order_id,
                    "gateway": name,
                    "kind": str(exc.kind),
                    "code": exc.code,
                    "latency_ms": latency,
                    "trial": eligibility is Eligibility.TRIAL,
                },
            )
            continue
        latency = round((time.monotonic() - begun) * 1000)
        if not stays_on(created.redirect.url, gateway.config.base_url):
            # A gateway that would send the buyer anywhere but its own origin (a compromised or
            # broken gateway) is a failing gateway: the buyer is never sent there.
            outcome = Outcome(name, ok=False, timeout=False, latency_ms=latency)
            attempt.outcomes.append((outcome, known))
            logger.error(
                "gateway answered a redirect off its own origin; trying the next one",
                extra={"payment_id": order_id, "gateway": name, "code": "redirect_off_origin"},
            )
            continue
        attempt.outcomes.append((Outcome(name, ok=True, timeout=False, latency_ms=latency), known))
        attempt.gateway, attempt.created = name, created
        break
    attempt.elapsed_ms = round((time.monotonic() - started) * 1000)
    return attempt
