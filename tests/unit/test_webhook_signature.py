"""Webhook signatures, checked with the very helper merchants copy from the README."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from paylink.notify.webhooks import MAX_ATTEMPTS, RETRY_DELAYS, retry_delay, sign, verify_signature

README = Path(__file__).resolve().parents[2] / "README.md"
BODY = b'{"data":{"amount":1234560,"id":"pay_1"},"id":"evt_0123","type":"payment.paid"}'
CURRENT = "whsec_current"
PREVIOUS = "whsec_previous"


def readme_helper() -> Callable[[bytes, str, list[str]], bool]:
    """The `verify_paylink_signature` function of README.md's Webhooks section, as merchants get it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    source = next(block for block in blocks if "def verify_paylink_signature" in block)
    namespace: dict[str, object] = {}
    exec(source, namespace)  # noqa: S102 -- our own README, the point of the test
    return namespace["verify_paylink_signature"]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def helper() -> Callable[[bytes, str, list[str]], bool]:
    return readme_helper()


def test_readme_helper_accepts_a_paylink_signature(helper):
    # Given a body signed as the notify worker signs it
    header = sign(BODY, [CURRENT])
    # When the merchant checks it with the README's helper and his secret
    # Then it is accepted
    assert helper(BODY, header, [CURRENT])


def test_readme_helper_refuses_a_tampered_body(helper):
    # Given a signed body whose amount is changed on the way
    header = sign(BODY, [CURRENT])
    tampered = BODY.replace(b"1234560", b"9234560")
    # When it is checked / Then it is refused
    assert not helper(tampered, header, [CURRENT])


def test_readme_helper_refuses_a_stale_timestamp(helper):
    # Given a body signed 301 s ago (a replay)
    header = sign(BODY, [CURRENT], int(time.time()) - 301)
    # When it is checked with the documented 300 s tolerance / Then it is refused
    assert not helper(BODY, header, [CURRENT])


def test_readme_helper_refuses_a_signature_of_an_unknown_secret(helper):
    # Given a body signed with a secret the merchant does not hold
    header = sign(BODY, ["whsec_someone_else"])
    # When it is checked / Then it is refused
    assert not helper(BODY, header, [CURRENT])


def test_readme_helper_refuses_a_header_without_a_signature(helper):
    # Given headers that name a time but no v1, or nothing at all
    for header in (f"t={int(time.time())}", "", "v1=abc"):
        # When checked / Then refused
        assert not helper(BODY, header, [CURRENT])


def test_during_a_rotation_either_secret_verifies(helper):
    # Given a body signed during a rotation: one v1 per active secret
    header = sign(BODY, [CURRENT, PREVIOUS])
    # Then it carries two signatures, and a merchant holding either secret accepts it
    assert header.count("v1=") == 2
    assert helper(BODY, header, [CURRENT])
    assert helper(BODY, header, [PREVIOUS])
    assert not helper(BODY, header, ["whsec_other"])


def test_the_layer_verifier_agrees_with_the_readme_helper(helper):
    # Given signatures fresh, stale, of the rotation and of another secret
    now = int(time.time())
    cases = [
        (sign(BODY, [CURRENT], now), [CURRENT]),
        (sign(BODY, [CURRENT], now - 301), [CURRENT]),
        (sign(BODY, [CURRENT, PREVIOUS], now), [PREVIOUS]),
        (sign(BODY, ["whsec_other"], now), [CURRENT]),
    ]
    # Then paylink.notify.webhooks.verify_signature answers exactly as the README's helper
    for header, secrets in cases:
        assert verify_signature(BODY, header, secrets) == helper(BODY, header, secrets)


def test_a_signature_is_hmac_sha256_of_time_dot_body():
    # Given a fixed time and secret
    import hashlib
    import hmac

    # When a body is signed
    header = sign(BODY, [CURRENT], 1_700_000_000)
    # Then v1 is the hex HMAC-SHA256 of "t." + body, as documented
    expected = hmac.new(CURRENT.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify_signature(BODY, header, [CURRENT], now=1_700_000_100)
    assert not verify_signature(BODY, header, [CURRENT], now=1_700_000_301)


def test_the_retry_schedule_is_five_tries_backing_off_within_three_days():
    # Given the documented schedule
    # Then the waits grow 15 min, 2 h, 12 h, 48 h: five tries in all
    assert RETRY_DELAYS == (900, 7_200, 43_200, 172_800)
    assert MAX_ATTEMPTS == 5
    # and the last try comes within 72 h of the first; after it there is none
    assert sum(RETRY_DELAYS) < 72 * 3600
    assert [retry_delay(n) for n in range(1, MAX_ATTEMPTS + 1)] == [*RETRY_DELAYS, None]
    # and the scale knob divides the delays (local runs, tests)
    assert retry_delay(1, scale=60) == 15


MALFORMED_HEADERS = [
    "t=\u00b2,v1=abc",  # a superscript two: str.isdigit() says yes, int() raises
    "t=\u0662\u0660,v1=abc",  # Arabic-Indic digits
    "t=-5,v1=abc",
    "t=1e9,v1=abc",
    "t=99999999999999999999999999,v1=abc",
    "t=,v1=",
    "v1=abc",
    "t=1700000000",
    "=,=,,",
    "\x00",
    "",
    "t=1700000000,v1=\u00e9\u00e9",
]


@pytest.mark.parametrize("header", MALFORMED_HEADERS, ids=repr)
def test_readme_helper_answers_false_on_a_malformed_header(helper, header):
    # When a receiver checks a body with a malformed Paylink-Signature header
    # Then the README's helper answers False (it never raises)
    assert helper(BODY, header, [CURRENT]) is False


@pytest.mark.parametrize("header", MALFORMED_HEADERS, ids=repr)
def test_verify_signature_answers_false_on_a_malformed_header(header):
    assert verify_signature(BODY, header, [CURRENT]) is False


def test_a_fresh_header_with_a_non_ascii_signature_is_refused_not_raised(helper):
    # Given a fresh timestamp and a v1 that is not hex (hmac.compare_digest raises on non-ASCII text)
    header = f"t={int(time.time())},v1=\u00e9\u00e9"
    # When it is checked / Then both helpers answer False
    assert helper(BODY, header, [CURRENT]) is False
    assert verify_signature(BODY, header, [CURRENT]) is False
