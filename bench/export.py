"""How long the export worker takes for an export at the limit (100,000 rows) on this machine.

N paid payments of one merchant (realistic rows: payer name and phone, a Persian title, metadata)
are served to the store's queries from memory, each page deserialised from DynamoDB's wire format as
boto3 does (moto answers a Query by scanning and sorting the whole table: ~2 s a page, which would
measure moto). The job's own item and the S3 uploads go to a moto server over HTTP. It times the
export worker's whole run (paylink.exports.jobs.run_job): pages of 1,000 read and validated, the CSV
written, its 8 MiB parts uploaded, the job's updates.
AWS adds ~100 Query round trips of a 1 MB page each (tens of milliseconds apiece) to the job's time.
ExportFunction's timeout is 300 s (template.yaml).

    .venv/bin/python bench/export.py                  # N = 100,000
    .venv/bin/python bench/export.py --rows 5000      # a quick run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: bench/click.py would stand in for the `click` package httpx imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]

from bench.settle import _free_port  # noqa: E402


def _start_moto() -> str:
    import logging

    from local.dynamodb import AtomicMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    return f"http://127.0.0.1:{port}"


class PagesFromMemory:
    """The store's DynamoDB client, except that a Query of gsi2 is answered from `items` (newest first)."""

    def __init__(self, client: Any, items: list[dict[str, Any]]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        self.client = client
        serialise = TypeSerializer().serialize
        self.wire = [{k: serialise(v) for k, v in item.items()} for item in items]
        self.keys = [{k: item[k] for k in ("pk", "sk", "gsi2pk", "gsi2sk")} for item in items]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def query(self, **request: Any) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialise = TypeDeserializer().deserialize
        start = request.get("ExclusiveStartKey")
        first = 0 if not start else self.keys.index(start) + 1
        last = min(first + request["Limit"], len(self.wire))
        page = [{k: deserialise(v) for k, v in item.items()} for item in self.wire[first:last]]
        answer: dict[str, Any] = {"Items": page}
        if last < len(self.wire):
            answer["LastEvaluatedKey"] = self.keys[last - 1]
        return answer


def seed(endpoint: str, rows: int) -> tuple[Any, str]:
    """A store whose merchant has `rows` paid payments (served from memory); and the merchant's id."""
    import boto3

    from local.template import create_tables, load_template
    from paylink.core.ids import new_payment_id
    from paylink.core.models import Payment, PaymentStatus
    from paylink.merchants.accounts import create_merchant
    from paylink.store import Store

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    table = create_tables(client, load_template(), prefix=f"bench-{uuid.uuid4().hex[:8]}")["PaylinkTable"]
    resource = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    store = Store(table, resource.meta.client)
    merchant, _ = create_merchant(
        store, username="bench_export", name="Shop", iban="IR062960000000100324200001"
    )
    items = []
    for i in reversed(range(rows)):
        stamp = f"2026-03-{1 + i // 86_400:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000Z"
        payment = Payment(
            id=new_payment_id(), merchant_id=merchant.id, link_code="BENCHLINK000", link_title="شال دستباف",
            merchant_name="Shop", amount=1_000_000 + i, status=PaymentStatus.PAID, created_at=stamp,
            paid_at=stamp, gateway="sandbox-a", gateway_reference=f"{700000000 + i}",
            card_mask="603799******1234", payer={"name": "علی رضایی", "phone": "09121234567"},
            metadata={"order": f"order-{i}"}, fee=10_000, net=990_000 + i,
        )  # fmt: skip
        items.append({k: v for k, v in store._payment_item(payment).items() if v is not None})
    store.client = PagesFromMemory(store.client, items)
    return store, merchant.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    endpoint = _start_moto()
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "DYNAMODB_ENDPOINT_URL": endpoint, "S3_ENDPOINT_URL": endpoint, "EXPORT_BUCKET": "bench-exports",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    import boto3

    from paylink.core.models import iso, utcnow
    from paylink.exports import upload
    from paylink.exports.jobs import JOB_TTL_SECONDS, run_job
    from paylink.exports.model import ExportJob

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench-exports")
    store, merchant_id = seed(endpoint, args.rows)

    now = utcnow()
    job = ExportJob(
        id=f"exp_bench{uuid.uuid4().hex[:16]}", merchant_id=merchant_id, kind="payments",
        filename="payments.csv", created_at=iso(now), ttl=int(now.timestamp()) + JOB_TTL_SECONDS,
    )  # fmt: skip
    store.add_export_job(job)
    started = time.perf_counter()
    done = run_job(store, job.id)
    worker = time.perf_counter() - started
    assert done is not None
    assert done.status == "done", done
    parts = -(-done.bytes // upload.PART_BYTES)
    machine = f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    print(f"{machine}, {os.cpu_count()} CPUs")
    print(f"rows: {done.rows:,}  bytes: {done.bytes:,} ({done.bytes / 1e6:.1f} MB)  parts: {parts}")
    print(f"export worker (run_job), end to end: {worker:.1f} s  (ExportFunction timeout: 300 s)")


if __name__ == "__main__":
    main()
