"""End to end over HTTP against the local runner: an Idempotency-Key replays the first answer."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e


def test_a_retried_create_with_its_key_replays_the_first_link_over_http(runner: Runner):
    key = runner.create_merchant("e2e_idem")
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-order-1"}
    link = {"title": "Wool scarf", "amount": 1_500_000}
    with httpx.Client(timeout=15) as http:
        # Given a link created with an Idempotency-Key
        first = http.post(f"{runner.url}/v1/links", json=link, headers=headers)
        assert first.status_code == 201, first.text
        # When the merchant retries it with the same key and body
        again = http.post(f"{runner.url}/v1/links", json=link, headers=headers)
        # Then the first answer comes back, marked as a replay, and the merchant has one link
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        listed = http.get(f"{runner.url}/v1/links", headers={"Authorization": f"Bearer {key}"}).json()
        assert [item["code"] for item in listed["items"]] == [first.json()["code"]]
        # And the key with another body is refused
        reused = http.post(f"{runner.url}/v1/links", json={**link, "amount": 9}, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
