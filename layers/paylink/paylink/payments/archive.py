"""The payment archive: settled payments past the refund window leave the hot table for S3.

A settlement is put on the archive's work list when it is settled (paylink.settlement.daily), due
ARCHIVE_AFTER after its business day: by then every one of its payments is past REFUND_WINDOW (a
payment settles on or after the day it was paid), so no refund can start on it any more. The
daily ArchiveFunction takes each due settlement and, in this order (a crash anywhere loses and
doubles nothing):

1. writes one gzipped JSON-lines object, `payments/{merchant}/{day}/{settlement}.jsonl.gz`, with
   every payment of the settlement still in the table, merged with what an earlier run already
   archived there (the object is rewritten whole; lines are keyed by payment id, so a rerun is the
   same object);
2. replaces each archived payment in the table by a stub naming its settlement, conditionally on
   the payment being still what was archived (a refund that moved it meanwhile keeps it hot, and
   it is archived again on a later run); a payment with a refund not yet final is left alone;
3. takes the settlement off the work list once none of its payments is left in the table.

The stub (~90 bytes, in no index) keeps the id known: a receipt `/r/{id}`, the merchant API's
`GET /v1/payments/{id}` and its refunds read the archived payment back (`find_payment`); CSV
exports add the archived payments of the window (`archived_payments`). A refund asked for an
archived payment is refused (409): its window closed (paylink.refunds.service).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paylink.core.models import Payment, RefundStatus, utcnow
from paylink.core.observability import logger
from paylink.core.settings import get_settings

if TYPE_CHECKING:
    from paylink.store import Store

# A payment stays refundable at least this long after it was paid: it is archived only later, and
# an archived payment is never refunded (refund_payment answers 409).
REFUND_WINDOW = timedelta(days=30)
# Due after the window and a day's margin (clocks, the window's last refunds settling).
ARCHIVE_AFTER = REFUND_WINDOW + timedelta(days=1)
FINAL_REFUNDS = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED})


def refund_window_closed(payment: Payment, now: datetime) -> bool:
    """True once a paid payment is past its refund window (then it is never refunded)."""
    if not payment.paid_at:
        return False
    return now >= datetime.fromisoformat(payment.paid_at.replace("Z", "+00:00")) + REFUND_WINDOW


def object_key(settlement_id: str) -> str:
    """The archive object of a settlement; its id names the merchant and the day (core.ids)."""
    _, day, merchant = settlement_id.split("_", 2)
    return f"payments/mer_{merchant}/{day[:4]}-{day[4:6]}-{day[6:]}/{settlement_id}.jsonl.gz"


def queue_settlement(store: Store, settlement_id: str, business_day: str) -> None:
    """Put a settlement on the work list, due ARCHIVE_AFTER after its day (idempotent)."""
    due = date.fromisoformat(business_day) + ARCHIVE_AFTER
    store.queue_archive(settlement_id, due.isoformat())


def _s3() -> Any:
    from paylink.exports.upload import s3_client

    return s3_client()


def _bucket() -> str:
    bucket = get_settings().archive_bucket
    if not bucket:
        raise RuntimeError("ARCHIVE_BUCKET is not set for this function")
    return bucket


def read_object(settlement_id: str) -> dict[str, dict[str, Any]]:
    """The payments archived for a settlement, by id; empty when nothing is archived yet."""
    client = _s3()
    try:
        answer = client.get_object(Bucket=_bucket(), Key=object_key(settlement_id))
    except client.exceptions.NoSuchKey:
        return {}
    lines = gzip.decompress(answer["Body"].read()).decode().splitlines()
    records = [json.loads(line) for line in lines if line]
    return {str(record["id"]): record for record in records}


def _write_object(settlement_id: str, records: dict[str, dict[str, Any]]) -> None:
    ordered = sorted(records.values(), key=lambda r: (str(r.get("created_at")), str(r["id"])))
    body = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in ordered)
    _s3().put_object(
        Bucket=_bucket(),
        Key=object_key(settlement_id),
        Body=gzip.compress(body.encode(), mtime=0),  # the same payments give the same bytes
        ContentType="application/x-ndjson",
        ContentEncoding="gzip",
    )


def _refunds_final(store: Store, payment: Payment) -> bool:
    if not payment.amount_refunded:
        return True  # no refund took from it: none is open (only refunded payments are asked)
    return all(refund.status in FINAL_REFUNDS for refund in store.refunds_of_payment(payment.id))


def archive_settlement(store: Store, settlement_id: str, now: datetime) -> tuple[int, bool]:
    """Archive what is left of one settlement in the table: (payments stubbed, all gone)."""
    payments = store.payments_of_settlement(settlement_id)
    if not payments:
        return 0, True
    ready = [p for p in payments if refund_window_closed(p, now) and _refunds_final(store, p)]
    if not ready:
        return 0, False
    records = read_object(settlement_id)
    records.update({p.id: p.model_dump(mode="json", exclude_none=True) for p in ready})
    _write_object(settlement_id, records)  # first: a stub never names an archive that lacks it
    stubbed = sum(store.replace_with_stub(p, settlement_id) for p in ready)
    return stubbed, stubbed == len(payments)


def run(store: Store, today: date, now: datetime | None = None) -> dict[str, int]:
    """Archive every settlement due by `today`; one failing is logged and left for the next run."""
    now = now or utcnow()
    settlements = archived = failed = 0
    for settlement_id in store.archives_due(today.isoformat()):
        try:
            stubbed, done = archive_settlement(store, settlement_id, now)
        except Exception:
            failed += 1
            logger.exception("archive failed", extra={"settlement_id": settlement_id})
            continue
        archived += stubbed
        settlements += 1
        if done:
            store.archive_done(settlement_id)
    logger.info("archive run", extra={"settlements": settlements, "payments": archived, "failed": failed})
    return {"settlements": settlements, "payments": archived, "failed": failed}


def run_here(today: date) -> dict[str, int]:
    """`run` with this process's store (the ArchiveFunction's entry point)."""
    from paylink.store import get_store

    result = run(get_store(), today)
    if result["failed"]:  # after the others: Lambda retries, then the dead-letter queue's alarm
        raise RuntimeError(f"{result['failed']} settlements could not be archived")
    return result


def lookup(store: Store, payment_id: str) -> tuple[Payment | None, bool]:
    """A payment by id, from the table or, once archived, from its settlement's archive object;
    and whether it is archived (then nothing may change it: no refund starts on it)."""
    payment, archived_in = store.payment_or_archive(payment_id)
    if archived_in is None:
        return payment, False
    record = read_object(archived_in).get(payment_id)
    return (Payment.model_validate(record) if record else None), True


def find_payment(store: Store, payment_id: str) -> Payment | None:
    """A payment by id, from the table or, once archived, from its settlement's archive object."""
    return lookup(store, payment_id)[0]


