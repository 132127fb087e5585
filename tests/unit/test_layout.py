"""The layer package's layout (issue 12): thin handlers, one storage package, rooms of modest size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "paylink" / "paylink"
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_calls_the_domain_and_never_the_store(handler: Path) -> None:
    # Given a function's handler module, When its imports are read
    modules = _imported_modules(handler)
    # Then none of them is the storage package (or boto3 itself)
    assert not {m for m in modules if m == "paylink.store" or m.startswith(("paylink.store.", "boto3"))}


# The click path's one read (issue 18): any module of paylink.store loads the whole Store, pydantic
# included (~90 ms of a cold start), through the package's __init__, so the link page reads its
# item itself. It is the only exception, and it only reads (the next test).
CLICK = PACKAGE / "web" / "click.py"


def test_only_the_store_package_imports_boto3_for_dynamodb() -> None:
    # Given every module of the layer package outside paylink/store, When their source is read
    outside = [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts[:1]]
    # Then none of them but the click path asks boto3 for DynamoDB
    assert [p for p in outside if '"dynamodb"' in p.read_text() and p != CLICK] == []


def test_the_click_path_only_gets_one_item() -> None:
    # Given the click path's source, Then its only DynamoDB call is a GetItem: no write, query or scan
    source = CLICK.read_text()
    assert source.count(".get_item(") == 1
    calls = ("put_item", "update_item", "delete_item", "transact_", "batch_", ".query(", ".scan(")
    assert [call for call in calls if call in source] == []


def test_no_folder_holds_more_than_fifteen_modules_and_no_module_more_than_700_lines() -> None:
    # Given the layer package's folders and modules
    folders = {p.parent for p in PACKAGE.rglob("*.py")}
    # Then each folder is a room of modest size, and each module too
    assert {f: n for f in folders if (n := len(list(f.glob("*.py")))) > 15} == {}
    assert {p: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 700} == {}
