"""A moto DynamoDB server that is atomic like DynamoDB.

DynamoDB applies each request (a conditional write, a transaction) atomically. moto's in-memory
backend has no locks, so two threads can both pass the same condition; this server therefore
handles one request at a time, which is what the concurrency tests of conditional writes need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class _Serialised:
    """WSGI middleware: one request inside the wrapped application at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


class AtomicMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer whose requests are applied one at a time, as DynamoDB applies each atomically."""

    def _server_entry(self) -> None:
        app = _Serialised(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()
