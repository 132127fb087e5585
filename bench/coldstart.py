"""Cold start: what each Lambda handler imports, beside a bare `import boto3` on the same machine.

Every figure comes from a fresh interpreter laid out as Lambda lays out a function: the function's
CodeUri folder first on sys.path (Lambda's /var/task), then the layer's package folder (/opt/python),
then the installed libraries (the layer's dependencies and the runtime's boto3). The environment is
the function's literal settings from template.yaml plus the variables Lambda sets, so Powertools
behaves as it would there.

Part 1, init: the time to import each handler module and look up its handler (Lambda's init phase),
--rounds runs interleaved with as many bare `import boto3` runs, so that a busy machine slows both
alike. The issue's limits apply to the fastest run of each (its own cost; what is slower is the
machine's other work, as timeit's documentation says), and the medians are printed beside them:
every handler at most 2.5x the bare boto3 import. The click path's init (CheckoutFunction, which
serves GET /{code}) makes its DynamoDB client and loads its pages on purpose (issue 18), so it is
held to its cold total in part 2 instead of to its import alone (1.5x before).

Part 2, the click path end to end: a fresh interpreter imports CheckoutFunction's handler and
serves GET /{code} of a real link from a moto DynamoDB server over HTTP (cold: init + first
request), then the same request again (warm). Beside it, the least any function that reads one
item must do: `import boto3`, make the client and GetItem the same item. The cold total (init +
first request) must be at most 1.3x that baseline's (issue 18), fastest run against fastest run
(each pair of runs interleaved). It also lists what the first request imports lazily, and fails
--check if httpx, qrcode, pydantic or jdatetime is loaded anywhere on the path.

Both parts load the layer as the layer build makes it (layers/paylink/Makefile): a copy of the
package with the page templates compiled to modules and every module byte-compiled.

    .venv/bin/python bench/coldstart.py             # figures
    .venv/bin/python bench/coldstart.py --check     # exit 1 when a limit is broken
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: bench/click.py would stand in for the `click` package other libraries import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]

SOURCE_LAYER = ROOT / "layers" / "paylink"
LAYER = SOURCE_LAYER  # replaced by the built copy in main()
CLICK_FUNCTION = "CheckoutFunction"
CLICK_LIMIT = HANDLER_LIMIT = 2.5
CLICK_COLD_LIMIT = 1.3  # the click path's init + first request, x bare boto3 + client + GetItem
# Packages worth naming when a handler loads them; the click path must never load the last two.
WATCHED = (
    "boto3", "botocore", "pydantic", "jinja2", "aws_xray_sdk", "holidays", "jdatetime", "httpx", "qrcode",
)  # fmt: skip
FORBIDDEN_ON_CLICK = ("httpx", "qrcode", "pydantic", "jdatetime")

# Run in the fresh interpreter: import one module (and look up its handler), say how long it took
# and which top-level packages it brought in.
IMPORT_CHILD = """
import json, sys, time
code_dir, layer, module, attribute = sys.argv[1:5]
sys.path[:0] = [p for p in (code_dir, layer) if p]
before = set(sys.modules)
started = time.perf_counter()
loaded = __import__(module)
if attribute:
    getattr(loaded, attribute)
seconds = time.perf_counter() - started
packages = sorted({name.split(".")[0] for name in set(sys.modules) - before})
print(json.dumps({"seconds": seconds, "packages": packages}))
"""

# Run in the fresh interpreter: the click path cold (init + first request), then warm.
CLICK_CHILD = """
import json, sys, time
code_dir, layer, module, attribute, event_file = sys.argv[1:6]
sys.path[:0] = [code_dir, layer]
event = json.loads(open(event_file, encoding="utf-8").read())

class Context:
    function_name = "CheckoutFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:CheckoutFunction"
    aws_request_id = "coldstart"
    log_group_name = "/aws/lambda/CheckoutFunction"
    log_stream_name = "coldstart"
    def get_remaining_time_in_millis(self):
        return 10000

