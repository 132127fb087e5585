"""`python -m local.sandbox --port 3001 --instances a=zibal,b=zibal` (a bare name speaks zibal)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence

from local.sandbox.core import DEFAULT_PROTOCOL, Sandbox


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local sandbox gateways.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYLINK_SANDBOX_PORT", "3001")))
    parser.add_argument(
        "--instances", default="a,b", help="comma-separated names, each optionally =protocol (a=zibal)"
    )
    parser.add_argument("--slow-seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    instances: dict[str, str] = {}
    for item in args.instances.split(","):
        name, _, protocol = item.strip().partition("=")
        if name:
            instances[name] = protocol.strip() or DEFAULT_PROTOCOL
    sandbox = Sandbox(instances, host=args.host, port=args.port, slow_seconds=args.slow_seconds)
    sandbox.start()
    print(
        f"sandbox gateways on {sandbox.url}: "
        + ", ".join(f"{sandbox.url}/{n} ({p})" for n, p in instances.items()),
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
