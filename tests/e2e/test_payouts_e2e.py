"""End to end over HTTP, against the local runner: payouts through the sandbox's Jibit Transferor
(instance p), and a production-stage stack that refuses sandbox payouts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from paylink.core.models import utcnow
from paylink.settlement.business_calendar import local_date, next_business_day
from tests.e2e.buyer import act, open_gateway
from tests.e2e.conftest import Runner, start_runner

pytestmark = pytest.mark.e2e
AMOUNT = 3_456_780


def _paid_payment(runner: Runner, http: httpx.Client, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    created = http.post(f"{runner.url}/v1/links", json={"title": "Rug", "amount": AMOUNT}, headers=auth)
    assert created.status_code == 201, created.text
    buyer = {"name": "Ali", "phone": "09121234567"}
    started = http.post(f"{runner.url}/{created.json()['code']}", data=buyer)
    back = act(http, open_gateway(http, started), "pay")
    assert back is not None
    assert back.deliver(http).status_code == 303


def _settle(runner: Runner, http: httpx.Client) -> httpx.Response:
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    return http.post(f"{runner.url}/_local/invoke/SettleFunction", json={"date": day})


def _settlement(runner: Runner, http: httpx.Client, key: str) -> dict[str, Any]:
    answer = http.get(f"{runner.url}/v1/settlements", headers={"Authorization": f"Bearer {key}"})
    [settlement] = answer.json()["items"]
    return dict(settlement)


def _transfers_sent(runner: Runner, http: httpx.Client, settlement_id: str) -> dict[str, int]:
    """Submissions the sandbox's Jibit took, per transfer id of this settlement."""
    counts: dict[str, int] = {}
    for call in http.get(f"{runner.sandbox_url}/p/calls").json():
        if call["method"] == "POST" and call["path"] == "/v2/transfers" and call["http_status"] == 200:
            tid = call["body"]["transfers"][0]["transferID"]
            if tid.startswith(settlement_id):
                counts[tid] = counts.get(tid, 0) + 1
    return counts


@pytest.fixture
def jibit(runner: Runner) -> Iterator[Runner]:
    yield runner
    httpx.post(f"{runner.sandbox_url}/p/mode", json={"mode": "ok"}, timeout=10)


def test_the_runner_pays_out_through_its_sandbox_jibit_instance(jibit: Runner):
    with httpx.Client(timeout=60) as http:
        # Then the sandbox lists its payout instance beside the gateways
        instances = http.get(f"{jibit.sandbox_url}/").json()["instances"]
        assert {"name": "p", "mode": "ok", "protocol": "jibit"} in [
            {k: i[k] for k in ("name", "mode", "protocol")} for i in instances
        ]
        # Given a paid payment
        key = jibit.create_merchant("e2e_jibit_ok", gateways="sandbox-a")
        _paid_payment(jibit, http, key)
        # When the next business day is settled
        assert _settle(jibit, http).status_code == 200
        # Then the settlement was paid by one transfer of its net, asked about until TRANSFERRED
        settlement = _settlement(jibit, http, key)
        assert (settlement["status"], settlement["payout_attempts"]) == ("paid", 1)
        assert _transfers_sent(jibit, http, settlement["id"]) == {f"{settlement['id']}-1": 1}


def test_a_failed_transfer_is_retried_as_a_new_attempt_never_twice(jibit: Runner):
    with httpx.Client(timeout=60) as http:
        # Given a paid payment and Jibit's bank failing transfers
        key = jibit.create_merchant("e2e_jibit_fails", gateways="sandbox-a")
        _paid_payment(jibit, http, key)
        assert http.post(f"{jibit.sandbox_url}/p/mode", json={"mode": "transfer_fails"}).status_code == 200
        # When the day is settled
        assert _settle(jibit, http).status_code == 200
        # Then the settlement failed, with the bank's reason
        failed = _settlement(jibit, http, key)
        assert (failed["status"], failed["failure_reason"]) == ("failed", "the destination account is closed")
        # When the bank works again and the next run comes
        http.post(f"{jibit.sandbox_url}/p/mode", json={"mode": "ok"})
        assert _settle(jibit, http).status_code == 200
        assert _settle(jibit, http).status_code == 200
        # Then a new attempt under a new transfer id paid it; each attempt was sent exactly once
        paid = _settlement(jibit, http, key)
        assert (paid["status"], paid["payout_attempts"]) == ("paid", 2)
        sid = paid["id"]
        assert _transfers_sent(jibit, http, sid) == {f"{sid}-1": 1, f"{sid}-2": 1}


def test_a_lost_answer_is_resolved_by_asking_for_the_transfer_not_by_sending_it_again(jibit: Runner):
    with httpx.Client(timeout=90) as http:
        # Given a paid payment and Jibit taking transfers but answering after our timeout
        key = jibit.create_merchant("e2e_jibit_lost", gateways="sandbox-a")
        _paid_payment(jibit, http, key)
        http.post(f"{jibit.sandbox_url}/p/mode", json={"mode": "answer_lost"})
        # When the day is settled
        assert _settle(jibit, http).status_code == 200
        # Then the transfer went once, and asking for its id found it and paid the settlement
        settlement = _settlement(jibit, http, key)
        assert settlement["status"] == "paid"
        assert _transfers_sent(jibit, http, settlement["id"]) == {f"{settlement['id']}-1": 1}


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """A runner whose stack is production-stage but names the sandbox payout provider."""
    with start_runner(
        tmp_path_factory.mktemp("production"), PAYLINK_PAYOUT_PROVIDER="sandbox", PAYLINK_STAGE="prod"
    ) as running:
        yield running


def test_a_production_stage_refuses_sandbox_payouts_loudly(production: Runner):
    with httpx.Client(timeout=60) as http:
        # Given a paid payment in a production-stage stack with the sandbox payout provider
        key = production.create_merchant("e2e_prod_sandbox", gateways="sandbox-a")
        _paid_payment(production, http, key)
        # When the daily settlement runs
        answer = _settle(production, http)
        # Then it fails with a clear error, and nothing was settled, let alone marked paid
        assert answer.status_code == 500
        assert answer.json()["errorType"] == "PayoutNotConfigured"
        assert "sandbox payouts move no money" in answer.json()["errorMessage"]
        listed = http.get(f"{production.url}/v1/settlements", headers={"Authorization": f"Bearer {key}"})
        assert listed.json()["items"] == []
        # And the refusal was logged for the alarm's metric
        assert "payout provider refused" in production.output.read_text()


def test_the_settle_worker_reports_a_refused_message_as_an_item_failure(production: Runner):
    # Given a settle message queued in a stack whose payout provider is refused
    state = json.loads(Path(production.state_file).read_text())
    sqs = boto3.client(
        "sqs",
        endpoint_url=state["dynamodb_endpoint"],
        region_name=state["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    day = next_business_day(local_date(utcnow(), "Asia/Tehran"), "IR").isoformat()
    sqs.send_message(
        QueueUrl=state["queues"]["SettleQueue"], MessageBody=json.dumps({"merchant_id": "mer_x", "date": day})
    )
    # When the worker receives it (a batch of one, every message failing)
    deadline = time.monotonic() + 30
    log = ""
    while "will be retried" not in log and time.monotonic() < deadline:
        time.sleep(0.5)
        log = production.output.read_text()
    # Then it reported the message for retry instead of failing the invocation (a Lambda error)
    assert "SettleWorkerFunction: 1 message(s) will be retried" in log
    assert "BatchProcessingError" not in log