before = set(sys.modules)
started = time.perf_counter()
handler = getattr(__import__(module), attribute)
initialised = time.perf_counter()
after_init = set(sys.modules)
first = handler(event, Context())
answered = time.perf_counter()
after_first = set(sys.modules)
second = handler(event, Context())
warm = time.perf_counter() - answered
top = lambda names: sorted({name.split(".")[0] for name in names})
print(json.dumps({
    "init": initialised - started, "first": answered - initialised, "warm": warm,
    "status": [first["statusCode"], second["statusCode"]],
    "init_packages": top(after_init - before), "first_packages": top(after_first - after_init),
    "all_packages": top(after_first - before),
}))
"""

# Run in the fresh interpreter: the least a function reading one item must do.
GETITEM_CHILD = """
import json, os, sys, time
table, key = sys.argv[1], json.loads(sys.argv[2])
started = time.perf_counter()
import boto3
imported = time.perf_counter()
client = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"])
client.get_item(TableName=table, Key=key)
answered = time.perf_counter()
client.get_item(TableName=table, Key=key)
warm = time.perf_counter() - answered
print(json.dumps({"init": imported - started, "first": answered - imported, "warm": warm}))
"""


@dataclass
class Handler:
    """One handler module (several functions may share one) and the functions that use it."""

    code_dir: Path
    module: str
    attribute: str
    functions: list[str]
    environment: dict[str, str]
    runs: list[float] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.code_dir.relative_to(ROOT)}/{self.module}.py"


def _lambda_environment(function_id: str, settings: dict[str, Any]) -> dict[str, str]:
    """What the child sees: the machine's PATH and locale, the template's settings, Lambda's variables."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
    env.update({name: str(value) for name, value in settings.items() if isinstance(value, str | int | float)})
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "coldstart",
            "AWS_SECRET_ACCESS_KEY": "coldstart",
            "TABLE_NAME": "paylink",
        }
    )
    return env


def handlers() -> list[Handler]:
    """Each distinct handler module of template.yaml, with the functions that run it."""
    from local.template import load_template

    template = load_template()
    global_fn = template.get("Globals", {}).get("Function", {})
    global_env = global_fn.get("Environment", {}).get("Variables", {})
    found: dict[tuple[str, str], Handler] = {}
    for function_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        module, attribute = str(props["Handler"]).rsplit(".", 1)
        code_dir = ROOT / str(props["CodeUri"]).strip("/")
        settings = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        key = (str(code_dir), module)
        if key in found:
            found[key].functions.append(function_id)
            continue
        environment = _lambda_environment(function_id, settings)
        found[key] = Handler(code_dir, module, attribute, [function_id], environment)
    return list(found.values())


