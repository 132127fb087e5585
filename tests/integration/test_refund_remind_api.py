"""`POST /v1/payments/{id}/refunds/{refund_id}/remind`: a new link texted to a refund's payer, at
most 3 times; 409 when the refund does not await its payer, 429 past the limit, 404 for what is not
the merchant's; Idempotency-Key honoured."""

from __future__ import annotations

import json

import pytest

from tests.conftest import OTHER_API_KEY, TEST_API_KEY
from tests.integration.test_refunds import paid  # noqa: F401 - the fixture


@pytest.fixture
def texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The payer links texted (their tokens)."""
    from paylink.refunds import service

    sent: list[str] = []
    monkeypatch.setattr(service, "send_payer_link", lambda payment, refund, token, base: sent.append(token))
    return sent


@pytest.fixture
def awaiting(api, paid, texts):  # type: ignore[no-untyped-def]  # noqa: F811
    """A transfer refund of 300,000 rials awaiting its payer: (payment id, refund id)."""
    refund = api.post_json(f"/v1/payments/{paid}/refunds", {"amount": 300_000}, key=TEST_API_KEY).json()
    assert refund["status"] == "awaiting_payer"
    return paid, refund["id"]


def _remind(api, payment_id: str, refund_id: str, key: str = TEST_API_KEY, idem: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"authorization": f"Bearer {key}"} | ({"idempotency-key": idem} if idem else {})
    return api.request("POST", f"/v1/payments/{payment_id}/refunds/{refund_id}/remind", headers=headers)


def test_a_reminder_texts_the_payer_a_new_link_and_the_old_one_stops(api, awaiting, texts):
    payment_id, refund_id = awaiting
    first = texts[-1]
    # When the merchant reminds the payer
    answer = _remind(api, payment_id, refund_id)
    # Then 200 with the refund, a new link texted, and the old link no longer opens
    assert answer.status == 200, answer.text
    assert (answer.json()["id"], answer.json()["status"]) == (refund_id, "awaiting_payer")
    assert len(texts) == 2
    assert api.get(f"/refund/{first}").status == 404
    assert api.get(f"/refund/{texts[-1]}").status == 200


def test_the_fourth_reminder_is_a_429_and_texts_nothing(api, awaiting, texts):
    payment_id, refund_id = awaiting
    for _ in range(3):
        assert _remind(api, payment_id, refund_id).status == 200
    # When the merchant reminds a fourth time
    answer = _remind(api, payment_id, refund_id)
    # Then 429 too_many_reminders, and no more SMS
    assert answer.status == 429
    assert answer.json()["error"]["code"] == "too_many_reminders"
    assert len(texts) == 4


def test_a_refund_not_awaiting_its_payer_is_a_409(api, awaiting, store):
    from paylink.core.models import RefundStatus

    payment_id, refund_id = awaiting
    refund = store.get_refund(refund_id)
    store.move_refund(refund, (RefundStatus.AWAITING_PAYER,), RefundStatus.FAILED, completed_at="x")
    answer = _remind(api, payment_id, refund_id)
    assert answer.status == 409
    assert answer.json()["error"]["code"] == "conflict"


def test_another_merchants_refund_is_a_404_like_a_missing_one(api, awaiting, other_merchant, texts):
    payment_id, refund_id = awaiting
    theirs = _remind(api, payment_id, refund_id, key=OTHER_API_KEY)
    missing = _remind(api, payment_id, "ref_missing", key=OTHER_API_KEY)
    assert theirs.status == missing.status == 404
    assert (theirs.headers.get("Content-Type"), theirs.body) == (
        missing.headers.get("Content-Type"),
        missing.body,
    )
    assert len(texts) == 1


def test_a_refund_named_under_another_payment_is_a_404(api, awaiting):
    _, refund_id = awaiting
    assert _remind(api, "pay_other", refund_id).status == 404


def test_a_retry_with_the_same_idempotency_key_reminds_once(api, awaiting, texts, store):
    payment_id, refund_id = awaiting
    first = _remind(api, payment_id, refund_id, idem="remind-1")
    again = _remind(api, payment_id, refund_id, idem="remind-1")
    assert first.status == again.status == 200
    assert json.loads(first.text) == json.loads(again.text)
    assert store.get_refund(refund_id).reminders == 1
    assert len(texts) == 2
