"""Logger, metrics and tracer shared by every function.

Metrics are CloudWatch embedded-metric-format (EMF) lines printed to stdout the moment the write
they describe has succeeded: one line per emission, with its own dimensions. Nothing is buffered,
so a handler that emits nothing prints nothing, and a worker that times out later has already
published what it did. The tracer imports the X-Ray SDK, which builds a botocore client on import
(100-200 ms), so it is built on first use, never when a handler module is imported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

NAMESPACE = "Paylink"
SERVICE = "paylink"
# Only AWS calls get trace subsegments: httpx would record request URLs, and Telegram's carries
# the bot token.
TRACED_MODULES = ("botocore",)

logger = Logger(service=SERVICE)


class Metric(StrEnum):
    """Every metric paylink emits, in the namespace NAMESPACE."""

    PAYMENTS = "Payments"  # a payment reached a final status (dimensions status, gateway)
    GATEWAY_FAILOVER = "GatewayFailover"  # a gateway failed to give a token (dimension gateway)
    CHECKOUT_NO_GATEWAY = "CheckoutNoGateway"  # no gateway could start a checkout
    SETTLEMENT_GROSS = "SettlementGross"  # rials of a settlement that closed
    SETTLEMENT_FEE = "SettlementFee"
    SETTLEMENT_NET = "SettlementNet"
    SETTLEMENT_PAYMENTS = "SettlementPayments"
    SETTLEMENT_PAYOUT_FAILED = "SettlementPayoutFailed"
    CIRCUIT_OPEN = "CircuitOpen"  # 1 while a gateway's breaker is not closed, per probe (gateway)
    WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"


class Dimension(StrEnum):
    SERVICE = "service"
    STATUS = "status"
    GATEWAY = "gateway"


NO_GATEWAY = "none"  # the gateway dimension of a payment no gateway took
# Rials are no CloudWatch unit; every other metric counts.
UNITS = {
    Metric.SETTLEMENT_GROSS: "None",
    Metric.SETTLEMENT_FEE: "None",
    Metric.SETTLEMENT_NET: "None",
}


def put_metrics(
    values: Mapping[Metric, float],
    *,
    dimensions: Mapping[Dimension, str] | None = None,
    rollups: Sequence[Sequence[Dimension]] = (),
) -> None:
    """Print one EMF line: `values` under `dimensions` (plus the service), and under each rollup (a
    subset of the dimensions) too, so an alarm or graph needs no list of gateway names."""
    from aws_lambda_powertools.metrics import EphemeralMetrics

    dims = dict(dimensions or {})
    emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)  # its own state: nothing is shared
    for name, value in values.items():
        emf.add_metric(name=name, unit=UNITS.get(name, "Count"), value=value)
    for key, dim_value in dims.items():
        emf.add_dimension(name=key, value=dim_value)
    for rollup in rollups:
        emf.add_dimensions(service=SERVICE, **{str(key): dims[key] for key in rollup})
    emf.flush_metrics()


def count(metric: Metric, value: int = 1, **dimensions: str) -> None:
    """Print one count, e.g. `count(Metric.GATEWAY_FAILOVER, gateway="zibal")`."""
    put_metrics({metric: value}, dimensions={Dimension(key): v for key, v in dimensions.items()})


def count_payment(status: str, gateway: str | None) -> None:
    """A payment reached `status` at `gateway`: counted by both, and by status alone."""
    put_metrics(
        {Metric.PAYMENTS: 1},
        dimensions={Dimension.STATUS: status, Dimension.GATEWAY: gateway or NO_GATEWAY},
        rollups=[(Dimension.STATUS,)],
    )


def correlate(**keys: str | None) -> None:
    """Add the ids a flow knows (payment, link, merchant...) to every later log line of this
    invocation; the handlers' `clear_state=True` forgets them at the next one."""
    logger.append_keys(**{key: value for key, value in keys.items() if value})


# The ids a flow adds, forgotten between two SQS records of one batch.
RECORD_KEYS = ("payment_id", "link_code", "merchant_id", "settlement_id", "settle_date", "event_id")


def begin_record(message_id: str) -> None:
    """One SQS record starts: its message id is the correlation id, and no id of the record before
    is left on the log lines."""
    logger.remove_keys(RECORD_KEYS)
    logger.set_correlation_id(message_id)


@functools.cache
def tracer() -> Tracer:
    """The Powertools tracer, built on first use (disabled outside Lambda: nothing is sent)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)


def traced[F: Callable[..., Any]](handler: F) -> F:
    """`Tracer.capture_lambda_handler`, applied at the first invocation instead of at import.

    Responses stay out of the trace (they may carry merchants' figures); errors are recorded.
    """
    captured: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not captured:
            captured.append(tracer().capture_lambda_handler(handler, capture_response=False))
        return captured[0](event, context)

    return cast(F, wrapper)
