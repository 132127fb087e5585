"""Gateway configuration (PAYLINK_GATEWAYS), adapter dispatch and card masking."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink.payments.gateways import (
    ErrorKind,
    GatewayConfig,
    GatewayError,
    build_adapter,
    mask_card,
    parse_gateways,
)
from paylink.payments.gateways.zibal import ZibalAdapter

SANDBOX_A = {
    "name": "sandbox-a",
    "protocol": "zibal",
    "base_url": "http://127.0.0.1:3001/a",
    "merchant_id": "zibal",
}


# -- parse_gateways -------------------------------------------------------------------------


def test_parse_gateways_reads_a_list_in_order():
    # Given two gateways in priority order
    raw = json.dumps([SANDBOX_A, {**SANDBOX_A, "name": "sandbox-b", "base_url": "http://127.0.0.1:3001/b"}])
    # When the config is parsed
    configs = parse_gateways(raw)
    # Then both are read, in order, with the default timeout
    assert [c.name for c in configs] == ["sandbox-a", "sandbox-b"]
    assert configs[0] == GatewayConfig("sandbox-a", "zibal", "http://127.0.0.1:3001/a", "zibal", 5.0)


def test_parse_gateways_reads_a_timeout():
    # Given a gateway with its own timeout
    raw = json.dumps([{**SANDBOX_A, "timeout_seconds": 2.5}])
    # When the config is parsed
    (config,) = parse_gateways(raw)
    # Then the timeout is kept
    assert config.timeout_seconds == 2.5


def test_parse_gateways_drops_a_trailing_slash_from_base_url():
    # Given a base_url ending with '/'
    raw = json.dumps([{**SANDBOX_A, "base_url": "http://127.0.0.1:3001/a/"}])
    # When the config is parsed
    (config,) = parse_gateways(raw)
    # Then the slash is dropped
    assert config.base_url == "http://127.0.0.1:3001/a"


def test_parse_gateways_accepts_an_empty_list():
    # Given no gateways
    # When the config is parsed
    # Then the list is empty
    assert parse_gateways("[]") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"name": "a"}', "JSON list"),
        ("[1]", "JSON object"),
        (json.dumps([{k: v for k, v in SANDBOX_A.items() if k != "merchant_id"}]), "missing: merchant_id"),
        (json.dumps([{**SANDBOX_A, "secret": "x"}]), "unknown keys: secret"),
        (json.dumps([{**SANDBOX_A, "base_url": "ftp://x"}]), "base_url"),
        (json.dumps([{**SANDBOX_A, "base_url": "http://x/a?q=1"}]), "base_url"),
        (json.dumps([{**SANDBOX_A, "name": "Bad Name"}]), "name"),
        (json.dumps([{**SANDBOX_A, "merchant_id": ""}]), "merchant_id"),
        (json.dumps([{**SANDBOX_A, "timeout_seconds": 0}]), "timeout_seconds"),
        (json.dumps([{**SANDBOX_A, "timeout_seconds": "5"}]), "timeout_seconds"),
        (json.dumps([SANDBOX_A, SANDBOX_A]), "duplicate name"),
    ],
    ids=[
        "not-json",
        "not-list",
        "item-not-object",
        "missing-merchant",
        "unknown-key",
        "base-url-scheme",
        "base-url-query",
        "bad-name",
        "empty-merchant",
        "zero-timeout",
        "text-timeout",
        "duplicate",
    ],
)
def test_parse_gateways_refuses_bad_config_with_a_clear_message(raw, message):
    # Given a bad config
    # When it is parsed
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_gateways(raw)
    # Then a ValueError names the problem


def test_parse_gateways_errors_never_show_the_merchant_id():
    # Given a bad config holding a secret merchant id
    raw = json.dumps([{**SANDBOX_A, "merchant_id": "top-secret-id", "base_url": "nope"}])
    # When it is parsed
    with pytest.raises(ValueError, match="base_url") as caught:
        parse_gateways(raw)
    # Then the message leaves the merchant id out
    assert "top-secret-id" not in str(caught.value)


def test_gateway_config_repr_hides_the_merchant_id():
    # Given a config with a secret merchant id
    config = GatewayConfig("z", "zibal", "https://gateway.zibal.ir", "top-secret-id")
    # When it is shown
    # Then the merchant id is not in its repr
    assert "top-secret-id" not in repr(config)


def test_gateway_config_refuses_a_trailing_slash():
    # Given a base_url with a trailing slash given directly
    # When a config is made
    # Then it is refused
    with pytest.raises(ValueError, match="must not end with"):
        GatewayConfig("z", "zibal", "https://gateway.zibal.ir/", "zibal")


# -- build_adapter --------------------------------------------------------------------------


def test_build_adapter_dispatches_on_protocol():
    # Given a zibal config
    (config,) = parse_gateways(json.dumps([SANDBOX_A]))
    # When an adapter is built
    with httpx.Client() as client:
        adapter = build_adapter(config, client)
    # Then it is the Zibal adapter holding that config
    assert isinstance(adapter, ZibalAdapter)
    assert adapter.config is config


def test_build_adapter_refuses_an_unknown_protocol_as_config_error():
    # Given a config naming a protocol with no adapter
    config = GatewayConfig("x", "nosuchpsp", "https://x.example", "m")
    # When an adapter is built
    with httpx.Client() as client, pytest.raises(GatewayError) as caught:
        build_adapter(config, client)
    # Then it is a config error
    assert (caught.value.kind, caught.value.code) == (ErrorKind.CONFIG, "unknown_protocol")


# -- mask_card ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("6037991234567890", "603799******7890"),
        ("6037-9912-3456-7890", "603799******7890"),
        ("6037 9912 3456 7890", "603799******7890"),
        ("6037991234567890123", "603799*********0123"),
        ("603799******1234", "603799******1234"),
        ("603799XXXXXX1234", "603799******1234"),
        ("62741****44", "62741****44"),
        ("123456789012", "12******9012"),
        ("123456", "******"),
    ],
)
def test_mask_card_keeps_at_most_first_six_and_last_four(value, expected):
    # Given a card number as a gateway may report it
    # When it is masked
    # Then only the allowed digits remain
    assert mask_card(value) == expected


def _digits(text: str) -> list[str]:
    return [ch for ch in text if ch.isdigit()]


@given(st.text(alphabet=st.sampled_from("0123456789*xX -•۱٢a"), max_size=40))
def test_mask_card_never_keeps_more_than_ten_digits(value):
    # Given any text
    # When it is masked
    masked = mask_card(value)
    # Then at most 10 digits remain, and each is a digit of the input at the same place
    if masked is None:
        return
    assert len(_digits(masked)) <= 10
    compact = value.replace(" ", "").replace("-", "")
    assert len(masked) == len(compact)
    for original, shown in zip(compact, masked, strict=True):
        assert shown == "*" or shown == original


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_mask_card_never_returns_a_full_pan(pan):
    # Given a full card number
    # When it is masked
    masked = mask_card(pan)
    # Then at least six digits are hidden
    assert masked is not None
    assert masked.count("*") >= 6
