"""Who counts as one client, and how much of a merchant's day it may hold."""

from __future__ import annotations

import pytest

from paylink.core.settings import Settings
from paylink.payments.client_share import client_holds, share_for


def test_an_ipv4_address_is_one_hold_of_the_day_with_no_address_in_clear():
    holds = client_holds("2026-12-02", "198.51.100.7")
    assert [h.split("#")[1].split("-")[0] for h in holds] == ["ip"]
    assert all(h.startswith("2026-12-02#") for h in holds)
    assert not any("198.51.100.7" in h for h in holds)


def test_addresses_of_one_ipv6_64_are_one_client_and_another_64_is_another():
    one = client_holds("d", "2001:db8:1:2::1")
    assert client_holds("d", "2001:db8:1:2:ffff::9") == one
    assert client_holds("d", "2001:db8:1:3::1") != one


def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_client():
    assert client_holds("d", "::ffff:198.51.100.7") == client_holds("d", "198.51.100.7")


def test_no_usable_address_holds_nothing():
    assert client_holds("d", None) == []
    assert client_holds("d", "not an address") == []


def test_the_share_is_a_percent_of_the_daily_cap_and_a_count():
    settings = Settings.model_validate({})
    share = share_for(30_000_000, settings)
    assert (share.max_open, share.max_amount) == (3, 6_000_000)
    assert share_for(None, settings).max_amount is None


class _Busy(Exception):
    """What boto3 raises when DynamoDB cancels a transaction (with each item's reason)."""

    def __init__(self, *codes: str) -> None:
        super().__init__("TransactionCanceledException")
        self.response = {
            "Error": {"Code": "TransactionCanceledException"},
            "CancellationReasons": [{"Code": code} for code in codes],
        }


class _Client:
    """A DynamoDB client whose transactions meet the given cancellations first, then go through."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def transact_write_items(self, TransactItems: list) -> dict:  # type: ignore[type-arg]
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {}


def _reserve(client: _Client) -> None:
    from paylink.core.models import Payment, PaymentStatus
    from paylink.store import Store

    payment = Payment(id="pay_1", merchant_id="m1", link_code="c", link_title="t", merchant_name="n",
                      amount=10_000, status=PaymentStatus.CREATED, created_at="2026-12-02T04:00:00+00:00",
                      holds=["2026-12-02#ip-x"])  # fmt: skip
    Store("t", client).reserve_payment(payment, "2026-12-02", 30_000_000, share_for(30_000_000, Settings()))


def test_a_reservation_cancelled_by_a_parallel_transaction_is_tried_again():
    # Given DynamoDB cancels the reservation twice because another transaction held the client's hold
    client = _Client(
        _Busy("None", "None", "TransactionConflict"), _Busy("None", "TransactionConflict", "None")
    )
    # When a payment is reserved
    _reserve(client)
    # Then the third try went through
    assert client.calls == 3


def test_a_refused_reservation_is_not_tried_again():
    from paylink.core.errors import TooManyOpenPayments

    # Given the client's hold refuses the payment (its share is taken) while another item was busy
    client = _Client(_Busy("None", "None", "ConditionalCheckFailed"))
    # When a payment is reserved, then it is refused after one call
    with pytest.raises(TooManyOpenPayments):
        _reserve(client)
    assert client.calls == 1
