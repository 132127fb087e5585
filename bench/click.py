"""The click path (`GET /{code}`) on the local runner, beside a bare moto `GetItem` loop.

Starts `python -m local.run` (what `make run` starts) in a child process, creates a link through
the merchant API, then loads `GET /{code}` from this process at each concurrency level for a fixed
time, one keep-alive connection per thread. The baseline is the storage the click needs and
nothing else: a boto3 `GetItem` of the same link item against the runner's own moto server, from
the same number of threads of this process. It prints requests/s, p50, p99 and errors of both,
and their ratios; `--check` exits 1 when the click is more than 3x the baseline.

    .venv/bin/python bench/click.py                        # levels 1, 4, 16; 10 s each
    .venv/bin/python bench/click.py --levels 4 --seconds 3 # a quick run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "plk_bench_click_key"
LIMIT = 3.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Runner:
    url: str
    port: int
    moto_endpoint: str
    table: str
    log: Path


@contextmanager
def local_runner(extra_env: dict[str, str] | None = None) -> Iterator[Runner]:
    """`python -m local.run` on free ports, until it answers `/_local/health`; stopped with Ctrl-C."""
    folder = Path(tempfile.mkdtemp(prefix="bench-click-"))
    port, moto_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PAYLINK_PORT": str(port),
        "PAYLINK_SANDBOX_PORT": str(_free_port()),
        "PAYLINK_MOTO_PORT": str(moto_port),
        "PAYLINK_DEMO_API_KEY": API_KEY,
        "PAYLINK_STATE_FILE": str(folder / "runner.json"),
        "PAYLINK_LOCAL_SCHEDULES": "off",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log = folder / "runner.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        # The runner answers its health check a moment before it writes its state file.
        while not (_healthy(port) and (folder / "runner.json").exists()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local runner did not start:\n" + log.read_text())
            time.sleep(0.2)
        state = json.loads((folder / "runner.json").read_text())
        yield Runner(state["url"], port, state["dynamodb_endpoint"], state["table_name"], log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/_local/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def create_link(runner: Runner) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", runner.port, timeout=10)
    body = json.dumps({"title": "Scarf", "amount": 1_200_000})
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/links", body, headers)
    answer = connection.getresponse()
    data = answer.read()
    assert answer.status == 201, data
    return str(json.loads(data)["code"])


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


def load(make_call: Callable[[], Callable[[], bool]], threads: int, seconds: float) -> Result:
    """Run `threads` loops of one call each for `seconds`; each thread makes its own call first."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        call = make_call()
        call()  # warm: connect, first answer
        start.wait()
        mine = latencies[index]
        while not stop.is_set():
            began = time.perf_counter()
            ok = call()
            mine.append(time.perf_counter() - began)
            if not ok:
                errors[index] += 1

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    every = [x for mine in latencies for x in mine]
    return Result(len(every), sum(errors), elapsed, every)


def click_call(port: int, code: str) -> Callable[[], Callable[[], bool]]:
    def make() -> Callable[[], bool]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def call() -> bool:
            try:
                connection.request("GET", f"/{code}")
                answer = connection.getresponse()
                answer.read()
                return answer.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                return False

        return call

    return make


def get_item_call(endpoint: str, table: str, code: str) -> Callable[[], Callable[[], bool]]:
    def make() -> Callable[[], bool]:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        key = {"pk": {"S": f"LINK#{code}"}, "sk": {"S": "LINK"}}

        def call() -> bool:
            return "Item" in client.get_item(TableName=table, Key=key)

        return call

    return make


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    load1, load5, _ = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"load average {load1:.2f} / {load5:.2f} (1 / 5 min)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,4,16", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per level and path")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the click is beyond {LIMIT:g}x")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    print(f"machine: {machine()}", flush=True)
    ok = True
    with local_runner() as runner:
        code = create_link(runner)
        print(
            f"runner {runner.url}, moto {runner.moto_endpoint}; GET /{code} vs GetItem LINK#{code}",
            flush=True,
        )
        print(
            f"{'threads':>7} {'path':<8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
            f"   {'p50 x':>6} {'p99 x':>6} {'req/s x':>7}"
        )
        for threads in (int(level) for level in args.levels.split(",")):
            base = load(get_item_call(runner.moto_endpoint, runner.table, code), threads, args.seconds)
            click = load(click_call(runner.port, code), threads, args.seconds)
            ratios = (
                click.percentile(50) / base.percentile(50),
                click.percentile(99) / base.percentile(99),
                base.rate / click.rate,
            )
            within = ratios[0] <= LIMIT and ratios[2] <= LIMIT and click.errors == 0
            verdict = "ok" if within else f"BEYOND {LIMIT:g}x"
            ok &= within
            for name, result in (("GetItem", base), ("click", click)):
                print(
                    f"{threads:>7} {name:<8} {result.rate:>8.0f} {result.percentile(50) * 1000:>7.2f} "
                    f"{result.percentile(99) * 1000:>7.2f} {result.errors:>6}",
                    end="",
                )
                print(
                    f"   {ratios[0]:>6.2f} {ratios[1]:>6.2f} {ratios[2]:>7.2f}  {verdict}"
                    if name == "click"
                    else ""
                )
    print(f"click within {LIMIT:g}x of GetItem (p50 latency and throughput) at every level: {ok}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
