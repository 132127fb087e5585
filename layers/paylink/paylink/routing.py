"""Which gateways a payment may go to, in order, and the shared HTTP client that reaches them."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from paylink.settings import get_settings

if TYPE_CHECKING:
    import httpx

    from paylink.gateways.base import GatewayAdapter


@cache
def http_client() -> httpx.Client:
    """One pooled client per process; each call passes its own tight timeout."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False)


@cache
def adapters() -> dict[str, GatewayAdapter]:
    """Configured gateways by name, in the configured order of preference."""
    from paylink.gateways import build_adapter
    from paylink.gateways.base import parse_gateways

    configs = parse_gateways(get_settings().gateways_json)
    return {config.name: build_adapter(config, http_client()) for config in configs}


def adapter(name: str) -> GatewayAdapter | None:
    return adapters().get(name)


def candidates() -> list[GatewayAdapter]:
    """Gateways to try for a new payment, best first (health-based ordering comes later)."""
    return list(adapters().values())
