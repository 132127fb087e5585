"""bench/flows.py on the smallest input: the call-count limits of the issue hold in `make test`."""

from __future__ import annotations

from bench.flows import System, limits, run_flows, settle_figures
from paylink.core.models import PaymentStatus


def test_every_flow_keeps_its_dynamodb_call_limits():
    # Given the real handlers on moto and the sandbox gateway
    with System() as system:
        # When every flow runs once and two merchants of 1 and 2 payments are settled
        result = run_flows(system, small=1, large=2)
        settle = settle_figures(system, result)
        checks = limits(system, settle)
        ends = {system.store.get_payment(payment_id).status for payment_id in result["unpaid"]}
    unpaid = system.flows["unpaid"]
    # Then no limit is broken: a click is one read and no write, checkout and callback make
    # at most 3 calls, settlement at most 2 writes per payment, reconcile writes nothing
    assert [(name, detail) for name, passed, detail in checks if not passed] == []
    assert system.flows["click"].operations == ["GetItem"]
    assert settle.marginal["items_written"] <= 2
    # And every write the meter saw was billed at least one write request unit
    assert all(call.wru >= 1 for flow in system.flows.values() for call in flow.calls if call.items_written)
    # And a checkout whose buyer cancels at the gateway is measured to its end, not its checkout
    # again: the cancelled return (one gateway verify) and its page, then the cancelled webhook
    assert ends == {PaymentStatus.CANCELLED}
    assert set(unpaid.steps) == {"GET /callback/{gateway}", "GET /r/{payment_id}", "NotifyWorkerFunction"}
    assert unpaid.gateway_waits["CallbackFunction"] == unpaid.gateway_calls == unpaid.runs
    assert result["unpaid_events"] == ["payment.cancelled"] * len(result["unpaid"])
