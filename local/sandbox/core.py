"""Local sandbox gateways: named instances of real gateway protocols on one HTTP port.

Each instance lives under its own path prefix `/{inst}` and speaks one protocol (a plugin in
`local/sandbox/protocols/`, interface in `protocols/base.py`): same paths, JSON and codes as
the real gateway. The core keeps state per token on a controllable clock, records every call,
renders the shared buyer page and applies the failure modes.

Control API (local only):

    GET  /                    {"instances": [{"name": "a", "mode": "ok", "protocol": "zibal",
                              "merchant": "zibal"}, ...]}; merchant: the credential (merchant id,
                              API key, terminal id) the instance accepts
    POST /{inst}/mode         {"mode": "down"} -> {"name": "a", "mode": "down"}; unknown mode: 400
    GET  /{inst}/calls        the instance's recorded calls, oldest first
    GET  /_sim/calls          every recorded call (each with "instance")
    GET  /_sim/clock          {"now": iso, "offset_seconds": N}
    POST /_sim/clock          {"advance_seconds": N} -> {"now": iso, "offset_seconds": N}
    GET|POST /{inst}/pay/{token}  the shared buyer page at a core path (any protocol)

A recorded call: {"at", "instance", "kind" (api | buyer | control | delivery), "method", "path",
"body" (JSON, form dict or text), "http_status", "result", "mode"}. Reads of the control API
(`GET /`, `/calls`, `GET /_sim/clock`) are not recorded. `delivery` is the sandbox's own
server-side return in double_return mode.

Modes (MODES; they apply to calls made after the switch):
    ok              normal
    down            API calls answer an HTML 502 page
    slow            API calls sleep slow_seconds first
    flaky           every second API call fails transiently (HTML 502 or the protocol's own code)
    decline         pay -> card declined return; verify says not paid
    cancel          pay behaves as cancel
    no_return       pay takes the money (PAID) but the buyer is never sent back
    double_return   pay: the sandbox delivers the return server-side once, then sends the browser too
    forged_return   pay sends the buyer back claiming success; nothing is paid (stays CREATED)
    verify_timeout  verify commits (VERIFIED), then holds its answer slow_seconds
    verify_in_progress  the first verify of each token answers "in progress, retry" (PayPing: HTTP
                    202); no commit
    amount_mismatch pay charges requested + 10,000 rials; verify reports it (or refuses an amount)
    token_expired   opening or paying the page expires the token; the return says so
A protocol may add modes of its own (`GatewaySim.modes`), e.g. the payout protocol `jibit`'s.

Run standalone: `python -m local.sandbox --port 3001 --instances a=zibal,b=zibal`.
"""

from __future__ import annotations

import html
import importlib
import json
import os
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from local.sandbox.protocols.base import (
    CANCELLED,
    CREATED,
    EXPIRED,
    FAILED,
    PAID,
    REVERSED,
    VERIFIED,
    Ctx,
    GatewaySim,
    Payment,
    Response,
    ReturnOutcome,
    ReverseDecision,
    Route,
    VerifyDecision,
    html_error,
    json_response,
    multipart_fields,
    paying_card,
)

MODES = (
    "ok",
    "down",
    "slow",
    "flaky",
    "decline",
    "cancel",
    "no_return",
    "double_return",
    "forged_return",
    "verify_timeout",
    "verify_in_progress",
    "amount_mismatch",
    "token_expired",
)
DEFAULT_PROTOCOL = "zibal"
TEST_MERCHANT = "zibal"  # Zibal's published test merchant id
MISMATCH_EXTRA_IRR = 10_000  # amount_mismatch: the buyer is charged this much more
DELIVERY_TIMEOUT_SECONDS = 5.0
_INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PROTOCOL_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_EXTRA_PROTOCOLS: dict[str, type[GatewaySim]] = {}


def register_protocol(cls: type[GatewaySim]) -> type[GatewaySim]:
    """Register a plugin that does not live in local.sandbox.protocols (tests, experiments)."""
    _EXTRA_PROTOCOLS[cls.name] = cls
    return cls


