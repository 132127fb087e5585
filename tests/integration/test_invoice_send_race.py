"""Twenty sends of one invoice at once: the day's limit is a conditional write, not a read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.test_concurrent_callbacks import moto_server  # noqa: F401 - the fixture


def test_twenty_sends_at_once_count_exactly_the_days_limit(moto_server):  # noqa: F811
    from paylink.store import get_store

    store = get_store()

    def send(_: int) -> str | None:
        return store.count_invoice_send(
            "mer_1", "inv_1", "2026-12-02", per_invoice=3, per_merchant=200, expires_at=1_900_000_000
        )

    # When twenty sends of one invoice are counted at the same moment
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    # Then exactly three are counted, the others refused on the invoice's limit
    assert answers.count(None) == 3
    assert answers.count("invoice") == 17
    # And the merchant's counter moved with the invoice's, no further
    assert send(0) == "invoice"
    assert (
        store.count_invoice_send(
            "mer_1", "inv_2", "2026-12-02", per_invoice=3, per_merchant=4, expires_at=1_900_000_000
        )
        is None
    )
    assert (
        store.count_invoice_send(
            "mer_1", "inv_3", "2026-12-02", per_invoice=3, per_merchant=4, expires_at=1_900_000_000
        )
        == "merchant"
    )
