"""`make run`: the whole system on this machine, like `sam local start-api` but without Docker.

One process tree: a moto server with the tables and queues of template.yaml, the sandbox gateways,
and an HTTP front that turns each request into the API Gateway (HTTP API, payload 2.0) event that
template.yaml routes to a handler. It fires the template's schedules on time, polls each SQS event
source's queue and invokes its function (local/queues.py), and serves
`POST /_local/invoke/{FunctionLogicalId}` (answering once the queues are drained, so the work the
invocation queued is done) and `POST /_local/drain`. Switches: PAYLINK_PORT (3000), PAYLINK_SANDBOX_PORT
(3001), PAYLINK_DEMO_API_KEY, PAYLINK_MOTO_PORT (a free port when unset), PAYLINK_STATE_FILE,
PAYLINK_LOCAL_SCHEDULES=off (tests that must not be disturbed by the minute probe), PAYLINK_PUBLIC_BASE_URL
(the stack's PublicBaseUrl; unset: the runner's own URL; empty: derived as in a deployment without
one), PAYLINK_EMAIL_SENDER (empty: a stack without email), PAYLINK_CSV_INLINE_MAX_BYTES.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import queue
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.iam import acting_as, install
from local.queues import QueuePoller, drain
from local.template import (
    ROOT,
    Function,
    Route,
    Schedule,
    conditions,
    create_buckets,
    create_queues,
    create_tables,
    functions,
    global_environment,
    load_template,
    parameter_defaults,
    queue_sources,
    resolve,
    routes,
)
from local.template import schedules as template_schedules

STATE_FILE = Path(os.environ.get("PAYLINK_STATE_FILE") or ROOT / ".local-state" / "runner.json")
REGION = "us-east-1"
DEMO_IBAN = "IR062960000000100324200001"
# One sandbox instance per real protocol, tried in this order: a fails over to b, and so on.
SANDBOX_INSTANCES = {"a": "zibal", "b": "payping", "c": "zarinpal", "d": "sep"}
# The sandbox payout provider the local settle functions pay merchants through (Jibit's Transferor).
PAYOUT_INSTANCES = {"p": "jibit"}
# Outside providers (DESIGN section 7): Kavenegar's SMS API and Zibal's bank inquiries (facility API).
PROVIDER_INSTANCES = {"sms": "kavenegar", "inq": "zibal-inquiry"}
# The Telegram Bot API the merchants' bot talks to (issue 17): replies and notices land in its calls.
BOT_INSTANCES = {"tg": "telegram"}
TEXT_TYPES = ("application/json", "text/")
# Locally a failed message comes back after seconds, not the template's half hour, so retries and
# the move to the dead-letter queue can be watched.
LOCAL_VISIBILITY_TIMEOUT = 2
DRAIN_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LambdaContext:
    """What a handler may ask of its context, as Lambda provides it."""

    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:000000000000:function:{function.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Invoker:
    """Runs one function's handler; concurrent calls get separate instances, as Lambda would.

    While it runs, the handler's settings are read from `environment` alone (its template
    environment, resolved, plus what Lambda sets): a variable the template does not give this
    function is missing here as it would be deployed.
    """

    def __init__(self, function: Function) -> None:
        self.function = function
        self.environment: dict[str, str] | None = None
        self._settings: Any = None
        self._idle: queue.LifoQueue[Callable[..., Any]] = queue.LifoQueue()
        self._loaded = 0
        self._lock = threading.Lock()

    def _function_settings(self) -> Any:
        if self._settings is None and self.environment is not None:
            from paylink.core.settings import Settings

            self._settings = Settings.model_validate(self.environment)
        return self._settings

    def _load(self) -> Callable[..., Any]:
        with self._lock:
            self._loaded += 1
            number = self._loaded
        path = ROOT / (self.function.module.replace(".", "/") + ".py")
        name = f"_local_{self.function.logical_id}_{number}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handler: Callable[..., Any] = getattr(module, self.function.handler)
        return handler

    def invoke(self, event: Any) -> Any:
        from paylink.core.settings import FUNCTION_SETTINGS

        token = FUNCTION_SETTINGS.set(self._function_settings())
        try:
            try:
                handler = self._idle.get_nowait()
            except queue.Empty:
                handler = self._load()
            try:
                with acting_as(self.function.logical_id, self.environment):  # its calls held to its role
                    return handler(event, LambdaContext(self.function))
            finally:
                self._idle.put(handler)
        finally:
            FUNCTION_SETTINGS.reset(token)


# What Lambda itself sets (region, credentials: moto's) and the local-only plumbing that points
# the AWS clients at moto: the only variables a function gets beyond its template environment.
# Switches a developer may set for a local run are passed on when present.
LOCAL_SWITCHES = (
    "PAYLINK_WEBHOOK_RETRY_SCALE",
    "PAYLINK_SANDBOX_PAYOUT_FAIL_IBANS",
    "PAYLINK_TELEGRAM_API_URL",
    "PAYLINK_CSV_INLINE_MAX_BYTES",
)


def log_environment(logging_config: dict[str, Any], refs: dict[str, str]) -> dict[str, str]:
    """What Lambda sets from a LoggingConfig (advanced logging controls): the log format, and with
    JSON the application log level, which Powertools' Logger takes over POWERTOOLS_LOG_LEVEL."""
    if "LogFormat" not in logging_config:
        return {}
    log_format = resolve(logging_config["LogFormat"], refs)
    env = {"AWS_LAMBDA_LOG_FORMAT": log_format}
    if log_format == "JSON":
        env["AWS_LAMBDA_LOG_LEVEL"] = resolve(logging_config.get("ApplicationLogLevel", "INFO"), refs)
    return env


