"""Secrets from SSM Parameter Store: functions get a parameter's NAME, never its value.

`secret(name)` reads a SecureString once, decrypted, through Powertools' parameter provider and
keeps it five minutes (a rotated value reaches every warm instance within that). Powertools'
parameters module is imported on first use only: the click path (GET /{code}) never reads a
secret and must not pay for the import (tests/integration/test_click_imports.py).
"""

from __future__ import annotations

SECRET_MAX_AGE_SECONDS = 300


def secret(name: str) -> str:
    """The decrypted value of SSM parameter `name`; "" when no name is configured."""
    if not name:
        return ""
    from aws_lambda_powertools.utilities.parameters import get_parameter

    value = get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    return str(value)


def forget_secrets() -> None:
    """Drop cached values (tests, and the local runner after it changes a parameter)."""
    import sys

    module = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if module is not None:
        module.clear_caches()
