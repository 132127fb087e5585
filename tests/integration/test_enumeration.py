"""Link codes, payment ids and usernames cannot be told apart by probing: every missing one,
whatever its shape, answers the very same 404 (the rate of probes is API Gateway's throttling,
tests/unit/test_template_throttling.py)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import Answer, ApiClient

BUYER = {"name": "Ali", "phone": "09121234567"}
SHAPES = {
    "code": ["nosuchcode00", "Zz9Zz9Zz9Zz9", "a", "x" * 40, "abc-def_123", "%E2%98%83"],
    "payment_id": ["pay_" + "Z" * 22, "pay_x", "pay_" + "0" * 40, "whatever", "%E2%98%83"],
    "username": ["nosuchuser", "x", "a" * 31, "UPPER", "%E2%98%83"],
    "gateway": ["nosuchgateway", "x", "a" * 41, "%E2%98%83"],
}
PROBES = [
    ("GET", "/{code}"),
    ("POST", "/{code}"),
    ("GET", "/{code}/qr.svg"),
    ("GET", "/{code}/qr.png"),
    ("GET", "/r/{payment_id}"),
    ("GET", "/u/{username}"),
    ("POST", "/u/{username}"),
    ("GET", "/callback/{gateway}"),
    ("POST", "/callback/{gateway}"),
]


def _ask(api: ApiClient, method: str, target: str) -> Answer:
    return api.post_form(target, BUYER) if method == "POST" else api.get(target)


def _look(answer: Answer) -> tuple[int, str | None, bytes]:
    """What a prober sees; a per-response nonce (Content-Security-Policy) tells nothing."""
    return answer.status, answer.headers.get("Content-Type"), re.sub(rb'nonce="[^"]*"', b"", answer.body)


@pytest.mark.parametrize(("method", "path"), PROBES)
def test_every_missing_one_answers_the_same_404(api, merchant, gateways, method, path):
    # Given a merchant with a link (so that the table is not empty)
    from tests.conftest import TEST_API_KEY

    api.post_json("/v1/links", {"title": "Scarf", "amount": 1_200_000}, key=TEST_API_KEY)
    name = re.search(r"\{(\w+)\}", path).group(1)  # type: ignore[union-attr]
    # When a prober tries missing values of every shape
    looks = {value: _look(_ask(api, method, path.format(**{name: value}))) for value in SHAPES[name]}
    # Then each is a 404, and all are the same answer: none tells a near miss from a wild guess
    assert {look[0] for look in looks.values()} == {404}, looks
    assert len(set(looks.values())) == 1, looks
