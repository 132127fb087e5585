"""JSON from outside (merchant bodies, gateway fields): parsed with a bound on nesting.

`json.loads` raises RecursionError, not ValueError, on a document nested thousands of levels deep,
and a document just under that limit still breaks whatever walks it next (validation, hashing, a
later `json.dumps`). Nothing we accept is nested more than a few levels, so anything deeper than
MAX_DEPTH is refused as bad input, by a ValueError like any other malformed JSON.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class TooDeep(ValueError):
    """The document is nested deeper than the limit."""


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, raising TooDeep (a ValueError) on a document nested deeper than `max_depth`."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
    if _deeper_than(data, max_depth):
        raise TooDeep(f"nested deeper than {max_depth} levels")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """True when an array or object sits more than `limit` levels down (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
