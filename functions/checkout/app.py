"""Hosted link page (the click path: one read, no gateway) and the start of a payment.

A click (`GET /{code}`) is what a link's buyers wait for, cold starts included, so it is served
by paylink.web.click, which loads neither the router nor pydantic; its DynamoDB client and page
templates are made here, during init. Every other request goes through the router (routes.py),
imported on first use, and so does a click the fast path could not answer.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from paylink.web import click

click.prepare()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("routeKey") == click.ROUTE_KEY:
        try:
            return click.serve(event)
        except Exception as exc:  # answered (and logged) by the router, as any failure was before
            _fell_back(exc)
    return _router()(event, context)


@functools.cache
def _router() -> Any:
    """routes.lambda_handler, loaded from the file beside this one: Lambda imports this module as
    `app`, the tests as `functions.checkout.app`, the local runner under a name per instance."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{__name__}_routes", Path(__file__).with_name("routes.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def _fell_back(exc: Exception) -> None:
    from paylink.core.observability import logger

    logger.warning("click served by the router", extra={"error": type(exc).__name__})