def function_environment(
    function: Function, refs: dict[str, str], plumbing: dict[str, str]
) -> dict[str, str]:
    """The environment one function runs with: the plumbing, what Lambda sets from its
    LoggingConfig, then its own template variables."""
    own = log_environment(function.logging, refs)
    for name, value in function.environment.items():
        try:
            own[name] = resolve(value, refs)
        except KeyError as missing:
            raise ValueError(
                f"{function.logical_id}: {name} needs {missing}, which the local runner lacks"
            ) from None
    return {**plumbing, **own}


def scrub_process_environment(keep: dict[str, str]) -> None:
    """Drop every paylink setting from this process's environment except `keep`'s, so that code
    outside an invocation (the seed, threads a handler starts) sees only what every function gets."""
    from paylink.core.settings import Settings

    for field in Settings.model_fields.values():
        if field.alias and field.alias not in keep:
            os.environ.pop(field.alias, None)
    os.environ.update(keep)


def put_secrets(ssm: Any, values: dict[str, str], stage: str = "local") -> dict[str, str]:
    """Each secret as an SSM SecureString in moto, as a deployer puts it (README "Deploy");
    returns template parameter -> the parameter's name, which is all a function is given."""
    names = {}
    for parameter, value in values.items():
        name = f"/paylink/{stage}/{parameter.removesuffix('Parameter')}"
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        names[parameter] = name
    return names


def http_event(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    route: Route | None,
    params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload format 2.0) event of one request."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    lowered = {k.lower(): v for k, v in headers.items()}
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    content_type = lowered.get("content-type", "")
    is_text = content_type.startswith(TEXT_TYPES)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key if route else "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            # API Gateway's own shape (11 random bytes in base64, e.g. "JKJaXmPLvHcESHA="), not a
            # 32-digit hex id: one of those holds a 16-digit run, a card number to the log checks,
            # about once in a hundred requests.
            "requestId": base64.b64encode(os.urandom(11)).decode(),
            "routeKey": route.route_key if route else "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body and is_text:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:  # "text" that is not UTF-8 travels as bytes, base64-encoded
            is_text = False
            event["isBase64Encoded"] = True
    if body and not is_text:
        event["body"] = base64.b64encode(body).decode()
    return event