def load_protocol(name: str) -> type[GatewaySim]:
    """The plugin class for protocol `name`: registered, else `local.sandbox.protocols.{name}.Sim`."""
    if name in _EXTRA_PROTOCOLS:
        return _EXTRA_PROTOCOLS[name]
    # A published protocol id may have a hyphen (DESIGN section 7: "zibal-inquiry"); its module
    # has an underscore. Only one hyphen form per module: "zibal_inquiry" itself is refused below
    # by the Sim's name check, so each protocol has one id.
    module_name = name.replace("-", "_")
    if not _PROTOCOL_RE.match(module_name) or module_name == "base":
        raise ValueError(f"unknown sandbox protocol {name!r}")
    try:
        module = importlib.import_module(f"local.sandbox.protocols.{module_name}")
    except ModuleNotFoundError:
        raise ValueError(f"unknown sandbox protocol {name!r}") from None
    cls = getattr(module, "Sim", None)
    if not (isinstance(cls, type) and issubclass(cls, GatewaySim)) or cls.name != name:
        raise ValueError(
            f"local.sandbox.protocols.{module_name} must define Sim, a GatewaySim named {name!r}"
        )
    return cls


@dataclass
class Instance:
    name: str
    protocol: str
    sim: GatewaySim
    routes: list[tuple[Route, re.Pattern[str]]]
    mode: str = "ok"
    api_calls_in_mode: int = 0


