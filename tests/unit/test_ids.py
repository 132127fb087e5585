"""paylink.core.ids: unguessable codes and ids, hashed API keys, deterministic settlement ids."""

from __future__ import annotations

import math
import re

import pytest

from paylink.core.ids import (
    BASE62,
    hash_api_key,
    new_api_key,
    new_link_code,
    new_merchant_id,
    new_payment_id,
    settlement_id,
)

BASE62_RE = re.compile(r"^[0-9A-Za-z]+$")


def test_base62_alphabet_has_62_distinct_characters():
    # Given the alphabet codes are drawn from
    # Then it is exactly digits and ASCII letters, no duplicates
    assert len(BASE62) == 62
    assert len(set(BASE62)) == 62
    assert BASE62_RE.fullmatch(BASE62)


def test_link_code_is_12_base62_characters():
    # Given a fresh link code
    code = new_link_code()
    # Then it is 12 characters of base62
    assert len(code) == 12
    assert BASE62_RE.fullmatch(code)


def test_link_code_space_is_above_64_bits():
    # Given 12 base62 characters
    # Then the number of possible codes exceeds 2**64
    assert len(new_link_code()) == 12
    assert 62**12 > 2**64


def test_link_codes_are_unique_over_10000_draws():
    # Given 10,000 fresh codes
    codes = [new_link_code() for _ in range(10_000)]
    # Then none repeats
    assert len(set(codes)) == len(codes)


def test_link_codes_use_the_whole_alphabet():
    # Given many codes (120,000 characters)
    chars = set("".join(new_link_code() for _ in range(10_000)))
    # Then every base62 character appears: draws are not restricted to a subset
    assert chars == set(BASE62)


def test_payment_id_is_prefixed_pay_and_carries_at_least_128_bits():
    # Given a fresh payment id
    payment_id = new_payment_id()
    # Then it is `pay_` + base62 whose space is >= 2**128
    assert payment_id.startswith("pay_")
    body = payment_id.removeprefix("pay_")
    assert BASE62_RE.fullmatch(body)
    assert len(body) * math.log2(62) >= 128


def test_payment_ids_are_unique():
    # Given 10,000 payment ids
    ids = {new_payment_id() for _ in range(10_000)}
    # Then none repeats
    assert len(ids) == 10_000


def test_merchant_id_is_prefixed_mer():
    # Given a fresh merchant id
    merchant_id = new_merchant_id()
    # Then it is `mer_` + 16 base62 characters
    assert re.fullmatch(r"mer_[0-9A-Za-z]{16}", merchant_id)


def test_api_keys_are_random_and_long():
    # Given two fresh API keys
    first, second = new_api_key(), new_api_key()
    # Then they differ, are prefixed, and carry at least 256 bits (32 bytes urlsafe -> 43 chars)
    assert first != second
    assert first.startswith("plk_")
    assert len(first.removeprefix("plk_")) >= 43


def test_hash_api_key_is_deterministic_sha256_hex():
    # Given a key
    key = new_api_key()
    # When it is hashed twice
    first, second = hash_api_key(key), hash_api_key(key)
    # Then both hashes are the same 64 lowercase hex characters
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_hash_api_key_matches_known_sha256():
    # Given the well-known SHA-256 of "abc"
    # Then the hash is exactly it
    assert hash_api_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash_api_key_does_not_contain_the_key():
    # Given a key
    key = new_api_key()
    # When hashed
    digest = hash_api_key(key)
    # Then neither the key nor its random body appears in the stored hash
    assert key not in digest
    assert key.removeprefix("plk_") not in digest


def test_different_keys_have_different_hashes():
    # Given two keys
    # Then their hashes differ
    assert hash_api_key(new_api_key()) != hash_api_key(new_api_key())


def test_settlement_id_is_deterministic_per_merchant_and_day():
    # Given the same merchant and day twice
    # When ids are made
    # Then they are equal
    assert settlement_id("mer_abc", "2026-11-23") == settlement_id("mer_abc", "2026-11-23")


def test_settlement_id_differs_across_days():
    # Given one merchant on two days
    # Then the ids differ
    assert settlement_id("mer_abc", "2026-11-23") != settlement_id("mer_abc", "2026-11-24")


def test_settlement_id_differs_across_merchants():
    # Given two merchants on one day
    # Then the ids differ
    assert settlement_id("mer_abc", "2026-11-23") != settlement_id("mer_abd", "2026-11-23")


def test_settlement_id_names_day_and_merchant():
    # Given a merchant and a day
    # Then the id is readable: stl_<yyyymmdd>_<merchant without prefix>
    assert settlement_id("mer_abc", "2026-11-23") == "stl_20261123_abc"


# ---- randomness: from `secrets`, enough of it --------------------------------------------------


class _CountingChoice:
    """Wraps `secrets.choice`: counts the draws and the alphabet each was made from."""

    def __init__(self) -> None:
        import secrets

        self._choice = secrets.choice
        self.alphabets: list[str] = []

    def __call__(self, alphabet: str) -> str:
        self.alphabets.append(alphabet)
        return self._choice(alphabet)

    @property
    def bits(self) -> float:
        return sum(math.log2(len(set(alphabet))) for alphabet in self.alphabets)


@pytest.mark.parametrize(("make", "at_least"), [(new_link_code, 64), (new_payment_id, 122)])
def test_codes_and_payment_ids_carry_enough_bits_drawn_from_secrets(monkeypatch, make, at_least):
    # Given secrets.choice watched
    import paylink.core.ids

    counting = _CountingChoice()
    monkeypatch.setattr(paylink.core.ids.secrets, "choice", counting)
    # When a code (or a payment id) is made
    made = make()
    # Then each of its random characters was one draw from secrets over the 62 characters,
    # and those draws carry at least the bits asked for (64 for a code, 122 as a UUID4 for an id)
    assert len(counting.alphabets) == len(made.removeprefix("pay_"))
    assert {frozenset(a) for a in counting.alphabets} == {frozenset(BASE62)}
    assert counting.bits >= at_least


@pytest.mark.parametrize("make", [new_link_code, new_payment_id])
def test_codes_and_payment_ids_do_not_follow_the_random_module(monkeypatch, make):
    # Given the `random` module seeded the same way twice, and made to fail if used at all
    import random

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("random is not a source of identifiers")

    for name in ("choice", "choices", "randint", "randrange", "random", "getrandbits", "sample"):
        monkeypatch.setattr(random, name, refuse)
    # When two are made
    # Then they are made without it, and differ
    assert make() != make()


def test_ids_module_does_not_import_random():
    # Given the module's source
    import inspect

    import paylink.core.ids

    source = inspect.getsource(paylink.core.ids)
    # Then no identifier can come from the predictable `random` module
    assert not re.search(r"^\s*(import random|from random import)", source, re.MULTILINE)
