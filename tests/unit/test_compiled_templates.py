"""The layer build's compiled page templates (python -m paylink.web.pages.compile) render every
page exactly as the source templates do."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pytest

from paylink.core.models import Installment, Link
from paylink.web.pages import TEMPLATES_DIR, make_environment
from paylink.web.pages.compile import compile_pages

LINK = Link(
    code="AbCdEf123456", merchant_id="mer_1", merchant_name="Scarf Shop", kind="item", title="Scarf",
    description="Hand-woven", amount=1_200_000, max_quantity=3, collect=["name", "phone", "note"],
    created_at="2026-11-23T10:00:00.000000Z",
)  # fmt: skip
INVOICE = Link(
    code="Inv123456789", merchant_id="mer_1", merchant_name="Scarf Shop", kind="invoice", title="Sofa",
    amount=3_000_000, created_at="2026-11-23T10:00:00.000000Z", paid_count=1, paid_total=1_000_000,
    installments=[
        Installment(number=1, amount=1_000_000, due_date="2026-11-20", payment_id="pay_1"),
        Installment(number=2, amount=2_000_000, due_date="2026-12-20"),
    ],
)  # fmt: skip
PAGES: list[tuple[str, dict[str, Any]]] = [
    ("link.html", {"link": LINK, "merchant_name": "Scarf Shop", "form_action": "/AbCdEf123456",
                   "values": {"name": "Ali"}, "errors": {"phone": "invalid_phone"}, "next_part": None}),
    ("link.html", {"link": INVOICE, "merchant_name": "Scarf Shop", "form_action": "/Inv123456789",
                   "next_part": INVOICE.next_installment(), "today": date(2026, 12, 1)}),
    ("error.html", {"status": 410, "reason": "sold_out", "retry_url": None}),
    ("error.html", {"status": 404, "reason": "not_found", "retry_url": "/x"}),
    ("post_redirect.html", {"url": "https://gateway.example/start", "fields": {"token": "abc"}}),
]  # fmt: skip


@pytest.fixture(autouse=True)
def no_loader_left_in_sys_modules() -> Iterator[None]:
    """Jinja's ModuleLoader puts a weakref proxy of its package into sys.modules until it is
    collected; a proxy there is unhashable and breaks hypothesis in later tests (it hashes every
    module), so none is left behind."""
    yield
    gc.collect()
    for name, module in list(sys.modules.items()):
        if isinstance(module, weakref.ProxyType):
            del sys.modules[name]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    target = tmp_path_factory.mktemp("compiled")
    return target, compile_pages(target)


def test_every_page_template_is_compiled(compiled):
    target, names = compiled
    assert names == sorted(p.name for p in TEMPLATES_DIR.glob("*.html"))
    assert len(list(target.glob("tmpl_*.py"))) == len(names)


@pytest.mark.parametrize("lang", ["fa", "en"])
@pytest.mark.parametrize(("template", "context"), PAGES)
def test_a_compiled_page_renders_as_its_source(compiled, template, context, lang):
    target, _ = compiled
    source = make_environment(jinja2.FileSystemLoader(TEMPLATES_DIR))
    built = make_environment(jinja2.ModuleLoader(target))
    common = {
        "lang": lang,
        "dir": "ltr" if lang == "en" else "rtl",
        "other_lang": "fa" if lang == "en" else "en",
    }
    expected = source.get_template(template).render(**common, **context)
    assert built.get_template(template).render(**common, **context) == expected
