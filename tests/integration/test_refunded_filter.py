"""`GET /v1/payments?status=refunded` lists the fully refunded payments (DESIGN section 9: a paid or
settled payment shows `refunded` once its refunds reach its amount), in JSON and CSV, and `paid`
no longer lists them. A filter on the merchant's payments index (a Query), never a Scan."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import TEST_API_KEY
from tests.integration.test_refunds import AMOUNT, _pay


@pytest.fixture
def three(api, merchant, gateways, monkeypatch):  # type: ignore[no-untyped-def]
    """Three paid payments of one link: one refunded whole, one in part, one not: (link, ids)."""
    from paylink.refunds import service

    monkeypatch.setattr(service, "send_payer_link", lambda *args: True)
    link = api.post_json("/v1/links", {"title": "Scarf", "amount": AMOUNT}, key=TEST_API_KEY).json()
    ids = [_pay(api, link["code"]) for _ in range(3)]
    whole, part, _ = ids
    assert api.post_json(f"/v1/payments/{whole}/refunds", {}, key=TEST_API_KEY).status == 201
    assert api.post_json(f"/v1/payments/{part}/refunds", {"amount": 1_000}, key=TEST_API_KEY).status == 201
    return link["code"], ids


def _ids(api, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    answer = api.get(f"/v1/payments?{query}", key=TEST_API_KEY)
    assert answer.status == 200, answer.text
    return [p["id"] for p in answer.json()["items"]]


def test_status_refunded_lists_only_the_fully_refunded_payment(api, three):
    _, (whole, _, _) = three
    assert _ids(api, "status=refunded") == [whole]


def test_status_paid_no_longer_lists_a_fully_refunded_payment(api, three):
    _, (_, part, untouched) = three
    assert sorted(_ids(api, "status=paid")) == sorted([part, untouched])


def test_the_link_filter_agrees(api, three):
    code, (whole, _, _) = three
    assert _ids(api, f"status=refunded&link={code}") == [whole]


def test_the_csv_lists_it_as_refunded(api, three):
    _, (whole, _, _) = three
    answer = api.get("/v1/payments?status=refunded&format=csv", key=TEST_API_KEY)
    assert answer.status == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [(r["id"], r["status"]) for r in rows] == [(whole, "refunded")]
