"""Compile the buyer pages' templates to Python modules, for the layer build.

    python -m paylink.web.pages.compile DEST     # DEST: the built layer's paylink/web/pages/compiled

Each template becomes a module Jinja's ModuleLoader imports (paylink.web.pages.environment uses it
when the folder exists); each module is byte-compiled too, with unchecked-hash pycs, because a
Lambda layer is read-only: without a pyc the runtime would compile the source at every cold start.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path

import jinja2

from paylink.web.pages import TEMPLATES_DIR, make_environment


def compile_pages(target: Path) -> list[str]:
    """Write every template of TEMPLATES_DIR to `target` as a module; returns the names compiled."""
    target.mkdir(parents=True, exist_ok=True)
    env = make_environment(jinja2.FileSystemLoader(TEMPLATES_DIR))
    names = sorted(env.list_templates())
    env.compile_templates(target, zip=None, ignore_errors=False)
    if not compileall.compile_dir(
        target, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    ):
        raise RuntimeError(f"byte-compiling {target} failed")
    return names


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    names = compile_pages(Path(argv[0]))
    print(f"compiled {len(names)} page templates into {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
