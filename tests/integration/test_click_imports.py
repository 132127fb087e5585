"""The click path loads only what it needs: no httpx (gateways), no qrcode and no Powertools
parameters (secrets), at init or on a click.

Each check runs in a fresh interpreter, so what other tests imported cannot hide a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Given moto with the template's tables and a link, When the checkout handler is loaded and a
# buyer opens the link, Then the modules loaded at each step are reported.
CLICK = """
import json, sys
import boto3
from moto import mock_aws
from local.run import LambdaContext, http_event
from local.template import create_tables, functions, load_template

with mock_aws():
    table = create_tables(boto3.client("dynamodb"), load_template(), prefix="t")["PaylinkTable"]
    import os
    os.environ["TABLE_NAME"] = table
    from paylink.merchants.links import create_link
    from paylink.merchants.accounts import create_merchant
    from paylink.core.models import LinkCreate
    from paylink.store import get_store
    store = get_store()
    merchant, _ = create_merchant(store, username="shop", name="Shop", iban="IR062960000000100324200001",
                                  api_key="plk_click_imports")
    code = create_link(store, merchant, LinkCreate(title="Scarf", amount=1_200_000)).code
    watched = ("httpx", "qrcode", "aws_lambda_powertools.utilities.parameters")
    before = [m for m in watched if m in sys.modules]
    from functions.checkout.app import lambda_handler
    at_init = [m for m in watched if m in sys.modules]
    event = http_event("GET", "/" + code, {"host": "pay.example"}, b"", None, {"code": code}, "127.0.0.1")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /{code}"
    context = LambdaContext(functions(load_template())["CheckoutFunction"])
    status = lambda_handler(event, context)["statusCode"]
    after_click = [m for m in watched if m in sys.modules]
print(json.dumps({"before": before, "at_init": at_init, "after_click": after_click, "status": status}))
"""


def _run_click() -> dict[str, object]:
    env = {
        "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/paylink'}",
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PUBLIC_BASE_URL": "https://pay.example",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", CLICK]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_click_loads_neither_httpx_nor_qrcode() -> None:
    # When a fresh process loads the checkout handler and serves one click
    result = _run_click()
    # Then the page was served, and neither the gateways' HTTP client nor the QR library was loaded
    assert result["status"] == 200
    assert result["before"] == []  # the harness itself loads neither, so the check can see them
    assert result["at_init"] == []
    assert result["after_click"] == []
