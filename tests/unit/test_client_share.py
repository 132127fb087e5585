"""Who counts as one client, and how much of a merchant's day it may hold."""

from __future__ import annotations

from paylink.client_share import client_holds, share_for
from paylink.settings import Settings


def test_an_ipv4_address_and_a_phone_are_two_holds_of_the_day_with_no_address_in_clear():
    holds = client_holds("2026-12-02", "198.51.100.7", "09121234567")
    assert [h.split("#")[1].split("-")[0] for h in holds] == ["ip", "phone"]
    assert all(h.startswith("2026-12-02#") for h in holds)
    assert not any("198.51.100.7" in h or "09121234567" in h for h in holds)


def test_addresses_of_one_ipv6_64_are_one_client_and_another_64_is_another():
    one = client_holds("d", "2001:db8:1:2::1", None)
    assert client_holds("d", "2001:db8:1:2:ffff::9", None) == one
    assert client_holds("d", "2001:db8:1:3::1", None) != one


def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_client():
    assert client_holds("d", "::ffff:198.51.100.7", None) == client_holds("d", "198.51.100.7", None)


def test_no_usable_address_and_no_phone_hold_nothing():
    assert client_holds("d", None, None) == []
    assert client_holds("d", "not an address", None) == []


def test_the_share_is_a_percent_of_the_daily_cap_and_a_count():
    settings = Settings.model_validate({})
    share = share_for(30_000_000, settings)
    assert (share.max_open, share.max_amount) == (3, 6_000_000)
    assert share_for(None, settings).max_amount is None