class LocalSystem:
    """Every part of the local run, started and stopped together."""

    def __init__(
        self,
        *,
        port: int = 3000,
        sandbox_port: int = 3001,
        moto_port: int | None = None,
        demo_api_key: str | None = None,
        host: str = "127.0.0.1",
        fire_schedules: bool = os.environ.get("PAYLINK_LOCAL_SCHEDULES", "on") != "off",
    ) -> None:
        self.host, self.port, self.sandbox_port = host, port, sandbox_port
        self.moto_port = moto_port or free_port()
        self.demo_api_key = demo_api_key
        self.fire_schedules = fire_schedules
        self.template = load_template()
        self.functions = functions(self.template)
        self.routes = routes(self.template)
        self.invokers = {fid: Invoker(fn) for fid, fn in self.functions.items()}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pollers: list[QueuePoller] = []
        self.queues: dict[str, str] = {}
        self.demo_link_url = ""
        self.bot_webhook = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        import logging

        from local.dynamodb import AtomicMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per DynamoDB call is noise
        install()  # each function's AWS calls held to its role in template.yaml (local/iam.py)

        self.moto = AtomicMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self.moto.start()
        endpoint = f"http://{self.host}:{self.moto_port}"
        plumbing = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "DYNAMODB_ENDPOINT_URL": endpoint,
            "SQS_ENDPOINT_URL": endpoint,
            "S3_ENDPOINT_URL": endpoint,
            # Secrets are read from moto's SSM, by the same code path as deployed (paylink.core.secrets).
            "AWS_ENDPOINT_URL_SSM": endpoint,
            # Invoice SMS and email go to moto's SNS and SES (see what was sent at /moto-api/).
            "PAYLINK_NOTIFY_ENDPOINT_URL": endpoint,
            "PAYLINK_ALLOW_CLOCK_OVERRIDE": "1",  # scheduled events may name their `now` locally
            # A refused webhook's three days of retries take about an hour locally (1 min -> 1 s).
            "PAYLINK_WEBHOOK_RETRY_SCALE": "60",
            **{name: os.environ[name] for name in LOCAL_SWITCHES if os.environ.get(name)},
        }
        os.environ.update(plumbing)
        import boto3

        email_sender = os.environ.get("PAYLINK_EMAIL_SENDER", "invoices@paylink.local")
        if email_sender:  # empty: the stack offers no email, as a deployment without EmailSender
            ses = boto3.client("ses", endpoint_url=endpoint, region_name=REGION)
            ses.verify_email_identity(EmailAddress=email_sender)

        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        tables = create_tables(client, self.template, prefix="paylink-local")
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.queues = create_queues(
            sqs, self.template, prefix="paylink-local", visibility_timeout=LOCAL_VISIBILITY_TIMEOUT
        )
        self.pollers = [
            QueuePoller(
                sqs,
                source,
                self.queues[source.queue_id],
                self.queues[f"{source.queue_id}.Arn"],
                self.invokers[source.function_id].invoke,
                region=REGION,
            )
            for source in queue_sources(self.template)
        ]

        from local.sandbox import Sandbox

        self.sandbox = Sandbox(
            instances={**SANDBOX_INSTANCES, **PAYOUT_INSTANCES, **PROVIDER_INSTANCES, **BOT_INSTANCES},
            host=self.host,
            port=self.sandbox_port,
        )
        self.sandbox.start()
        gateways = [
            {
                "name": f"sandbox-{name}",
                "protocol": protocol,
                "base_url": f"{self.sandbox.url}/{name}",
                "timeout_seconds": 3.0,
            }
            for name, protocol in SANDBOX_INSTANCES.items()
        ]
        credentials = {
            f"sandbox-{name}": {"merchant_id": self.sandbox.merchant} for name in SANDBOX_INSTANCES
        }
        ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
        secrets = {"GatewayCredentialsParameter": json.dumps(credentials)}
        # SMS and bank inquiries: the sandbox instances' own credentials, read back from moto's SSM.
        from local.sandbox.protocols.kavenegar import SANDBOX_API_KEY as SMS_KEY
        from local.sandbox.protocols.zibal_inquiry import SANDBOX_TOKEN as INQUIRY_TOKEN

        secrets["KavenegarApiKeyParameter"] = SMS_KEY
        secrets["InquiryTokenParameter"] = INQUIRY_TOKEN
        # The panel's keyed-hash key (digests of phones and national codes, device cookies): random
        # per run (the table lives as long as the run), as a deployer makes one (README "Deploy").
        secrets["PanelKeyParameter"] = os.urandom(32).hex()
        # The bot: the sandbox's bot token and Bot API (instance tg), unless a real token is given
        # (then Telegram itself, or PAYLINK_TELEGRAM_API_URL).
        from local.sandbox.protocols.telegram import SANDBOX_BOT_TOKEN

        real_token = os.environ.get("PAYLINK_TELEGRAM_BOT_TOKEN")
        secrets["TelegramBotTokenParameter"] = real_token or SANDBOX_BOT_TOKEN
        if not real_token and not os.environ.get("PAYLINK_TELEGRAM_API_URL"):
            plumbing["PAYLINK_TELEGRAM_API_URL"] = f"{self.sandbox.url}/tg"
        buckets = create_buckets(
            boto3.client("s3", endpoint_url=endpoint, region_name=REGION), self.template, "paylink-local"
        )
        refs = {
            **parameter_defaults(self.template),
            **tables,
            **self.queues,
            **put_secrets(ssm, secrets),
            **buckets,
            # The API's id as the front's events name it (requestContext.apiId).
            "HttpApi": "local",
            "AWS::Region": REGION,
            "AWS::URLSuffix": "amazonaws.com",
            "PublicBaseUrl": os.environ.get("PAYLINK_PUBLIC_BASE_URL", self.url),
            "DomainName": "",
            "CertificateArn": "",
            "GatewaysConfig": json.dumps(gateways),
            "LogLevel": os.environ.get("PAYLINK_LOG_LEVEL", "INFO"),
            "EmailSender": email_sender,
            "SmsSenderId": os.environ.get("PAYLINK_SMS_SENDER_ID", "paylink"),
            # Payouts: the template's explicit choices, made for a local run (override to try others):
            # Jibit's Transferor at the sandbox's instance p.
            "PayoutProvider": os.environ.get("PAYLINK_PAYOUT_PROVIDER", "jibit"),
            "Stage": os.environ.get("PAYLINK_STAGE", "dev"),
            "PayoutApiUrl": os.environ.get("PAYLINK_PAYOUT_API_URL", f"{self.sandbox.url}/p"),
            # SMS through Kavenegar's sandbox (sms), inquiries through Zibal's (inq): README "Sandbox".
            "SmsProvider": os.environ.get("PAYLINK_SMS_PROVIDER", "kavenegar"),
            "KavenegarApiUrl": f"{self.sandbox.url}/sms",
            "KavenegarOtpTemplate": "paylink-otp",
            "InquiryApiUrl": f"{self.sandbox.url}/inq",
        }
        # The payout credentials are SecureStrings named from the stage, as a deployer puts them
        # (README "Deploy"); locally they hold the sandbox's own values.
        from local.sandbox.protocols.jibit import SANDBOX_API_KEY, SANDBOX_SECRET_KEY

        for suffix, value in (("api-key", SANDBOX_API_KEY), ("secret-key", SANDBOX_SECRET_KEY)):
            ssm.put_parameter(
                Name=f"/paylink/{refs['Stage']}/payout/{suffix}",
                Value=value,
                Type="SecureString",
                Overwrite=True,
            )
        refs.update(conditions(self.template, refs))
        layer = str(ROOT / "layers" / "paylink")
        if layer not in sys.path:
            sys.path.insert(0, layer)
        for invoker in self.invokers.values():
            invoker.environment = function_environment(invoker.function, refs, plumbing)
        shared = {name: resolve(value, refs) for name, value in global_environment(self.template).items()}
        # Powertools' Logger is made once per process, from this process's environment.
        globals_logging = self.template.get("Globals", {}).get("Function", {}).get("LoggingConfig", {})
        shared |= log_environment(globals_logging, refs)
        scrub_process_environment({**plumbing, **shared})
        self._seed()
        self.server = ThreadingHTTPServer((self.host, self.port), self._handler_class())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._register_bot()  # before the front answers its first health check
        self._spawn(self.server.serve_forever)
        for poller in self.pollers:
            self._spawn(partial(poller.run, self._stop))
        if self.fire_schedules:
            for schedule in template_schedules(self.template):
                self._spawn(partial(self._schedule_loop, schedule))
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "sandbox_url": self.sandbox.url,
                    "dynamodb_endpoint": endpoint,
                    "table_name": tables.get("PaylinkTable"),
                    "queues": {k: v for k, v in self.queues.items() if "." not in k},
                    "region": REGION,
                },
                indent=2,
            )
        )

    def _seed(self) -> None:
        from paylink.core.models import LinkCreate
        from paylink.merchants.accounts import create_merchant
        from paylink.merchants.links import create_link
        from paylink.store import get_store

        store = get_store()
        merchant, key = create_merchant(
            store, username="demo", name="فروشگاه نمونه", iban=DEMO_IBAN, api_key=self.demo_api_key
        )
        self.demo_api_key = key
        link = create_link(
            store,
            merchant,
            LinkCreate(title="شال دست‌باف", description="شال پشمی دست‌باف، ارسال رایگان", amount=1_200_000),
        )
        self.demo_link_url = f"{self.url}/{link.code}"

    def _register_bot(self) -> None:
        """What the deploy's custom resource does (TelegramWebhook): setWebhook to this runner's
        `/telegram/webhook` with the secret token, and setMyCommands, as the bot function."""
        from paylink.bot.api import BotApiError
        from paylink.bot.webhook import register
        from paylink.core.settings import FUNCTION_SETTINGS

        invoker = self.invokers["TelegramBotFunction"]
        token = FUNCTION_SETTINGS.set(invoker._function_settings())
        try:
            self.bot_webhook = register(self.url)
        except BotApiError as exc:  # a real bot unreachable: the rest of the runner still works
            print(f"[telegram] webhook not registered: {exc.error_code} {exc.description}", flush=True)
        finally:
            FUNCTION_SETTINGS.reset(token)

    def _spawn(self, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _schedule_loop(self, schedule: Schedule) -> None:
        from local.schedules import next_fire

        while not self._stop.is_set():
            moment = next_fire(schedule.expression, schedule.timezone, datetime.now(UTC))
            if self._stop.wait(max(0.0, (moment - datetime.now(UTC)).total_seconds())):
                return
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            event = json.loads((schedule.input or "{}").replace("<aws.scheduler.scheduled-time>", stamp))
            try:
                result = self.invokers[schedule.function_id].invoke(event)
                print(f"[schedule] {schedule.function_id} at {stamp}: {json.dumps(result)[:300]}", flush=True)
            except Exception:
                traceback.print_exc()

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Wait for every polled queue to be empty with nothing in flight; False on timeout."""
        drained = drain(self.pollers, timeout=timeout)
        if not drained:
            print(f"[queue] not drained after {timeout:.0f} s", flush=True)
        return drained

    def route(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            match = route.pattern.match(path)
            if match:
                return route, match.groupdict()
        return None, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        system = self

        class Front(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "paylink-local"
            # TCP_NODELAY: the headers and the body go out as two writes; with Nagle's algorithm
            # the body waits for the client's delayed ACK of the headers, ~40 ms per keep-alive request.
            disable_nagle_algorithm = True

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, body: Any) -> None:
                self._answer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                if path.startswith("/_local/"):
                    self._local(path, body)
                    return
                route, params = system.route(self.command, path)
                if route is None:
                    self._json(404, {"message": "Not Found"})
                    return
                event = http_event(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    route,
                    params,
                    self.client_address[0],
                )
                try:
                    result = system.invokers[route.function_id].invoke(event)
                except Exception:
                    traceback.print_exc()
                    self._json(500, {"message": "Internal Server Error"})
                    return
                self._answer_lambda(result)

            def _answer_lambda(self, result: dict[str, Any]) -> None:
                headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
                for name, values in (result.get("multiValueHeaders") or {}).items():
                    headers[name] = ", ".join(str(v) for v in values)
                raw = result.get("body") or ""
                data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
                self.send_response(int(result.get("statusCode", 200)))
                for cookie in result.get("cookies") or []:
                    self.send_header("Set-Cookie", cookie)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _local(self, path: str, body: bytes) -> None:
                if path == "/_local/health":
                    self._json(200, {"status": "ok", "url": system.url, "sandbox_url": system.sandbox.url})
                    return
                if path == "/_local/drain" and self.command == "POST":
                    drained = system.drain()
                    self._json(200 if drained else 504, {"drained": drained})
                    return
                prefix = "/_local/invoke/"
                if not path.startswith(prefix) or self.command != "POST":
                    self._json(404, {"message": "Not Found"})
                    return
                function_id = path.removeprefix(prefix)
                if function_id not in system.invokers:
                    self._json(404, {"message": f"no function {function_id} in template.yaml"})
                    return
                try:
                    event = json.loads(body or b"{}")
                except ValueError:
                    self._json(400, {"message": "the event must be JSON"})
                    return
                try:
                    result = system.invokers[function_id].invoke(event)
                except Exception as exc:
                    traceback.print_exc()
                    self._json(500, {"errorType": type(exc).__name__, "errorMessage": str(exc)})
                    return
                # What the invocation queued (settle's fan-out) is done when the caller reads on.
                drained = system.drain()
                self._answer(
                    200,
                    {"Content-Type": "application/json", "X-Paylink-Queues-Drained": str(drained).lower()},
                    json.dumps(result).encode(),
                )

            def __getattr__(self, name: str) -> Any:
                # Every method (GET, POST, ... and TRACE, QUERY) goes to the template's routes, as
                # API Gateway routes it: one no route takes is a 404, where http.server says 501.
                if name.startswith("do_"):
                    return self._dispatch
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                sys.stderr.write(
                    f"[front] {self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}\n"  # noqa: E501
                )

        return Front

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.sandbox.stop()
        self.moto.stop()


def main() -> None:
    system = LocalSystem(
        port=int(os.environ.get("PAYLINK_PORT", "3000")),
        sandbox_port=int(os.environ.get("PAYLINK_SANDBOX_PORT", "3001")),
        moto_port=int(os.environ["PAYLINK_MOTO_PORT"]) if os.environ.get("PAYLINK_MOTO_PORT") else None,
        demo_api_key=os.environ.get("PAYLINK_DEMO_API_KEY") or None,
    )
    system.start()
    payout = os.environ.get("PAYLINK_PAYOUT_PROVIDER", "jibit")
    print(
        f"""
paylink is running locally (Ctrl-C stops it).

  Open a demo link:     {system.demo_link_url}
  Demo personal page:   {system.url}/u/demo   (QR: {system.url}/u/demo/qr.svg)
  API base URL:         {system.url}
  Demo merchant:        demo (personal account)
  API key:              {system.demo_api_key}
  Sandbox gateways:     {system.sandbox.url}  a=Zibal b=PayPing c=Zarinpal d=SEP, tried in that order
                        (GET / lists them; POST /a/mode {{"mode": "down"}} switches one)
  Sandbox payouts:      {system.sandbox.url}/p  Jibit's Transferor (payout provider: {payout})
                        (GET /p/calls lists its calls; modes: transfer_fails, bank_error, ...)
  Sandbox SMS:          {system.sandbox.url}/sms  Kavenegar (GET /sms/calls: every text and code sent)
  Sandbox inquiries:    {system.sandbox.url}/inq  Zibal's facility API (modes: shahkar_mismatch, ...)
  Telegram bot:         {system.sandbox.url}/tg  the Bot API sandbox (GET /tg/calls: the bot's replies)
                        webhook {system.bot_webhook or "not registered"}
  DynamoDB, SQS (moto): http://{system.host}:{system.moto_port}
  Queues:               {", ".join(k for k in system.queues if "." not in k) or "none"}

Merchant panel (sign up or sign in with any Iranian mobile, e.g. 09121234567):
  Sign in:              {system.url}/login   (English: {system.url}/login?lang=en)
  The SMS code:         {system.sandbox.url}/sms/calls   (the last call's body.token)
  Sign-up checks pass in the sandbox: any valid national code, IBAN and Jalali birth date

Create a link:
  curl -s {system.url}/v1/links -H 'Authorization: Bearer {system.demo_api_key}' \\
       -H 'Content-Type: application/json' -d '{{"title": "Scarf", "amount": 1200000}}'
Settle a day by hand:   make settle DATE=YYYY-MM-DD
""",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping…", flush=True)
        system.stop()


if __name__ == "__main__":
    main()
