"""Local sandbox gateways: several named instances of a Zibal-protocol IPG on one HTTP port.

Each instance lives under its own path prefix and speaks Zibal's protocol (GATEWAYS.md 1.4):

    POST /{inst}/v1/request   {merchant, amount, callbackUrl, description, orderId, mobile?}
    GET  /{inst}/start/{trackId}        the buyer's page: one POST form, action=pay|cancel
    POST /{inst}/start/{trackId}        303 to callbackUrl?success=..&trackId=..&orderId=..&status=..
    POST /{inst}/v1/verify    {merchant, trackId}   100, then 201; 202 unpaid; 203 unknown
    POST /{inst}/v1/inquiry   {merchant, trackId}

Control API (local only):

    GET  /                    {"instances": [{"name": "a", "mode": "ok"}, ...]}
    POST /{inst}/mode         {"mode": "down"} -> {"name": "a", "mode": "down"}
    GET  /{inst}/calls        the recorded API calls: [{"path", "body", "result", "http_status", "mode"}]

Modes (they apply to API calls made after the switch): ok; down (HTML 502 page); slow (answers
after `slow_seconds`); flaky (every second API call answers HTML 502); decline (the pay button
returns a card decline, status 5, and verify answers 202); cancel (the pay button cancels).

Run standalone: `python -m local.sandbox --port 3001`.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MODES = ("ok", "down", "slow", "flaky", "decline", "cancel")
API_PATHS = ("/v1/request", "/v1/verify", "/v1/inquiry")
TEST_MERCHANT = "zibal"  # Zibal's published test merchant id
MIN_AMOUNT = 1_000
DECLINE_STATUS = 5  # "insufficient funds": a card decline
_TEHRAN = timezone(timedelta(hours=3, minutes=30))
_INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

# Zibal `status` of a payment.
STATUS_WAITING = -1
STATUS_VERIFIED = 1
STATUS_PAID = 2
STATUS_CANCELLED = 3


@dataclass
class Payment:
    track_id: int
    instance: str
    amount: int
    order_id: str
    callback_url: str
    description: str
    state: str = "CREATED"  # CREATED -> PAID -> VERIFIED | CANCELLED | FAILED
    status: int = STATUS_WAITING
    ref_number: int | None = None
    card_number: str | None = None
    paid_at: str | None = None
    created_at: str = ""
    verified_at: str | None = None


@dataclass
class Instance:
    name: str
    mode: str = "ok"
    api_calls_in_mode: int = 0


def _now_tehran() -> str:
    # Zibal's samples show Tehran local time without an offset, e.g. 2018-03-25T23:43:01.053000.
    return datetime.now(UTC).astimezone(_TEHRAN).replace(tzinfo=None).isoformat(timespec="microseconds")


class Sandbox:
    """The sandbox server. `start()` serves in a background thread; `stop()` shuts it down."""

    def __init__(
        self,
        instances: Sequence[str] = ("a", "b"),
        host: str = "127.0.0.1",
        port: int = 3001,
        slow_seconds: float = 8.0,
        merchant: str = TEST_MERCHANT,
    ) -> None:
        if not instances:
            raise ValueError("at least one instance is needed")
        for name in instances:
            if not _INSTANCE_RE.match(name):
                raise ValueError(f"instance name {name!r} must be a-z, 0-9, '-' or '_'")
        self.host = host
        self.port = port
        self.slow_seconds = slow_seconds
        self.merchant = merchant
        self._lock = threading.Lock()
        self._instances = {name: Instance(name) for name in instances}
        self._payments: dict[int, Payment] = {}
        self._calls: dict[str, list[dict[str, Any]]] = {name: [] for name in instances}
        self._next_track_id = 300_000_000 + secrets.randbelow(100_000_000)
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
        self._stopping.set()  # wakes handlers sleeping in slow mode
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

    # -- control ----------------------------------------------------------------------------
    def instances(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"name": i.name, "mode": i.mode} for i in self._instances.values()]

    def set_mode(self, instance: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        with self._lock:
            inst = self._instances[instance]
            inst.mode = mode
            inst.api_calls_in_mode = 0

    def mode(self, instance: str) -> str:
        with self._lock:
            return self._instances[instance].mode

    def calls(self, instance: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(call) for call in self._calls[instance]]

    def has_instance(self, instance: str) -> bool:
        return instance in self._instances

    # -- API calls --------------------------------------------------------------------------
    def api_call(self, instance: str, path: str, body: Any) -> tuple[int, Any]:
        """Answer one API call: (HTTP status, JSON object) or (502, None) for an HTML 502."""
        with self._lock:
            inst = self._instances[instance]
            inst.api_calls_in_mode += 1
            mode = inst.mode
            fail = mode == "down" or (mode == "flaky" and inst.api_calls_in_mode % 2 == 0)
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)
        if fail:
            http_status, answer = 502, None
        elif not isinstance(body, dict):
            http_status, answer = 400, {"result": -1, "message": "body must be a JSON object"}
        else:
            with self._lock:
                handler = {
                    "/v1/request": self._request,
                    "/v1/verify": self._verify,
                    "/v1/inquiry": self._inquiry,
                }[path]
                http_status, answer = 200, handler(instance, body)
        with self._lock:
            self._calls[instance].append(
                {
                    "path": path,
                    "body": body,
                    "result": answer.get("result") if answer else None,
                    "http_status": http_status,
                    "mode": mode,
                }
            )
        return http_status, answer

    def _request(self, instance: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("merchant") != self.merchant:
            return {"result": 102, "message": "merchant not found"}
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < MIN_AMOUNT:
            return {"result": 105, "message": "amount must be at least 1,000 rials"}
        callback_url = body.get("callbackUrl")
        if not isinstance(callback_url, str) or not re.match(r"^https?://\S+$", callback_url):
            return {"result": 106, "message": "callbackUrl is invalid"}
        self._next_track_id += 1 + secrets.randbelow(7)
        track_id = self._next_track_id
        self._payments[track_id] = Payment(
            track_id=track_id,
            instance=instance,
            amount=amount,
            order_id=str(body.get("orderId") or ""),
            callback_url=callback_url,
            description=str(body.get("description") or ""),
            created_at=_now_tehran(),
        )
        return {"result": 100, "trackId": track_id, "message": "success"}

    def _lookup(self, instance: str, body: dict[str, Any]) -> Payment | dict[str, Any]:
        if body.get("merchant") != self.merchant:
            return {"result": 102, "message": "merchant not found"}
        raw = body.get("trackId")
        track_id = -1
        if isinstance(raw, int) and not isinstance(raw, bool):
            track_id = raw
        elif isinstance(raw, str) and raw.strip().isdigit():
            track_id = int(raw.strip())
        payment = self._payments.get(track_id)
        if payment is None or payment.instance != instance:
            return {"result": 203, "message": "trackId is invalid"}
        return payment

    def _details(self, payment: Payment) -> dict[str, Any]:
        return {
            "paidAt": payment.paid_at,
            "cardNumber": payment.card_number,
            "status": payment.status,
            "amount": payment.amount,
            "refNumber": payment.ref_number,
            "description": payment.description,
            "orderId": payment.order_id,
        }

    def _verify(self, instance: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self._lookup(instance, body)
        if not isinstance(found, Payment):
            return found
        payment = found
        if payment.state == "PAID":
            payment.state = "VERIFIED"
            payment.status = STATUS_VERIFIED
            payment.verified_at = _now_tehran()
            return {"result": 100, "message": "success", **self._details(payment)}
        if payment.state == "VERIFIED":
            return {"result": 201, "message": "previously verified", **self._details(payment)}
        return {"result": 202, "message": "order not paid or failed", "status": payment.status}

    def _inquiry(self, instance: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self._lookup(instance, body)
        if not isinstance(found, Payment):
            return found
        return {
            "result": 100,
            "message": "success",
            **self._details(found),
            "createdAt": found.created_at,
            "verifiedAt": found.verified_at,
            "wage": 0,
        }

    # -- buyer page -------------------------------------------------------------------------
    def payment_for_page(self, instance: str, track_id: str) -> Payment | None:
        with self._lock:
            payment = self._payments.get(int(track_id)) if track_id.isdigit() else None
            if payment is None or payment.instance != instance:
                return None
            return Payment(**payment.__dict__)

    def buyer_action(self, instance: str, track_id: str, action: str) -> str | None:
        """Apply pay/cancel; the Location to send the browser to, or None if not payable."""
        with self._lock:
            payment = self._payments.get(int(track_id)) if track_id.isdigit() else None
            if payment is None or payment.instance != instance or payment.state != "CREATED":
                return None
            mode = self._instances[instance].mode
            if action == "pay" and mode == "decline":
                payment.state, payment.status = "FAILED", DECLINE_STATUS
            elif action == "pay" and mode != "cancel":
                payment.state, payment.status = "PAID", STATUS_PAID
                payment.ref_number = 100_000_000 + secrets.randbelow(900_000_000)
                payment.card_number = f"603799******{secrets.randbelow(10_000):04d}"
                payment.paid_at = _now_tehran()
            else:
                payment.state, payment.status = "CANCELLED", STATUS_CANCELLED
            success = "1" if payment.state == "PAID" else "0"
            query = urlencode(
                [
                    ("success", success),
                    ("trackId", str(payment.track_id)),
                    ("orderId", payment.order_id),
                    ("status", str(payment.status)),
                ]
            )
            return _append_query(payment.callback_url, query)


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


_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "paylink-sandbox/1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("PAYLINK_SANDBOX_LOG"):
            super().log_message(format, *args)

    # -- plumbing ---------------------------------------------------------------------------
    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout in slow mode)

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _html(self, status: int, page: str) -> None:
        self._send(status, page.encode(), "text/html; charset=utf-8")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self) -> tuple[str | None, str]:
        path = urlsplit(self.path).path
        parts = path.split("/", 2)
        if len(parts) < 3 or not self.server.sandbox.has_instance(parts[1]):
            return None, path
        return parts[1], "/" + parts[2]

    # -- methods ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        sandbox = self.server.sandbox
        if urlsplit(self.path).path in ("", "/"):
            self._json(200, {"instances": sandbox.instances()})
            return
        instance, rest = self._route()
        if instance is None:
            self._json(404, {"error": "unknown instance or path"})
            return
        if rest == "/calls":
            self._json(200, sandbox.calls(instance))
            return
        match = re.fullmatch(r"/start/([0-9]{1,20})(?:/direct)?", rest)
        if match:
            self._start_page(instance, match.group(1))
            return
        self._json(404, {"error": "unknown path"})

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        raw = self._read_body()
        instance, rest = self._route()
        if instance is None:
            self._json(404, {"error": "unknown instance or path"})
            return
        if rest in API_PATHS:
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            status, answer = sandbox.api_call(instance, rest, body)
            if answer is None:
                self._send(status, _BAD_GATEWAY_PAGE, "text/html")
            else:
                self._json(status, answer)
            return
        if rest == "/mode":
            self._set_mode(instance, raw)
            return
        match = re.fullmatch(r"/start/([0-9]{1,20})(?:/direct)?", rest)
        if match:
            self._buyer_action(instance, match.group(1), raw)
            return
        self._json(404, {"error": "unknown path"})

    def _set_mode(self, instance: str, raw: bytes) -> None:
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            payload = None
        mode = payload.get("mode") if isinstance(payload, dict) else None
        if not isinstance(mode, str) or mode not in MODES:
            self._json(400, {"error": f"mode must be one of: {', '.join(MODES)}"})
            return
        self.server.sandbox.set_mode(instance, mode)
        self._json(200, {"name": instance, "mode": mode})

    def _start_page(self, instance: str, track_id: str) -> None:
        payment = self.server.sandbox.payment_for_page(instance, track_id)
        if payment is None:
            self._html(404, _page("Payment not found", "<p>This payment link is not valid.</p>"))
            return
        if payment.state != "CREATED":
            self._html(409, _page("Payment closed", "<p>This payment is no longer open.</p>"))
            return
        self._html(200, _payment_page(instance, payment))

    def _buyer_action(self, instance: str, track_id: str, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        action = form.get("action")
        if action not in ("pay", "cancel") or form.get("trackId") != track_id:
            self._html(400, _page("Bad request", "<p>Choose pay or cancel.</p>"))
            return
        location = self.server.sandbox.buyer_action(instance, track_id, action)
        if location is None:
            self._html(409, _page("Payment closed", "<p>This payment is no longer open.</p>"))
            return
        self._send(303, b"", "text/plain", {"Location": location})


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;background:#f3f4f6;color:#111}}
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


def _payment_page(instance: str, payment: Payment) -> str:
    rials = f"{payment.amount:,}"
    toman = f"{payment.amount // 10:,}" if payment.amount % 10 == 0 else f"{payment.amount / 10:,.1f}"
    track = str(payment.track_id)
    body = f"""<p class="muted">Sandbox gateway <b>{html.escape(instance)}</b> (Zibal protocol)</p>
<p class="amount">{rials} rials</p>
<p class="muted">{toman} toman</p>
<p>{html.escape(payment.description)}</p>
<p class="muted">Order {html.escape(payment.order_id)} &middot; track {track}</p>
<form method="post" action="/{html.escape(instance)}/start/{track}">
<input type="hidden" name="trackId" value="{track}">
<div class="buttons">
<button class="pay" type="submit" name="action" value="pay">Pay</button>
<button class="cancel" type="submit" name="action" value="cancel">Cancel</button>
</div>
</form>"""
    return _page("Pay", body)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local sandbox gateways (Zibal protocol).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYLINK_SANDBOX_PORT", "3001")))
    parser.add_argument("--instances", default="a,b", help="comma-separated instance names")
    parser.add_argument("--slow-seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.instances.split(",") if name.strip()]
    sandbox = Sandbox(names, host=args.host, port=args.port, slow_seconds=args.slow_seconds)
    sandbox.start()
    print(f"sandbox gateways on {sandbox.url}: " + ", ".join(f"{sandbox.url}/{n}" for n in names), flush=True)
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
