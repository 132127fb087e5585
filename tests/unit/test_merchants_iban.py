"""paylink.merchants.accounts.iban_is_valid: ISO 13616 mod-97, with IR's Sheba shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink.merchants.accounts import iban_is_valid

VALID_IR = ["IR062960000000100324200001", "IR820540102680020817909002"]


def mod97(iban: str) -> int:
    """Our own ISO 13616 remainder, written independently of the code under test."""
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(ord(c) - ord("A") + 10) if c.isalpha() else c for c in rearranged)
    return int(number) % 97


def with_check_digits(country: str, bban: str) -> str:
    """A valid IBAN for `bban`: check digits = 98 - (bban + country + '00') mod 97."""
    remainder = mod97(f"{country}00{bban}")
    return f"{country}{98 - remainder:02d}{bban}"


def test_own_helper_agrees_with_published_examples():
    # Given published valid IBANs
    # Then our independent check sees remainder 1 (so the helper can be trusted to make more)
    for iban in [*VALID_IR, "GB82WEST12345698765432", "DE89370400440532013000"]:
        assert mod97(iban) == 1


@pytest.mark.parametrize("iban", VALID_IR)
def test_valid_iranian_iban_passes(iban):
    # Given a valid Sheba
    # Then it passes
    assert iban_is_valid(iban)


@pytest.mark.parametrize(
    "bban", ["0123456789012345678901", "0000000000000000000001", "9999999999999999999999"]
)
def test_generated_iranian_iban_passes(bban):
    # Given an IR IBAN with check digits computed by our own helper
    iban = with_check_digits("IR", bban)
    # Then it passes
    assert iban_is_valid(iban)


def test_one_digit_change_fails():
    # Given a valid IBAN with its last digit changed
    iban = VALID_IR[0][:-1] + "2"
    # Then it fails
    assert not iban_is_valid(iban)


def test_swapped_check_digits_fail():
    # Given a valid IBAN with its check digits swapped (06 -> 60)
    iban = "IR60" + VALID_IR[0][4:]
    # Then it fails
    assert not iban_is_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        VALID_IR[0][:-1],
        VALID_IR[0] + "0",
        with_check_digits("IR", "0" * 21),
        with_check_digits("IR", "0" * 23),
    ],
    ids=["one-short", "one-long", "generated-21-digit-bban", "generated-23-digit-bban"],
)
def test_iranian_iban_of_wrong_length_fails(iban):
    # Given an IR IBAN that is not IR + 24 digits (some even with correct check digits)
    # Then it fails
    assert not iban_is_valid(iban)


def test_iranian_iban_with_a_letter_in_the_bban_fails():
    # Given an IR IBAN with a letter, even with correct check digits
    iban = with_check_digits("IR", "A" + "0" * 21)
    assert mod97(iban) == 1
    # Then it fails: Sheba is digits only
    assert not iban_is_valid(iban)


def test_lowercase_and_spaces_are_accepted():
    # Given the printed form: lowercase with groups of four
    iban = "ir06 2960 0000 0010 0324 2000 01"
    # Then it passes
    assert iban_is_valid(iban)


@pytest.mark.parametrize("iban", ["GB82WEST12345698765432", "DE89370400440532013000"])
def test_valid_foreign_iban_passes(iban):
    # Given a valid IBAN of another country
    # Then it passes
    assert iban_is_valid(iban)


@pytest.mark.parametrize("iban", ["", "IR", "IR06", "1234567890123456", "IR06-2960-0000-0010-0324-2000-01"])
def test_malformed_input_fails(iban):
    # Given input that is not an IBAN at all
    # Then it fails without raising
    assert not iban_is_valid(iban)


@given(
    bban=st.text(alphabet="0123456789", min_size=22, max_size=22),
    data=st.data(),
)
def test_flipping_any_single_digit_makes_a_valid_iban_invalid(bban, data):
    # Given a valid IR IBAN
    iban = with_check_digits("IR", bban)
    assert iban_is_valid(iban)
    # When any one digit (check digits included) is replaced by a different digit
    position = data.draw(st.integers(2, len(iban) - 1))
    new_digit = data.draw(st.sampled_from([d for d in "0123456789" if d != iban[position]]))
    flipped = iban[:position] + new_digit + iban[position + 1 :]
    # Then it is invalid
    assert not iban_is_valid(flipped)
