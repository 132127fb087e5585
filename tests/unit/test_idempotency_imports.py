"""Idempotency costs nothing at cold start: Powertools idempotency is imported by the requests that use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers/paylink'}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return set(done.stdout.split())


@pytest.mark.parametrize("handler", ["functions.create_link.app", "functions.checkout.app"])
def test_loading_a_handler_does_not_import_powertools_idempotency(handler: str) -> None:
    # When a handler module is loaded, as at a cold start
    loaded = _imports_after(handler)
    # Then Powertools' idempotency package is not among the modules loaded
    assert handler in loaded
    assert not {m for m in loaded if m.startswith("aws_lambda_powertools.utilities.idempotency")}


def test_the_click_path_does_not_load_our_idempotency_module() -> None:
    assert "paylink.web.idempotency" not in _imports_after("functions.checkout.app")