def archived_of_settlement(settlement_id: str) -> list[Payment]:
    return [Payment.model_validate(r) for r in read_object(settlement_id).values()]


def archived_payments(merchant_id: str, since: str | None = None) -> Iterator[Payment]:
    """A merchant's archived payments, settlement by settlement from the day of `since` on (a
    payment settles on or after its day, so earlier objects hold nothing created since then)."""
    for _, settlement_id in archive_objects(merchant_id, since):
        yield from archived_of_settlement(settlement_id)


def archive_objects(merchant_id: str, since: str | None = None) -> Iterator[tuple[str, str]]:
    """A merchant's archive objects as (settlement day, settlement id), oldest day first, from the
    day of `since` on; only keys are listed (1,000 a request), no object is read."""
    client = _s3()
    prefix = f"payments/{merchant_id}/"
    request: dict[str, Any] = {"Bucket": _bucket(), "Prefix": prefix}
    if since:
        request["StartAfter"] = prefix + since[:10]
    while True:
        answer = client.list_objects_v2(**request)
        for entry in answer.get("Contents", []):
            day, name = entry["Key"].removeprefix(prefix).split("/", 1)
            yield day, name.removesuffix(".jsonl.gz")
        if not answer.get("IsTruncated"):
            return
        request["ContinuationToken"] = answer["NextContinuationToken"]
