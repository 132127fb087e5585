"""Starts the local runner (`python -m local.run`, what `make run` starts) for tests that use HTTP only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "plk_e2e_demo_key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Runner:
    url: str
    sandbox_url: str
    state_file: Path
    output: Path

    def create_merchant(self, username: str, **options: str) -> str:
        """Runs the admin command against this runner and returns the new API key."""
        args = [sys.executable, "-m", "local.admin", "create-merchant", "--username", username,
                "--name", options.get("name", f"Shop {username}"),
                "--iban", options.get("iban", "IR062960000000100324200001"),
                "--fee-bps", options.get("fee_bps", "150")]  # fmt: skip
        if options.get("gateways"):
            args += ["--gateways", options["gateways"]]
        done = subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ, "PAYLINK_STATE_FILE": str(self.state_file)},
        )  # fmt: skip
        return str(json.loads(done.stdout)["api_key"])


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with start_runner(tmp_path_factory.mktemp("runner")) as running:
        yield running


@contextmanager
def start_runner(folder: Path, **extra_env: str) -> Iterator[Runner]:
    """A local runner of its own in `folder`, its environment plus `extra_env`; stopped on exit."""
    port, sandbox_port = _free_port(), _free_port()
    output = folder / "output.log"
    env = {
        **os.environ,
        "PAYLINK_PORT": str(port),
        "PAYLINK_SANDBOX_PORT": str(sandbox_port),
        "PAYLINK_DEMO_API_KEY": DEMO_KEY,
        "PAYLINK_STATE_FILE": str(folder / "runner.json"),
        "PYTHONUNBUFFERED": "1",
        "PAYLINK_LOCAL_SCHEDULES": "off",
        **extra_env,
    }
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/_local/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the local runner did not start:\n" + output.read_text())
        time.sleep(0.2)
    try:
        yield Runner(url, f"http://127.0.0.1:{sandbox_port}", folder / "runner.json", output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    # A call a function's role refused (local/iam.py prints each one) fails the run, even when the
    # code caught it and the tests' answers looked right.
    refused = [line for line in output.read_text().splitlines() if line.startswith("[iam] refused")]
    assert not refused, f"refused by a function's role in template.yaml: {refused}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, once for the session: Playwright's sync API allows one instance per thread."""
    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, _missing_browser

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("the playwright package is not installed (requirements-dev.txt)")
    if not CHROMIUM.exists():
        _missing_browser(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tab of a 360 x 740 phone."""
    from tests.e2e.test_browser import HEIGHT, WIDTH

    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
