"""Where the callback's 303 sends the buyer: our receipt, or the merchant's https page with what it
needs added, URL-encoded so that nothing the merchant or buyer typed can add parameters or headers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from paylink.core.models import Payment, PaymentStatus
from paylink.payments.callback import return_location


def _payment(**changes) -> Payment:  # type: ignore[no-untyped-def]
    values = {
        "id": "pay_1",
        "merchant_id": "m_1",
        "link_code": "abc",
        "link_title": "Scarf",
        "merchant_name": "Shop",
        "amount": 10_000,
        "status": PaymentStatus.PAID,
        "created_at": "2026-01-01T00:00:00.000000Z",
        **changes,
    }
    return Payment(**values)


def test_a_final_payment_with_a_redirect_url_goes_to_the_merchants_page_with_its_query_kept():
    # Given a paid payment whose link returns to the merchant's page
    payment = _payment(redirect_url="https://shop.example/thanks?order=7#top")
    # When the buyer is sent back
    location = return_location(payment)
    # Then it is the merchant's page, its own query first, ours added, its fragment kept
    assert location == "https://shop.example/thanks?order=7&payment_id=pay_1&status=paid#top"


def test_metadata_and_reference_cannot_inject_parameters_a_fragment_or_headers():
    # Given metadata and a reference holding &, =, #, CRLF and a header
    metadata = {"note": "a&status=paid#x\r\nSet-Cookie: s=1", "k&ey=": "v"}
    payment = _payment(
        status=PaymentStatus.FAILED,
        redirect_url="https://shop.example/done",
        reference="R&payment_id=pay_forged",
        metadata=metadata,
    )
    # When the buyer is sent back
    location = return_location(payment)
    # Then the location is one clean URL on the merchant's host
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "shop.example", "/done", "")
    assert not any(ch in location for ch in "\r\n #")
    # And every value reads back exactly, each name once
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    assert pairs == [
        ("payment_id", "pay_1"),
        ("status", "failed"),
        ("reference", "R&payment_id=pay_forged"),
        ("metadata[k&ey=]", "v"),
        ("metadata[note]", metadata["note"]),
    ]


@pytest.mark.parametrize("status", [PaymentStatus.CREATED, PaymentStatus.REDIRECTED])
def test_a_payment_still_open_goes_to_our_receipt(status):
    # Given a payment not decided yet, with a merchant redirect_url
    payment = _payment(status=status, redirect_url="https://shop.example/done")
    # When the buyer is sent back
    # Then he sees our receipt, which keeps watching it
    assert return_location(payment) == "/r/pay_1"


@pytest.mark.parametrize(
    "stored",
    [
        "https://gw@evil.example/",
        "//evil.example/",
        "https://shop.example/\r\nSet-Cookie: a=b",
        "http://x.example/",
    ],
)
def test_a_stored_redirect_url_that_fails_todays_checks_goes_to_our_receipt(stored):
    # Given a payment whose stored redirect_url predates the stricter checks
    payment = _payment(redirect_url=stored)
    # When the buyer is sent back
    # Then he goes to our receipt, never to that URL
    assert return_location(payment) == "/r/pay_1"
