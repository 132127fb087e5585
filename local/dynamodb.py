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


def _patch_transactions() -> None:
    """Make moto's TransactWriteItems cost what DynamoDB's does: O(items), not O(table).

    moto 5 deep-copies every table a transaction touches, once per item, so that it can roll back
    on failure; a settlement run over a large table then takes minutes. Here the rollback keeps
    only the items the transaction touches: each is saved before the transaction and put back
    (or deleted again) if it fails. moto's own table copy is skipped by handing back the live
    table, which its rollback then reassigns to itself.
    """
    import copy

    import moto.dynamodb.models as backend

    if getattr(backend.DynamoDBBackend.transact_write_items, "_paylink_patched", False):
        return

    class _CopyWithoutTables:
        """Stands in for the `copy` module inside moto's DynamoDB backend."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, backend.Table):
                return value
            return copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    original = backend.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for item in transact_items[:100]:
            _, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op.get("Key")
            if not key:
                continue
            try:
                current = self.get_item(op["TableName"], key)
            except Exception:  # noqa: S112 - an invalid key: moto's own validation answers it
                continue
            saved.append(
                (op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
            )
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(saved):
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise

    transact_write_items._paylink_patched = True  # type: ignore[attr-defined]
    setattr(backend, "copy", _CopyWithoutTables())  # noqa: B010 - replaces a module for moto's code only
    backend.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_patch_transactions()
