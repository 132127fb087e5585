"""Logger (and later metrics and tracing) shared by every function, and what keeps logs clean.

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

import logging
import re
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

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


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Compiled on the first line logged, not at import: a click that logs nothing never pays for it.
    return tuple((re.compile(pattern), replacement) for pattern, replacement in _REDACTIONS)


def redact(text: str) -> str:
    """`text` with whatever looks like a secret or personal data masked (see the module docstring)."""
    for pattern, replacement in _compiled():
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, each passed through `redact` once it is serialised."""

    def serialize(self, log: LogRecord) -> str:
        return redact(super().serialize(log))


logger = Logger(service="paylink", logger_formatter=RedactingFormatter())