def _child(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_imports(found: list[Handler], rounds: int) -> Handler:
    """Interleaved rounds: bare boto3, then every handler; returns the bare boto3 "handler"."""
    bare = Handler(ROOT, "boto3", "", ["-"], _lambda_environment("boto3", {}))
    for _ in range(rounds):
        for handler in (bare, *found):
            args = [str(handler.code_dir), str(LAYER), handler.module, handler.attribute]
            if handler is bare:
                args = ["", "", "boto3", ""]
            result = _child(IMPORT_CHILD, args, handler.environment)
            handler.runs.append(result["seconds"])
            handler.packages = result["packages"]
    return bare


@dataclass
class ClickFigures:
    click: dict[str, float]
    bare: dict[str, float]
    first_packages: list[str]
    all_packages: list[str]
    statuses: list[int]
    cold_runs: list[float]  # init + first request of each run
    bare_cold_runs: list[float]


def measure_click(found: list[Handler], rounds: int) -> ClickFigures:
    """The click path cold and warm against a moto server, beside a bare boto3 GetItem."""
    import boto3

    from local.dynamodb import AtomicMotoServer
    from local.run import free_port, http_event
    from local.template import create_tables, load_template

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's line per request
    click = next(h for h in found if CLICK_FUNCTION in h.functions)
    port = free_port()
    server = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "coldstart",
                "AWS_SECRET_ACCESS_KEY": "coldstart",
            }
        )
        client = boto3.client("dynamodb", endpoint_url=endpoint)
        table = create_tables(client, load_template(), prefix="coldstart")["PaylinkTable"]
        code = _seed_link(endpoint, table)
        headers = {"host": "pay.example", "user-agent": "coldstart"}
        event = http_event("GET", f"/{code}", headers, b"", None, {"code": code}, "127.0.0.1")
        event["routeKey"] = event["requestContext"]["routeKey"] = "GET /{code}"
        env = {**click.environment, "TABLE_NAME": table, "DYNAMODB_ENDPOINT_URL": endpoint,
               "PUBLIC_BASE_URL": "https://pay.example"}  # fmt: skip
        runs: dict[str, list[float]] = {"init": [], "first": [], "warm": []}
        bare: dict[str, list[float]] = {"init": [], "first": [], "warm": []}
        packages: set[str] = set()
        first_packages: set[str] = set()
        statuses: set[int] = set()
        key = json.dumps({"pk": {"S": f"LINK#{code}"}, "sk": {"S": "LINK"}})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(event, handle)
        try:
            for _ in range(rounds):
                result = _child(CLICK_CHILD, [str(click.code_dir), str(LAYER), click.module,
                                              click.attribute, handle.name], env)  # fmt: skip
                for part in runs:
                    runs[part].append(result[part])
                packages.update(result["all_packages"])
                first_packages.update(result["first_packages"])
                statuses.update(result["status"])
                baseline = _child(GETITEM_CHILD, [table, key], env)
                for part in bare:
                    bare[part].append(baseline[part])
        finally:
            os.unlink(handle.name)
    finally:
        server.stop()
    return ClickFigures(
        {part: statistics.median(values) for part, values in runs.items()},
        {part: statistics.median(values) for part, values in bare.items()},
        sorted(first_packages),
        sorted(packages),
        sorted(statuses),
        [i + f for i, f in zip(runs["init"], runs["first"], strict=True)],
        [i + f for i, f in zip(bare["init"], bare["first"], strict=True)],
    )


