"""Logger (and later metrics and tracing) shared by every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="paylink")
