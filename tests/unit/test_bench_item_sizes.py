"""The item sizes, request units, storage and durations bench/flows.py bills, by AWS's published rules."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from bench.flows import item_size, read_units, write_units


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"pk": {"S": "LINK#abc"}}, 2 + 8),  # name + UTF-8 bytes
        ({"title": {"S": "شال"}}, 5 + 6),  # Persian letters are 2 bytes each
        ({"amount": {"N": "1200000"}}, 6 + 1 + 1),  # one significant digit pair + 1
        ({"n": {"N": "12345"}}, 1 + 3 + 1),  # five significant digits: 3 bytes + 1
        ({"ok": {"BOOL": True}, "x": {"NULL": True}}, 3 + 2),
        ({"m": {"M": {"a": {"S": "bc"}}}}, 1 + 3 + (1 + 2 + 1)),  # 3 B map + 1 B per element
        ({"l": {"L": [{"S": "a"}, {"S": "b"}]}}, 1 + 3 + 2 * (1 + 1)),
    ],
)
def test_item_size_follows_dynamodb_rules(item, size):
    # Given an item in DynamoDB's wire format, When its size is taken, Then it is names + values
    assert item_size(item) == size


def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent():
    # Given items of 1 byte, 4 KB and 4 KB + 1 byte
    sizes = [1, 4096, 4097]
    # Then Get-style reads round each item up; a query rounds the total
    assert read_units(sizes, consistent=True) == 1 + 1 + 2
    assert read_units(sizes, consistent=False) == 2.0
    assert read_units(sizes, consistent=True, per_item=False) == 3


def test_writes_round_up_to_1_kb():
    assert [write_units(s) for s in (0, 1, 1024, 1025)] == [1, 1, 1, 2]


def test_an_init_is_billed_for_the_cold_share_at_the_functions_cpu_share():
    import argparse
    from types import SimpleNamespace

    from bench.flows import PRICES, init_usd_per_invocation

    # Given a 512 MB function whose init took 0.3 s here on a full core, and 1% cold starts
    system = SimpleNamespace(inits={"F": 0.3}, memory_mb=lambda _: 512)
    args = argparse.Namespace(cold_share=0.01)
    # Then an invocation pays 1% of an init 1769/512 times as long, at 0.5 GB
    expected = 0.01 * 0.3 * 1769 / 512 * 0.5 * PRICES["lambda_gbs"].usd
    assert init_usd_per_invocation(system, "F", args) == pytest.approx(expected)  # type: ignore[arg-type]
    # And one at or past a whole vCPU (1,769 MB) takes the init as measured
    big = SimpleNamespace(inits={"F": 0.3}, memory_mb=lambda _: 2048)
    assert init_usd_per_invocation(big, "F", args) == pytest.approx(0.01 * 0.3 * 2 * PRICES["lambda_gbs"].usd)  # type: ignore[arg-type]
    # And a function not measured pays none
    assert init_usd_per_invocation(system, "G", args) == 0  # type: ignore[arg-type]


def test_pitr_is_billed_on_the_items_not_on_their_global_index_entries():
    from bench.flows import GB, PRICES, storage_usd

    # Given 1 GB of items and 1 GB of their GSI entries kept for a month
    usd = storage_usd(item_bytes=GB, index_bytes=GB, months=1)
    # Then the items pay storage and PITR, the index entries storage alone (PITR is billed on the
    # table's data and its local secondary indexes)
    assert usd == pytest.approx(2 * PRICES["storage"].usd + PRICES["pitr"].usd)


def waiting_handler(event: dict, context: object) -> dict:
    time.sleep(0.3)  # a wait, as on the gateway's answer over HTTP
    return {"statusCode": 200}


def test_a_handler_is_billed_for_the_cpu_it_uses_not_for_the_time_it_waits():
    from bench.flows import Flow, System

    # Given a handler that waits 0.3 s and does next to nothing else
    system = System()
    system.functions = {
        "F": SimpleNamespace(module=__name__, handler="waiting_handler", logical_id="F", timeout=3)
    }  # type: ignore[dict-item]
    system.meter = SimpleNamespace(calls=[])  # type: ignore[assignment]
    system.current = Flow("wait")
    # When it is invoked in a measured flow
    system.invoke("F", {})
    # Then its duration is its own CPU time, not the wait (the bench adds --gateway-ms per gateway call)
    (seconds,) = system.current.invocations["F"]
    assert seconds < 0.1


def test_a_gateway_wait_is_billed_to_the_function_that_waited_not_to_every_function_of_its_flow():
    from bench.flows import Flow, warm_seconds

    # Given a flow whose return (CallbackFunction) called the gateway once and whose webhook
    # (NotifyWorkerFunction) did not
    flow = Flow("unpaid")
    flow.invocations["CallbackFunction"] += [0.1]
    flow.invocations["NotifyWorkerFunction"] += [0.05]
    flow.gateway_calls = 1
    flow.gateway_waits["CallbackFunction"] = 1
    # Then the 300 ms wait is the callback's alone
    assert warm_seconds(flow, "CallbackFunction", gateway_ms=300) == pytest.approx(0.4)
    assert warm_seconds(flow, "NotifyWorkerFunction", gateway_ms=300) == pytest.approx(0.05)


def test_cpu_measured_here_is_taken_at_512_mb_and_scales_with_lambdas_cpu_share():
    from bench.flows import Flow, warm_seconds

    # Given a return that used 0.1 s of CPU here and waited on one gateway call
    flow = Flow("callback")
    flow.invocations["CallbackFunction"] += [0.1]
    flow.gateway_waits["CallbackFunction"] = 1
    # Then at 512 MB (the size the measured figure stands for) it bills what was measured
    assert warm_seconds(flow, "CallbackFunction", gateway_ms=300, memory_mb=512) == pytest.approx(0.4)
    # And at 256 MB its CPU takes twice as long (half the CPU share) while the wait does not
    assert warm_seconds(flow, "CallbackFunction", gateway_ms=300, memory_mb=256) == pytest.approx(0.5)
    # And past a whole vCPU (1,769 MB) the CPU part takes 512/1769 of the figure
    assert warm_seconds(flow, "CallbackFunction", gateway_ms=300, memory_mb=2048) == pytest.approx(
        0.1 * 512 / 1769 + 0.3
    )
