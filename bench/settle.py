"""Settlement throughput against the moto DynamoDB server, beside the storage baseline.

For N paid payments over M merchants (M fixed, 20 by default; seeded straight into a moto server
over HTTP, shaped as the store writes them), it times:
  baseline   - the raw cost of the same storage work: query each merchant's unsettled payments
               page by page and conditionally write every one of them once
  settlement - settle_day for the next business day (gather, write, close, pay out)
and prints payments per second for both, their ratio, and the cost per payment as N grows.

M stays fixed because moto answers every Query by scanning the whole table: with M growing with N
both the baseline and the settlement would grow quadratically for the emulator's sake alone.

    .venv/bin/python bench/settle.py                 # N = 10,000 and 100,000
    .venv/bin/python bench/settle.py --sizes 2000    # a quick run
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: bench/click.py would stand in for the `click` package httpx imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto() -> str:
    import logging

    from local.dynamodb import AtomicMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    return f"http://127.0.0.1:{port}"


def _fresh_store(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    from local.template import create_tables, load_template
    from paylink.store import Store

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    table = create_tables(client, load_template(), prefix=f"bench-{uuid.uuid4().hex[:8]}")["PaylinkTable"]
    resource = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    return Store(table, resource.meta.client), resource.Table(table)


def seed(store, table, payments: int, merchants: int, paid_at: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    """M merchants and N paid payments spread over them, on the unsettled lists."""
    from paylink.core.ids import new_payment_id
    from paylink.core.models import Payment, PaymentStatus, iso
    from paylink.merchants.accounts import create_merchant
    from paylink.store.settlements import unsettled_keys

    merchant_ids = []
    for i in range(merchants):
        merchant, _ = create_merchant(store, username=f"bench_{i}", name=f"Shop {i}",
                                      iban="IR062960000000100324200001")  # fmt: skip
        merchant_ids.append(merchant.id)
    stamp = iso(paid_at)
    with table.batch_writer() as batch:
        for i in range(payments):
            merchant_id = merchant_ids[i % merchants]
            payment = Payment(
                id=new_payment_id(), merchant_id=merchant_id, link_code="BENCHLINK000", link_title="bench",
                merchant_name="Shop", amount=10_000 + (i % 997) * 10, status=PaymentStatus.PAID,
                created_at=stamp, redirected_at=stamp, paid_at=stamp, gateway="sandbox-a",
            )  # fmt: skip
            item = store._payment_item(payment) | unsettled_keys(merchant_id, stamp, payment.id)
            batch.put_item(Item={k: v for k, v in item.items() if v is not None})
    return merchant_ids


def baseline(store, merchant_ids: list[str], before: str) -> int:  # type: ignore[no-untyped-def]
    """Read every unsettled payment by the same index and write each once, conditionally."""
    count = 0
    for merchant_id in merchant_ids:
        for payment in store.unsettled_payments(merchant_id, before=before):
            store.client.update_item(
                TableName=store.table,
                Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                UpdateExpression="SET touched = :t",
                ConditionExpression="#s = :paid",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":t": 1, ":paid": "paid"},
            )
            count += 1
    return count


def run(endpoint: str, payments: int, merchants: int) -> dict[str, float]:
    from paylink.core.models import iso
    from paylink.settlement.business_calendar import local_date, next_business_day, start_of_day_utc
    from paylink.settlement.daily import settle_day
    from paylink.settlement.payouts import payout_provider

    paid_at = datetime.now(UTC) - timedelta(hours=1)
    day = next_business_day(local_date(paid_at, "Asia/Tehran"), "IR")
    cutoff = iso(start_of_day_utc(day, "Asia/Tehran"))

    base_store, base_table = _fresh_store(endpoint)
    ids = seed(base_store, base_table, payments, merchants, paid_at)
    started = time.perf_counter()
    touched = baseline(base_store, ids, cutoff)
    base_seconds = time.perf_counter() - started
    assert touched == payments, (touched, payments)

    store, table = _fresh_store(endpoint)
    seed(store, table, payments, merchants, paid_at)
    started = time.perf_counter()
    payout = payout_provider("sandbox", store, stage="test")
    report = settle_day(store, day, tz="Asia/Tehran", country="IR", payout=payout)
    settle_seconds = time.perf_counter() - started
    settled = sum(int(s["payment_count"]) for s in report.settlements)
    assert settled == payments, (settled, payments)
    return {"baseline_s": base_seconds, "settle_s": settle_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N")
    parser.add_argument("--merchants", type=int, default=20, help="M, merchants (fixed as N grows)")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("PAYLINK_PAYOUT_PROVIDER", "sandbox")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # one log line per merchant drowns the figures
    endpoint = _start_moto()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          "moto DynamoDB server over HTTP on loopback")  # fmt: skip
    print(f"{'N':>8} {'M':>6} {'baseline/s':>11} {'settle/s':>9} {'ratio':>6} {'us/payment':>11}")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        merchants = min(args.merchants, size)
        result = run(endpoint, size, merchants)
        base_rate, rate = size / result["baseline_s"], size / result["settle_s"]
        rows.append((size, result["settle_s"] / size))
        print(f"{size:>8} {merchants:>6} {base_rate:>11.0f} {rate:>9.0f} {base_rate / rate:>6.2f} "
              f"{result['settle_s'] / size * 1e6:>11.0f}")  # fmt: skip
    if len(rows) > 1:
        (n0, c0), (n1, c1) = rows[0], rows[-1]
        print(f"cost per payment at N={n1} is {c1 / c0:.2f}x that at N={n0} (1.00 = linear growth)")


if __name__ == "__main__":
    main()
