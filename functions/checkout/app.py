"""Hosted link page (the click path: one read, no gateway) and the start of a payment.

A click (`GET /{code}`) is what a link's buyers wait for, cold starts included, so it is served
by paylink.web.click, which loads neither the router nor pydantic; its DynamoDB client and page
templates are made here, during init. Every other request goes through the router (routes.py),
imported on first use, and so does a click the fast path could not answer.
"""

from __future__ import annotations

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


def _router() -> Any:
    """routes.lambda_handler: a top-level module in Lambda (/var/task), in the functions.checkout
    package when the local runner and the tests load the handler."""
    import importlib

    return importlib.import_module(f"{__package__}.routes" if __package__ else "routes").lambda_handler


def _fell_back(exc: Exception) -> None:
    from paylink.core.observability import logger

    logger.warning("click served by the router", extra={"error": type(exc).__name__})