class Sandbox:
    """The sandbox server. `start()` serves in a background thread; `stop()` shuts it down.

    `instances`: names (each speaks "zibal") or a mapping name -> protocol id.
    """

    def __init__(
        self,
        instances: Sequence[str] | Mapping[str, str] = ("a", "b"),
        host: str = "127.0.0.1",
        port: int = 3001,
        slow_seconds: float = 8.0,
        merchant: str = TEST_MERCHANT,
    ) -> None:
        if isinstance(instances, str):
            raise TypeError("instances must be a sequence of names or a mapping name -> protocol")
        pairs = (
            list(instances.items())
            if isinstance(instances, Mapping)
            else [(name, DEFAULT_PROTOCOL) for name in instances]
        )
        if not pairs:
            raise ValueError("at least one instance is needed")
        self.host = host
        self.port = port
        self.slow_seconds = slow_seconds
        self.merchant = merchant
        self._lock = threading.RLock()
        sims: dict[str, GatewaySim] = {}
        self._instances: dict[str, Instance] = {}
        for name, protocol in pairs:
            if not isinstance(name, str) or not _INSTANCE_RE.match(name):
                raise ValueError(f"instance name {name!r} must be a-z, 0-9, '-' or '_'")
            if name in self._instances:
                raise ValueError(f"duplicate instance name {name!r}")
            if protocol not in sims:
                sims[protocol] = load_protocol(protocol)()
            sim = sims[protocol]
            routes = [(route, re.compile(route.pattern)) for route in sim.routes()]
            self._instances[name] = Instance(name, protocol, sim, routes)
        self._payments: dict[tuple[str, str], Payment] = {}
        self._calls: list[dict[str, Any]] = []
        self._seq = 300_000_000 + secrets.randbelow(100_000_000)
        self._clock_offset = timedelta(0)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.sandbox = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in slow / verify_timeout mode
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control (in process) -----------------------------------------------------------------
    def instances(self) -> list[dict[str, str]]:
        with self._lock:
            return [
                {
                    "name": i.name,
                    "mode": i.mode,
                    "protocol": i.protocol,
                    "merchant": i.sim.merchant or self.merchant,
                }
                for i in self._instances.values()
            ]

    def modes(self, instance: str) -> tuple[str, ...]:
        """The modes an instance takes: the core's, then its protocol's own (`GatewaySim.modes`)."""
        return MODES + self._instances[instance].sim.modes

    def set_mode(self, instance: str, mode: str) -> None:
        if mode not in self.modes(instance):
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(self.modes(instance))}")
        with self._lock:
            inst = self._instances[instance]
            inst.mode = mode
            inst.api_calls_in_mode = 0

    def mode(self, instance: str) -> str:
        with self._lock:
            return self._instances[instance].mode

    def protocol(self, instance: str) -> str:
        return self._instances[instance].protocol

    def calls(self, instance: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls of one instance (or all), oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls if instance is None or c["instance"] == instance]

    def has_instance(self, instance: str) -> bool:
        return instance in self._instances

    def now(self) -> datetime:
        """The sandbox clock: real UTC time plus every advance."""
        with self._lock:
            return datetime.now(UTC) + self._clock_offset

    def advance_clock(self, seconds: float) -> datetime:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError("advance_seconds must be a number >= 0")
        with self._lock:
            self._clock_offset += timedelta(seconds=seconds)
            return self.now()

    def payment(self, instance: str, token: str) -> Payment | None:
        """A copy of a payment record after the clock rules (for tests and inspection)."""
        with self._lock:
            found = self._payments.get((instance, token))
            if found is None:
                return None
            self._apply_clock(found)
            return replace(found, extra=dict(found.extra))

    # -- helpers for plugins (protocols.base.Core) ---------------------------------------------
    def new_payment(
        self,
        ctx: Ctx,
        *,
        amount_irr: int,
        order_id: str,
        callback_url: str,
        description: str = "",
        mobile: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Payment:
        with self._lock:
            self._seq += 1 + secrets.randbelow(7)
            token = ctx.sim.make_token(self._seq)
            if (ctx.instance, token) in self._payments:
                raise RuntimeError(f"{ctx.sim.name}.make_token repeated a token")
            payment = Payment(
                token=token,
                instance=ctx.instance,
                amount_irr=amount_irr,
                order_id=order_id,
                callback_url=callback_url,
                description=description,
                created_at=self.now(),
                mobile=mobile,
                extra=dict(extra or {}),
            )
            self._payments[(ctx.instance, token)] = payment
            return payment

    def lookup(self, ctx: Ctx, token: str) -> Payment | None:
        with self._lock:
            payment = self._payments.get((ctx.instance, str(token)))
            if payment is not None:
                self._apply_clock(payment)
            return payment

    def find(self, ctx: Ctx, predicate: Callable[[Payment], bool]) -> Payment | None:
        with self._lock:
            for (instance, _), payment in self._payments.items():
                if instance == ctx.instance and predicate(payment):
                    self._apply_clock(payment)
                    return payment
            return None

    def verify(self, ctx: Ctx, payment: Payment, *, amount_irr: int | None) -> VerifyDecision:
        with self._lock:
            self._apply_clock(payment)
            payment.verify_calls += 1
            if ctx.mode == "verify_in_progress" and not payment.in_progress_answered:
                payment.in_progress_answered = True
                return VerifyDecision.IN_PROGRESS
            if payment.state == PAID:
                if amount_irr is not None and amount_irr != payment.paid_amount_irr:
                    return VerifyDecision.AMOUNT_MISMATCH
                payment.state = VERIFIED
                payment.verified_at = self.now()
                if ctx.mode == "verify_timeout":
                    ctx.delay_seconds = self.slow_seconds
                return VerifyDecision.VERIFIED
            return {
                VERIFIED: VerifyDecision.ALREADY_VERIFIED,
                CREATED: VerifyDecision.WAITING,
                CANCELLED: VerifyDecision.CANCELLED,
                FAILED: VerifyDecision.FAILED,
                EXPIRED: VerifyDecision.EXPIRED,
                REVERSED: VerifyDecision.REVERSED,
            }[payment.state]

    def reverse(self, ctx: Ctx, payment: Payment) -> ReverseDecision:
        with self._lock:
            self._apply_clock(payment)
            if payment.state == REVERSED:
                return ReverseDecision.ALREADY_REVERSED
            if payment.state not in (PAID, VERIFIED) or payment.paid_at is None:
                return ReverseDecision.NOT_PAID
            window = ctx.sim.reverse_window
            if window is None or self.now() > payment.paid_at + window:
                return ReverseDecision.WINDOW_OVER
            payment.state = REVERSED
            payment.reversed_at = self.now()
            return ReverseDecision.REVERSED_NOW

    def page(self, status: int, title: str, body_html: str) -> Response:
        return Response(status, _page(title, body_html).encode(), "text/html; charset=utf-8")

    def page_not_found(self) -> Response:
        return self.page(404, "Payment not found", "<p>This payment link is not valid.</p>")

    def buyer_page(
        self, ctx: Ctx, payment: Payment, *, action_url: str, hidden: Mapping[str, str]
    ) -> Response:
        with self._lock:
            self._apply_clock(payment)
            if payment.state == CREATED and ctx.mode == "token_expired":
                payment.state = EXPIRED
            if payment.state == EXPIRED:
                title, note = "Session expired", "<p>This payment's time is over. No money was taken.</p>"
            elif payment.state == CREATED:
                title, note = "Pay", ""
            else:
                return self._closed()
            return self.page(200, title, _payment_body(ctx, payment, action_url, hidden, note))

    def buyer_submit(self, ctx: Ctx, payment: Payment, action: str | None) -> Response:
        if action not in ("pay", "cancel"):
            return self.page(400, "Bad request", "<p>Choose pay or cancel.</p>")
        with self._lock:
            self._apply_clock(payment)
            mode = ctx.mode
            if payment.state == CREATED and mode == "token_expired":
                payment.state = EXPIRED
            if payment.state == EXPIRED:
                return self._send_back(ctx, payment, "expired")
            if payment.state != CREATED:
                return self._closed()
            if action == "cancel" or mode == "cancel":
                payment.state = CANCELLED
                return self._send_back(ctx, payment, "cancelled")
            if mode == "decline":
                payment.state = FAILED
                return self._send_back(ctx, payment, "declined")
            if mode == "forged_return":
                return self._send_back(ctx, payment, "forged")
            payment.state = PAID
            payment.paid_at = self.now()
            payment.paid_amount_irr = payment.amount_irr + (
                MISMATCH_EXTRA_IRR if mode == "amount_mismatch" else 0
            )
            payment.ref_number = str(100_000_000 + secrets.randbelow(900_000_000))
            payment.card_pan = paying_card(f"{secrets.randbelow(10_000):04d}")
            payment.card_number = f"{payment.card_pan[:6]}******{payment.card_pan[-4:]}"
            if mode == "no_return":
                return self.page(200, "Payment done", "<p>Your payment is done. You may close this page.</p>")
            response = self._send_back(ctx, payment, "paid")
            if mode == "double_return":
                fields = ctx.sim.return_fields(payment, "paid")
                method, url = ctx.sim.return_method_for(payment), payment.callback_url
                response.after.append(lambda: self._deliver(ctx.instance, method, url, fields))
            return response

    # -- internals --------------------------------------------------------------------------
    def _apply_clock(self, payment: Payment) -> None:
        sim = self._instances[payment.instance].sim
        now = self.now()
        if (
            payment.state == CREATED
            and sim.token_ttl is not None
            and now > payment.created_at + sim.token_ttl
        ):
            payment.state = EXPIRED
        elif (
            payment.state == PAID
            and sim.verify_window is not None
            and payment.paid_at is not None
            and now > payment.paid_at + sim.verify_window
        ):
            payment.state = REVERSED  # automatic reversal: the money goes back to the buyer
            payment.reversed_at = payment.paid_at + sim.verify_window

    def _closed(self) -> Response:
        return self.page(409, "Payment closed", "<p>This payment is no longer open.</p>")

    def _send_back(self, ctx: Ctx, payment: Payment, outcome: ReturnOutcome) -> Response:
        fields = ctx.sim.return_fields(payment, outcome)
        if ctx.sim.return_method_for(payment) == "GET":
            location = _append_query(payment.callback_url, urlencode(fields))
            return Response(303, b"", "text/plain", {"Location": location}, result=outcome)
        inputs = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields
        )
        body = f"""<p>Returning you to the shop…</p>
<form method="post" action="{html.escape(payment.callback_url)}">
{inputs}
<div class="buttons"><button class="pay" type="submit">Return to the shop</button></div>
</form>
<script>document.forms[0].submit()</script>"""
        response = self.page(200, "Returning", body)
        response.result = outcome
        return response

    def _deliver(self, instance: str, method: str, url: str, fields: list[tuple[str, str]]) -> None:
        """double_return: the sandbox's own server-side return (no redirects followed)."""
        data = urlencode(fields)
        if not url.startswith(("http://", "https://")):
            self._record(instance, "delivery", method, url, dict(fields), None, None, self.mode(instance))
            return
        if method == "GET":
            request = urllib.request.Request(_append_query(url, data), method="GET")  # noqa: S310
        else:
            request = urllib.request.Request(  # noqa: S310
                url,
                data=data.encode(),
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        opener = urllib.request.build_opener(_NoRedirect)
        status: int | None
        try:
            with opener.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError):
            status = None
        self._record(instance, "delivery", method, url, dict(fields), status, None, self.mode(instance))

    def _record(
        self,
        instance: str | None,
        kind: str,
        method: str,
        path: str,
        body: Any,
        http_status: int | None,
        result: Any,
        mode: str | None,
    ) -> None:
        with self._lock:
            self._calls.append(
                {
                    "at": self.now().isoformat(),
                    "instance": instance,
                    "kind": kind,
                    "method": method,
                    "path": path,
                    "body": body,
                    "http_status": http_status,
                    "result": result,
                    "mode": mode,
                }
            )

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw: bytes) -> Response | None:
        """Answer one HTTP request (None: not for an instance or the control API -> 404)."""
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form: dict[str, str] = {}
        body_json: Any = None
        if content_type == "application/x-www-form-urlencoded":
            form = {
                k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()
            }
        elif raw:
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_json = None
        recorded_body: Any = (
            body_json if body_json is not None else form or (raw.decode("utf-8", "replace") if raw else None)
        )
        if content_type == "multipart/form-data":  # uploads are recorded as descriptions, not bytes
            recorded_body = multipart_fields(headers, raw)

        if path in ("", "/") and method in ("GET", "HEAD"):
            return json_response({"instances": self.instances()})
        if path == "/_sim/calls" and method == "GET":
            return json_response(self.calls())
        if path == "/_sim/clock":
            if method == "GET":
                return self._clock_answer()
            if method == "POST":
                seconds = body_json.get("advance_seconds") if isinstance(body_json, dict) else None
                try:
                    self.advance_clock(seconds)  # type: ignore[arg-type]
                except ValueError as exc:
                    answer = json_response({"error": str(exc)}, 400)
                else:
                    answer = self._clock_answer()
                self._record(None, "control", method, path, recorded_body, answer.status, None, None)
                return answer

        parts = path.split("/", 2)
        if len(parts) < 3 or parts[1] not in self._instances:
            return None
        name, rest = parts[1], "/" + parts[2]
        inst = self._instances[name]

        if rest == "/calls" and method == "GET":
            return json_response(self.calls(name))
        if rest == "/mode" and method == "POST":
            mode = body_json.get("mode") if isinstance(body_json, dict) else None
            if not isinstance(mode, str) or mode not in self.modes(name):
                answer = json_response({"error": f"mode must be one of: {', '.join(self.modes(name))}"}, 400)
            else:
                self.set_mode(name, mode)
                answer = json_response({"name": name, "mode": mode})
            self._record(name, "control", method, rest, recorded_body, answer.status, None, self.mode(name))
            return answer

        route, match = self._match(inst, method, rest)
        if route is None or match is None:
            answer = json_response({"error": "unknown path"}, 404)
            self._record(name, "api", method, rest, recorded_body, 404, None, self.mode(name))
            return answer
        with self._lock:
            mode = inst.mode
            fail = False
            if route.kind == "api":
                inst.api_calls_in_mode += 1
                fail = mode == "down" or (mode == "flaky" and inst.api_calls_in_mode % 2 == 0)
        ctx = Ctx(
            core=self,
            sim=inst.sim,
            instance=name,
            mode=mode,
            method=method,
            path=rest,
            match=match,
            query=query,
            form=form,
            json=body_json,
            headers=headers,
            raw=raw,
        )
        if route.kind == "api" and mode == "slow":
            self._stopping.wait(self.slow_seconds)
        if route.kind == "api" and fail:
            answer = html_error(502) if mode == "down" else inst.sim.transient_failure(ctx)
        else:
            with self._lock:
                answer = route.handler(ctx)
        delay = max(answer.delay_seconds, ctx.delay_seconds)
        kind = "api" if route.kind == "api" else "buyer"
        self._record(name, kind, method, rest, recorded_body, answer.status, answer.result, mode)
        for hook in answer.after:
            hook()
        if delay > 0:
            self._stopping.wait(delay)
        return answer

    def _match(self, inst: Instance, method: str, rest: str) -> tuple[Route | None, re.Match[str] | None]:
        page = re.fullmatch(r"/pay/(?P<token>[A-Za-z0-9_-]{1,64})", rest)
        if page is not None and method in ("GET", "POST"):
            return Route(method, page.re.pattern, self._core_page, kind="entry"), page
        for route, pattern in inst.routes:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                match = pattern.fullmatch(rest)
                if match is not None:
                    return route, match
        return None, None

    def _core_page(self, ctx: Ctx) -> Response:
        """GET|POST /{inst}/pay/{token}: the shared buyer page for any protocol."""
        token = ctx.match.group("token")
        payment = self.lookup(ctx, token)
        if payment is None:
            return self.page_not_found()
        if ctx.method == "POST":
            return self.buyer_submit(ctx, payment, ctx.form.get("action"))
        return self.buyer_page(ctx, payment, action_url=f"/{ctx.instance}/pay/{token}", hidden={})

    def _clock_answer(self) -> Response:
        with self._lock:
            now, offset = self.now(), self._clock_offset.total_seconds()
        return json_response({"now": now.isoformat(), "offset_seconds": offset})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _append_query(url: str, query: str) -> str:
    base, hash_mark, fragment = url.partition("#")
    if "?" not in base:
        base += "?"
    elif not base.endswith(("?", "&")):
        base += "&"
    return base + query + hash_mark + fragment


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "paylink-sandbox/1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("PAYLINK_SANDBOX_LOG"):
            super().log_message(format, *args)

    def _send(self, answer: Response) -> None:
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout in slow mode)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {key: value for key, value in self.headers.items()}
        answer = self.server.sandbox.handle(self.command, self.path, headers, raw)
        if answer is None:
            answer = json_response({"error": "unknown instance or path"}, 404)
        self._send(answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;padding:0 .75rem;background:#f3f4f6;color:#111}}
main{{max-width:26rem;margin:2rem auto;background:#fff;border-radius:.75rem;padding:1.5rem;
box-shadow:0 1px 4px rgba(0,0,0,.1)}}
h1{{font-size:1.25rem;margin:0 0 1rem}} .amount{{font-size:1.6rem;font-weight:700;margin:.25rem 0}}
.muted{{color:#555;font-size:.9rem}} .buttons{{display:flex;gap:.75rem;margin-top:1.5rem}}
button{{flex:1;font-size:1.1rem;padding:.9rem;border:0;border-radius:.5rem;cursor:pointer}}
.pay{{background:#0a7d3b;color:#fff}} .cancel{{background:#e5e7eb;color:#111}}
</style></head>
<body><main>
<h1>{html.escape(title)}</h1>
{body}
</main></body></html>
"""


def _payment_body(ctx: Ctx, payment: Payment, action_url: str, hidden: Mapping[str, str], note: str) -> str:
    amount = payment.amount_irr
    rials = f"{amount:,}"
    toman = f"{amount // 10:,}" if amount % 10 == 0 else f"{amount / 10:,.1f}"
    inputs = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in hidden.items()
    )
    return f"""<p class="muted">Sandbox gateway <b>{html.escape(ctx.instance)}</b></p>
{note}<p class="amount">{rials} rials</p>
<p class="muted">{toman} toman</p>
<p>{html.escape(payment.description)}</p>
<p class="muted">Order {html.escape(payment.order_id)} &middot; {html.escape(ctx.sim.describe(payment))}</p>
<form method="post" action="{html.escape(action_url)}">
{inputs}
<div class="buttons">
<button class="pay" type="submit" name="action" value="pay">Pay</button>
<button class="cancel" type="submit" name="action" value="cancel">Cancel</button>
</div>
</form>"""