def _seed_link(endpoint: str, table: str) -> str:
    """A merchant and one item link in the server's table, written by the layer's own code."""
    os.environ.update({"DYNAMODB_ENDPOINT_URL": endpoint, "TABLE_NAME": table})
    from paylink.core.models import LinkCreate
    from paylink.merchants.accounts import create_merchant
    from paylink.merchants.links import create_link
    from paylink.store import get_store

    store = get_store()
    merchant, _ = create_merchant(store, username="coldstart", name="Cold Start Shop",
                                  iban="IR062960000000100324200001", api_key="plk_coldstart_key")  # fmt: skip
    link = create_link(store, merchant, LinkCreate(title="Handmade scarf", amount=1_200_000))
    if store.get_link(link.code) is None:
        raise RuntimeError("the seeded link cannot be read back")
    return link.code


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(found: list[Handler], bare: Handler, click: ClickFigures | None, rounds: int) -> bool:
    """Print the tables; True when every limit holds."""
    ok = True
    # The fastest of N runs is the import's own cost (slower runs add the machine's other work), so
    # the limits apply to it; the medians show what a busy machine adds.
    base, base_median = min(bare.runs), statistics.median(bare.runs)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; {rounds} fresh interpreters each")  # fmt: skip
    print()
    print("| handler module | functions | fastest ms | x bare boto3 | median ms | x bare boto3 (medians) "
          "| limit | heavy packages at init |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| bare `import boto3` | - | {_ms(base)} | 1.00 | {_ms(base_median)} | 1.00 | - | boto3, botocore |"
    )
    for handler in found:
        fastest, median = min(handler.runs), statistics.median(handler.runs)
        ratio = fastest / base
        limit = CLICK_LIMIT if CLICK_FUNCTION in handler.functions else HANDLER_LIMIT
        verdict = "" if ratio <= limit else " **over**"
        ok = ok and ratio <= limit
        heavy = ", ".join(p for p in WATCHED if p in handler.packages) or "-"
        print(f"| {handler.name} | {', '.join(handler.functions)} | {_ms(fastest)} | {ratio:.2f}{verdict} "
              f"| {_ms(median)} | {median / base_median:.2f} | {limit} | {heavy} |")  # fmt: skip
    if click is None:
        return ok
    print()
    print("Click path end to end (GET /{code} of a real link, moto DynamoDB server over HTTP):")
    print()
    print("| | init ms | first request ms | cold total ms | warm request ms |")
    print("|---|---:|---:|---:|---:|")
    cold = click.click["init"] + click.click["first"]
    bare_cold = click.bare["init"] + click.bare["first"]
    for name, figures, total in (
        ("CheckoutFunction GET /{code} (HTML page)", click.click, cold),
        ("bare `import boto3` + client + GetItem", click.bare, bare_cold),
    ):
        cells = [_ms(figures["init"]), _ms(figures["first"]), _ms(total), _ms(figures["warm"])]
        print(f"| {name} | {' | '.join(cells)} |")
    fastest, bare_fastest = min(click.cold_runs), min(click.bare_cold_runs)
    ratio = fastest / bare_fastest
    ok = ok and ratio <= CLICK_COLD_LIMIT
    print()
    over = "" if ratio <= CLICK_COLD_LIMIT else " **over**"
    print(f"click path cold total (init + first GET /{{code}}), fastest of {len(click.cold_runs)}: "
          f"{_ms(fastest)} ms vs bare {_ms(bare_fastest)} ms = {ratio:.2f}x (limit {CLICK_COLD_LIMIT}x)"
          f"{over}; medians: {cold / bare_cold:.2f}x")  # fmt: skip
    print(f"statuses answered: {click.statuses}")
    print(f"imported by the first request (lazily): {', '.join(click.first_packages) or '-'}")
    loaded = [p for p in FORBIDDEN_ON_CLICK if p in click.all_packages]
    if loaded:
        ok = False
        print(f"**the click path loaded {', '.join(loaded)}**")
    else:
        print(f"never loaded on the click path: {', '.join(FORBIDDEN_ON_CLICK)}")
    if click.statuses != [200]:
        ok = False
        print("**the click did not answer 200**")
    return ok


def build_layer(target: Path) -> Path:
    """The layer package as the layer build makes it (layers/paylink/Makefile, without pip): the
    package copied, its page templates compiled, every module byte-compiled (unchecked-hash)."""
    import shutil

    shutil.copytree(SOURCE_LAYER / "paylink", target / "paylink",
                    ignore=shutil.ignore_patterns("__pycache__", "compiled"))  # fmt: skip
    commands = [
        [sys.executable, "-I", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", "paylink"]
    ]
    if (target / "paylink" / "web" / "pages" / "compile.py").exists():  # absent from trees before issue 18
        commands.insert(0, [sys.executable, "-m", "paylink.web.pages.compile", "paylink/web/pages/compiled"])
    for command in commands:
        subprocess.run(command, cwd=target, check=True, capture_output=True, timeout=300)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9, help="fresh interpreters per handler (default 9)")
    parser.add_argument("--no-click", action="store_true", help="skip part 2 (the click path end to end)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    args = parser.parse_args(argv)
    global LAYER
    with tempfile.TemporaryDirectory(prefix="coldstart-layer-") as built:
        LAYER = build_layer(Path(built))
        found = handlers()
        bare = measure_imports(found, args.rounds)
        click = None if args.no_click else measure_click(found, args.rounds)
        ok = report(found, bare, click, args.rounds)
    print()
    print("all limits hold" if ok else "a limit is broken")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
