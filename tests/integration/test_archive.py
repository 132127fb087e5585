"""The payment archive (issue 18): settled payments past the refund window leave the table for S3,
exactly once, crash-safe, and stay readable (receipt, merchant API, exports); refunds after the
window are refused."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest

from paylink.core.errors import Conflict
from paylink.payments import archive
from paylink.settlement.daily import settle_day
from paylink.settlement.money import FeePlan
from paylink.settlement.payouts import SandboxPayout
from paylink.store import Store
from tests.helpers import reset_caches
from tests.settlement_data import SETTLE_DAY, VALID_IBAN, MerchantSpec, seed

BUCKET = "paylink-test-archive"
SPEC = MerchantSpec("arc", VALID_IBAN, FeePlan(bps=100), (10_000, 250_000, 3_000_000))
SID = f"stl_{SETTLE_DAY.strftime('%Y%m%d')}_arc"
DUE = date(2026, 12, 24)  # the settlement's day + 31 days
AFTER_WINDOW = datetime(2026, 12, 24, 1, tzinfo=UTC)  # paid 2026-11-22: the window closed 12-22


@pytest.fixture
def settled(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A merchant whose three paid payments are settled (SETTLE_DAY), an archive bucket."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    reset_caches()
    seed(store, [SPEC])
    settle_day(store, SETTLE_DAY, tz="Asia/Tehran", country="IR", payout=SandboxPayout(store))
    assert len(store.payments_of_settlement(SID)) == 3
    return store


def _ids() -> list[str]:
    return [f"pay_arc_{n:03d}" for n in range(3)]


def _raw(store: Store, payment_id: str) -> dict[str, Any]:
    return store.client.get_item(TableName=store.table, Key={"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT"})[
        "Item"
    ]


def _archived_lines() -> list[dict[str, Any]]:
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=archive.object_key(SID))
    return [json.loads(line) for line in gzip.decompress(body["Body"].read()).decode().splitlines()]


def _assert_archived_once(store: Store, before: dict[str, Any]) -> None:
    lines = _archived_lines()
    assert sorted(line["id"] for line in lines) == _ids()  # each payment once
    for payment_id in _ids():
        assert _raw(store, payment_id) == {"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT", "archived": SID}
        assert archive.find_payment(store, payment_id) == before[payment_id]
    assert store.payments_of_settlement(SID) == []
    assert store.archives_due(DUE.isoformat()) == []


def test_settling_puts_the_settlement_on_the_work_list_due_after_the_refund_window(settled: Store) -> None:
    # Given a settled merchant-day (the fixture), When the work list is read
    # Then the settlement is due 31 days after its day, not a day before
    assert settled.archives_due(DUE.isoformat()) == [SID]
    assert settled.archives_due(date(2026, 12, 23).isoformat()) == []


def test_a_due_settlement_is_archived_to_s3_and_its_payments_leave_every_index(settled: Store) -> None:
    # Given the settled payments as the table holds them
    before = {p.id: p for p in settled.payments_of_settlement(SID)}
    # When the archive runs on the due day
    result = archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then each payment is in the archive object once, the table keeps a stub in no index,
    # the payment reads back the same by id, and the work list is empty
    assert result == {"settlements": 1, "payments": 3, "failed": 0}
    _assert_archived_once(settled, before)


def test_nothing_is_archived_before_the_refund_window_closed(settled: Store) -> None:
    # Given a settlement due (by its day) but payments whose window is still open at `now`
    result = archive.run(settled, DUE, now=datetime(2026, 12, 21, tzinfo=UTC))
    # Then nothing left the table and the settlement stays on the work list
    assert result["payments"] == 0
    assert len(settled.payments_of_settlement(SID)) == 3
    assert settled.archives_due(DUE.isoformat()) == [SID]


class Crash(Exception):
    """The archive function was killed."""


def _crash_after(store: Store, monkeypatch: pytest.MonkeyPatch, writes: int) -> Callable[[], int]:
    """Kill the run right after its `writes`-th write (S3 put, stub put, work item delete)."""
    seen = {"n": 0}

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        def write(**kwargs: Any) -> Any:
            answer = real(**kwargs)
            seen["n"] += 1
            if seen["n"] == writes:
                raise Crash(f"killed after write {writes}")
            return answer

        return write

    s3 = archive._s3()
    monkeypatch.setattr(s3, "put_object", counting(s3.put_object))
    client = store.client
    monkeypatch.setattr(client, "put_item", counting(client.put_item))
    monkeypatch.setattr(client, "delete_item", counting(client.delete_item))
    return lambda: seen["n"]


def _run_without_guard(store: Store) -> None:
    """archive.run's steps, letting the crash through (run itself logs a failed settlement)."""
    for sid in store.archives_due(DUE.isoformat()):
        _, done = archive.archive_settlement(store, sid, AFTER_WINDOW)
        if done:
            store.archive_done(sid)


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5])
def test_a_run_killed_after_any_write_then_run_again_archives_each_payment_once(
    settled: Store, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    # Given the settled payments, and a run killed after its k-th write (1: the object; 2-4: the
    # stubs; 5: the work item's delete)
    before = {p.id: p for p in settled.payments_of_settlement(SID)}
    with monkeypatch.context() as patch:
        _crash_after(settled, patch, crash_at)
        with pytest.raises(Crash):
            _run_without_guard(settled)
    # When the archive runs again, twice
    archive.run(settled, DUE, now=AFTER_WINDOW)
    archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then it ends like a clean run: every payment archived once, none lost, none left hot
    _assert_archived_once(settled, before)


def test_a_payment_refunded_between_the_object_and_its_stub_stays_hot_and_is_archived_again_later(
    settled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refund that lands on one payment just after the archive object was written
    real = archive._write_object

    def write_then_refund(settlement_id: str, records: dict[str, dict[str, Any]]) -> None:
        real(settlement_id, records)
        settled.client.update_item(
            TableName=settled.table,
            Key={"pk": "PAYMENT#pay_arc_001", "sk": "PAYMENT"},
            UpdateExpression="SET amount_refunded = :r",
            ExpressionAttributeValues={":r": 1_000},
        )

    with monkeypatch.context() as patch:
        patch.setattr(archive, "_write_object", write_then_refund)
        first = archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then that payment stays in the table (its stub was refused) and the settlement stays due
    assert first["payments"] == 2
    assert [p.id for p in settled.payments_of_settlement(SID)] == ["pay_arc_001"]
    # When the next run comes, Then the refunded state is what the archive keeps
    archive.run(settled, DUE, now=AFTER_WINDOW)
    assert settled.payments_of_settlement(SID) == []
    kept = next(line for line in _archived_lines() if line["id"] == "pay_arc_001")
    assert kept["amount_refunded"] == 1_000
    assert len(_archived_lines()) == 3


def test_a_payment_with_a_refund_not_yet_final_is_not_archived(
    settled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one payment with a refund still awaiting its payer
    from paylink.core.models import RefundStatus

    class Open:
        status = RefundStatus.AWAITING_PAYER

    settled.client.update_item(
        TableName=settled.table,
        Key={"pk": "PAYMENT#pay_arc_002", "sk": "PAYMENT"},
        UpdateExpression="SET amount_refunded = :r",
        ExpressionAttributeValues={":r": 5_000},
    )
    monkeypatch.setattr(type(settled), "refunds_of_payment", lambda self, pid: [Open()])
    # When the archive runs
    archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then that payment stays hot and the settlement stays on the work list; the others left
    assert [p.id for p in settled.payments_of_settlement(SID)] == ["pay_arc_002"]
    assert settled.archives_due(DUE.isoformat()) == [SID]


def test_a_refund_asked_for_an_archived_payment_is_refused_and_writes_nothing(settled: Store) -> None:
    from paylink.refunds.service import refund_payment, refunds_of

    merchant = settled.get_merchant("mer_arc")
    assert merchant is not None
    # Given a settled payment archived once past its refund window
    archive.run(settled, DUE, now=AFTER_WINDOW)
    # When its merchant asks a refund of it
    with pytest.raises(Conflict):
        refund_payment(settled, merchant, "pay_arc_000", 1_000, "late", base_url="https://pay.example")
    # Then a clear conflict, no refund, and the stub is as the archive left it
    assert refunds_of(settled, merchant, "pay_arc_000") == []
    assert _raw(settled, "pay_arc_000") == {"pk": "PAYMENT#pay_arc_000", "sk": "PAYMENT", "archived": SID}


def test_a_payment_not_yet_archived_may_still_be_refunded_after_thirty_days(settled: Store) -> None:
    from unittest import mock

    from paylink.refunds.service import refund_payment

    merchant = settled.get_merchant("mer_arc")
    assert merchant is not None
    # Given a settled payment past 30 days that the archive has not taken yet
    with mock.patch("paylink.refunds.service.utcnow", return_value=AFTER_WINDOW):
        # When its merchant refunds part of it, Then the refund is made (the archive waits for it)
        refund = refund_payment(
            settled, merchant, "pay_arc_002", 1_000, "late", base_url="https://pay.example"
        )
    assert refund.payment_id == "pay_arc_002"


def test_the_receipt_and_the_merchant_api_read_an_archived_payment_back(settled: Store, api: Any) -> None:
    # Given the merchant API's answer for a settled payment before the archive
    before = api.get("/v1/payments/pay_arc_001", key="plk_arc")
    assert before.status == 200
    # When it is archived
    archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then the API answers the same, and its receipt page still shows
    after = api.get("/v1/payments/pay_arc_001", key="plk_arc")
    assert (after.status, after.json()) == (200, before.json())
    assert api.get("/r/pay_arc_001").status == 200


def test_csv_exports_include_archived_payments(settled: Store) -> None:
    from paylink.exports.rows import export_rows

    # Given the rows of a payments export and a settlement's export before the archive
    def rows(kind: str, filters: dict[str, Any]) -> list[dict[str, str]]:
        return sorted(export_rows(settled, kind, "mer_arc", filters)[1], key=lambda r: str(r))  # type: ignore[arg-type]

    before = (rows("payments", {}), rows("settlement_payments", {"settlement_id": SID}))
    # When the payments are archived, Then both exports hold the same rows
    archive.run(settled, DUE, now=AFTER_WINDOW)
    assert (rows("payments", {}), rows("settlement_payments", {"settlement_id": SID})) == before
    assert len(before[0]) == 3


def test_a_settlement_of_refunds_only_is_archived_without_error_and_leaves_the_work_list(
    settled: Store,
) -> None:
    from paylink.core.models import utcnow
    from paylink.refunds.service import refund_payment
    from paylink.settlement.business_calendar import local_date, next_business_day

    merchant = settled.get_merchant("mer_arc")
    assert merchant is not None
    # Given a refund of a settled payment, netted by a later settlement that has no payment of its own
    refund_payment(settled, merchant, "pay_arc_002", 1_000, "late", base_url="https://pay.example")
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR")
    settle_day(settled, day, tz="Asia/Tehran", country="IR", payout=SandboxPayout(settled))
    refunds_only = settled.get_settlement(f"stl_{day.strftime('%Y%m%d')}_arc")
    assert refunds_only is not None
    assert (refunds_only.gross, refunds_only.payment_count, refunds_only.refunds) == (0, 0, 1_000)
    due = day + archive.ARCHIVE_AFTER
    assert refunds_only.id in settled.archives_due(due.isoformat())
    # When the archive runs once both settlements are due and past the window
    result = archive.run(settled, due, now=datetime(due.year, due.month, due.day, 1, tzinfo=UTC))
    # Then it fails nothing, writes no object for the refunds-only one and takes it off the work list
    # (the refunded payment's settlement stays on it: that refund still waits for its payer)
    assert result["failed"] == 0
    assert settled.archives_due(due.isoformat()) == [SID]
    assert archive.read_object(refunds_only.id) == {}


def test_the_ledger_of_a_window_lists_archived_payments_as_before(settled: Store, api: Any) -> None:
    # Given the merchant's ledger for the settled day's month, and for a window before it
    month = "/v1/ledger?from=2026-11-01&to=2026-11-30"
    before, empty = api.get(month, key="plk_arc"), api.get("/v1/ledger?to=2026-11-10", key="plk_arc")
    assert before.status == 200
    assert [e["object_id"] for e in before.json()["items"] if e["type"] == "payment"] == sorted(_ids())[::-1]
    # When the payments are archived
    archive.run(settled, DUE, now=AFTER_WINDOW)
    # Then the same window lists the same entries, and the earlier window still none of them
    assert (
        api.get(month, key="plk_arc").json(),
        api.get("/v1/ledger?to=2026-11-10", key="plk_arc").json(),
    ) == (
        before.json(),
        empty.json(),
    )
    assert empty.json()["items"] == []


@pytest.mark.parametrize("window", ["from=2026-11-24", "to=2026-11-01"])
def test_a_ledger_window_away_from_a_settlement_reads_none_of_its_archive(
    settled: Store, api: Any, monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    # Given the settlement archived, and its object's reads counted
    archive.run(settled, DUE, now=AFTER_WINDOW)
    s3, reads = archive._s3(), []
    real = s3.get_object
    monkeypatch.setattr(s3, "get_object", lambda **kw: reads.append(kw["Key"]) or real(**kw))
    # When the ledger is asked for a window after its day, or well before it
    answer = api.get(f"/v1/ledger?{window}", key="plk_arc")
    # Then it lists none of those payments and reads no archive object
    assert answer.status == 200
    assert [e for e in answer.json()["items"] if e["type"] == "payment"] == []
    assert reads == []


def test_an_archived_fully_refunded_payment_is_filtered_by_the_status_it_shows(settled: Store) -> None:
    from paylink.exports.rows import export_rows

    # Given a settled payment refunded whole (its refunds final) before the archive
    settled.client.update_item(
        TableName=settled.table,
        Key={"pk": "PAYMENT#pay_arc_001", "sk": "PAYMENT"},
        UpdateExpression="SET amount_refunded = amount",
    )

    def ids(status: str) -> list[str]:
        return sorted(r["id"] for r in export_rows(settled, "payments", "mer_arc", {"status": status})[1])

    before = (ids("refunded"), ids("settled"))
    assert before == (["pay_arc_001"], ["pay_arc_000", "pay_arc_002"])
    # When the payments are archived, Then a status filter still goes by the status shown
    archive.run(settled, DUE, now=AFTER_WINDOW)
    assert _raw(settled, "pay_arc_001") == {"pk": "PAYMENT#pay_arc_001", "sk": "PAYMENT", "archived": SID}
    assert (ids("refunded"), ids("settled")) == before
