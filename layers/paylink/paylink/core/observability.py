"""Logger, metrics and tracer shared by every function, and what keeps logs clean.

Metrics are CloudWatch embedded-metric-format (EMF) lines printed to stdout the moment the write
they describe has succeeded: one line per emission, with its own dimensions. Nothing is buffered,
so a handler that emits nothing prints nothing, and a worker that times out later has already
published what it did. The tracer imports the X-Ray SDK, which builds a botocore client on import
(100-200 ms), so it is built on first use, never when a handler module is imported.

Secrets and personal data never reach a log line. Our own lines carry ids, gateway names, codes and
status values only; as a safety net every line the logger writes goes through `redact`, which masks
what can be recognised by its shape (card numbers, IBANs, mobile numbers, emails, our API keys and
webhook secrets, signatures, bearer tokens, a Telegram bot token in a URL). Secrets without a shape
(a gateway's merchant id, a bot token on its own) must simply never be logged.

The libraries below are held at WARNING whatever the root logger's level, because below it they
write what they send:
- httpx, httpcore: "HTTP Request: POST https://api.telegram.org/bot<token>/sendMessage" at INFO
  (the bot token is in the URL), and request headers (a PayPing bearer token) at DEBUG;
- botocore, boto3: every DynamoDB, SQS, SNS and SES request body at DEBUG (payers' phones and
  emails, IBANs, webhook secrets) and its SigV4 signature;
- urllib3: request lines with their query strings at DEBUG.
Lambda's log-level setting (or an operator chasing a bug) may lower the root logger to DEBUG; these
stay quiet. Lowering one of them again by hand is a choice to leak, made where it shows.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord

NAMESPACE = "Paylink"
SERVICE = "paylink"
# Only AWS calls get trace subsegments: httpx would record request URLs, and Telegram's carries
# the bot token.
TRACED_MODULES = ("botocore",)

QUIET_LIBRARIES = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer")

for _name in QUIET_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.WARNING)

# (pattern, replacement); applied in order to each whole line. Replacements keep JSON valid.
_REDACTIONS: tuple[tuple[str, str], ...] = (
    (r"(bot)\d+:[A-Za-z0-9_-]+", r"\1<redacted>"),
    (r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", r"\1 <redacted>"),
    (r"\b(plk|whsec)_[A-Za-z0-9_-]+", r"\1_<redacted>"),
    (r"\bv1=[0-9a-f]{64}", "v1=<redacted>"),
    (r"(?i)\b(IR)\d{20}(\d{4})\b", r"\1********************\2"),
    # A card number: 16 to 19 digits standing alone (not inside an id such as an X-Ray trace id);
    # at most the first 6 and the last 4 kept, as in a card mask.
    (r"(?<![0-9A-Za-z])(\d{6})\d{6,9}(\d{4})(?![0-9A-Za-z])", r"\1******\2"),
    # An Iranian mobile number, national or international.
    (r"(?<![\w+])(\+98|0098|0)9\d{5}(\d{4})(?!\d)", r"\g<1>9*****\2"),
    (r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", r"\1***@\2"),
)


@functools.cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Compiled on the first line logged, not at import: a click that logs nothing never pays for it.
    return tuple((re.compile(pattern), replacement) for pattern, replacement in _REDACTIONS)


def redact(text: str) -> str:
    """`text` with whatever looks like a secret or personal data masked (see the module docstring)."""
    for pattern, replacement in _compiled():
        text = pattern.sub(replacement, text)
    return text


# Lambda context keys every line would repeat although its log group and stream already say them
# (each function logs to its own group; the stream names the version): ~130 bytes a line in AWS,
# about a sixth of what a payment logs (issue 18). function_name, function_request_id, cold_start
# and the correlation keys stay.
REDUNDANT_KEYS = ("function_arn", "function_memory_size")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, without REDUNDANT_KEYS, each passed through `redact` once serialised."""

    def serialize(self, log: LogRecord) -> str:
        if isinstance(log, dict):
            fields = cast(dict[str, Any], log)  # (typed as a LogRecord TypedDict; a plain dict)
            for key in REDUNDANT_KEYS:
                fields.pop(key, None)
        return redact(super().serialize(log))


# RFC 3339 timestamps: Lambda's log-level filter (LoggingConfig, JSON) reads a line's level only
# beside a timestamp it can parse, and otherwise files the line under INFO.
logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter(use_rfc3339=True))


def logged(*, http: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The handlers' Powertools log context: the Lambda context on every line, the invocation's keys
    forgotten at the next one, the API Gateway request id as correlation id (`http`), and never the
    whole event (it holds payers' names and addresses), whatever POWERTOOLS_LOGGER_LOG_EVENT says."""
    from aws_lambda_powertools.logging import correlation_paths

    path = correlation_paths.API_GATEWAY_HTTP if http else None
    return logger.inject_lambda_context(correlation_id_path=path, clear_state=True, log_event=False)


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
    PAYOUT_REFUSED = "PayoutProviderRefused"  # no provider set, or sandbox payouts outside a test stage
    CIRCUIT_OPEN = "CircuitOpen"  # 1 while a gateway's breaker is not closed, per probe (gateway)
    WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"
    SIGNIN_CEILING = "SigninCodesCeilingReached"  # a sign-in code refused: the deployment's hourly ceiling


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
