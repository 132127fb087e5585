"""Payment gateway adapters. `build_adapter` picks the adapter for a config's protocol."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from paylink.payments.gateways.base import (
    CallbackData,
    Capabilities,
    CreateResult,
    ErrorKind,
    GatewayAdapter,
    GatewayConfig,
    GatewayError,
    Redirect,
    VerifyOutcome,
    VerifyResult,
    mask_card,
    parse_gateways,
)
from paylink.payments.gateways.payping import PayPingAdapter
from paylink.payments.gateways.sep import SepAdapter
from paylink.payments.gateways.zarinpal import ZarinpalAdapter
from paylink.payments.gateways.zibal import ZibalAdapter

__all__ = [
    "PROTOCOLS",
    "CallbackData",
    "Capabilities",
    "CreateResult",
    "ErrorKind",
    "GatewayAdapter",
    "GatewayConfig",
    "GatewayError",
    "Redirect",
    "VerifyOutcome",
    "VerifyResult",
    "build_adapter",
    "mask_card",
    "parse_gateways",
]

PROTOCOLS: dict[str, Callable[[GatewayConfig, httpx.Client], GatewayAdapter]] = {
    "payping": PayPingAdapter,
    "sep": SepAdapter,
    "zibal": ZibalAdapter,
    "zarinpal": ZarinpalAdapter,
}


def build_adapter(config: GatewayConfig, client: httpx.Client) -> GatewayAdapter:
    """The adapter for `config.protocol`; GatewayError(CONFIG) for an unknown protocol."""
    factory = PROTOCOLS.get(config.protocol)
    if factory is None:
        raise GatewayError(
            ErrorKind.CONFIG,
            "unknown_protocol",
            f"gateway {config.name!r}: no adapter for protocol {config.protocol!r}",
        )
    return factory(config, client)
