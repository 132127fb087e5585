"""Usernames: the folded skeleton two look-alikes share, and the reserved words (issue 14)."""

from __future__ import annotations

import pytest

from paylink.merchants.usernames import fold, is_reserved


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alishop", "ALI_SHOP"),
        ("alishop", "a1i.shop"),
        ("alishop", "ali--shop"),
        ("modern", "modem"),  # rn reads as m
        ("wood", "vvood"),
        ("shop0", "shopo"),
        ("shop۱۲", "shop12"),  # Persian digits
        ("shop١٢", "shop12"),  # Arabic-Indic digits
        ("كتاب", "کتاب"),  # Arabic kaf / Persian kaf
        ("علي", "علی"),  # Arabic yeh / Persian yeh
        ("کتاب\u200cخانه", "کتابخانه"),  # a zero-width non-joiner
    ],
)
def test_look_alike_usernames_fold_to_one_skeleton(one, other):
    assert fold(one) == fold(other)


@pytest.mark.parametrize(("one", "other"), [("scarves", "hats"), ("shop2", "shop3"), ("bench_10", "bench_1")])
def test_different_usernames_keep_different_skeletons(one, other):
    assert fold(one) != fold(other)


RESERVED = ["admin", "Admin", "adm1n", "api", "v1", "login", "sign_up", "pay.link", "www"]


@pytest.mark.parametrize("word", RESERVED)
def test_routes_and_words_that_pass_for_the_service_are_reserved(word):
    assert is_reserved(word)


@pytest.mark.parametrize("word", ["scarves", "demo", "ali_shop", "shop"])
def test_ordinary_shop_names_are_not_reserved(word):
    assert not is_reserved(word)
