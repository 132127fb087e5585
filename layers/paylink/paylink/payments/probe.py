"""Gateway probe (every minute): a token request to each gateway that may be tried, whose outcome
feeds its health; a gateway whose cool-down is over gets its one trial here if no buyer took it."""

from __future__ import annotations

import time
from datetime import datetime

from paylink.core.models import iso
from paylink.core.observability import Dimension, Metric, logger, put_metrics
from paylink.payments import health, routing
from paylink.payments.health import CircuitState, Eligibility, GatewayHealth, Outcome
from paylink.store import Store


def probe(store: Store, now: datetime, base_url: str) -> dict[str, str]:
    """Probe every configured gateway once; returns each one's verdict (ok, failed, resting...)."""
    from paylink.payments.gateways.base import ErrorKind, GatewayError

    names = routing.gateway_names()
    healths = store.gateway_healths(names, health.window_keys(now))
    verdicts: dict[str, str] = {}
    outcomes: list[tuple[Outcome, GatewayHealth]] = []
    for name in names:
        gateway = routing.adapter(name)
        state = health.eligibility(healths[name], now)
        if gateway is None or state is Eligibility.RESTING:
            verdicts[name] = "resting"
            continue
        if state is Eligibility.TRIAL and not store.claim_trial(name, iso(now), iso(now - health.COOLDOWN)):
            verdicts[name] = "trial_taken"
            continue
        amount = max(gateway.capabilities.min_amount_irr, 10_000)
        begun = time.monotonic()
        try:
            gateway.create(
                order_id=f"probe-{int(now.timestamp())}",
                amount_irr=amount - amount % 10,
                callback_url=f"{base_url}/callback/{name}",
                description="paylink health probe",
                mobile=None,
            )
            ok, timeout = True, False
        except GatewayError as exc:
            ok, timeout = exc.kind is ErrorKind.BUSINESS, exc.code == "timeout"
        latency = round((time.monotonic() - begun) * 1000)
        outcomes.append((Outcome(name, ok=ok, timeout=timeout, latency_ms=latency), healths[name]))
        verdicts[name] = "ok" if ok else "failed"
    store.record_health(outcomes, now)
    _report_circuits(healths, outcomes, now)
    logger.info("gateways probed", extra={"verdicts": verdicts})
    return verdicts


def _report_circuits(
    healths: dict[str, GatewayHealth], outcomes: list[tuple[Outcome, GatewayHealth]], now: datetime
) -> None:
    """CircuitOpen per gateway as the probe left it: 1 unless closed (open or on trial), else 0;
    rolled up without the gateway, so one alarm on its maximum covers every configured gateway."""
    states = {name: gateway_health.state for name, gateway_health in healths.items()}
    for outcome, gateway_health in outcomes:
        states[outcome.gateway] = health.next_circuit(gateway_health, outcome, now)[0]
    for name, state in states.items():
        put_metrics(
            {Metric.CIRCUIT_OPEN: 0 if state is CircuitState.CLOSED else 1},
            dimensions={Dimension.GATEWAY: name},
            rollups=[()],
        )
