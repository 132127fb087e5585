"""Gateway health: time buckets of real outcomes, a circuit breaker per gateway, and the order of trial.

Every gateway request's outcome and latency lands in a one-minute bucket of its gateway. A
gateway's score is its success rate over the last WINDOW_BUCKETS minutes (with a prior, so a
quiet gateway is not judged on one request) less a penalty for slowness. The circuit breaker:

  closed    -- tried normally; FAILURE_THRESHOLD consecutive failures open it
  open      -- not tried for COOLDOWN
  half_open -- after the cool-down, one request (a checkout or the probe) claims the trial;
               its outcome closes the circuit or opens it again for another cool-down

Buyer cancels and card declines are not gateway failures; only transport errors, timeouts and
5xx-like answers are.

A checkout's success on a quiet gateway (closed, no failure since its last success) is counted
in its bucket one time in SUCCESS_SAMPLE, for SUCCESS_SAMPLE attempts: rates and mean latency stay
right on average, and most checkouts move their payment with one plain write instead of a
transaction with a bucket (issue 18). Failures, timeouts, circuit moves and the probe's outcomes
are always counted one by one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

BUCKET = timedelta(minutes=1)
WINDOW_BUCKETS = 5
FAILURE_THRESHOLD = 3
COOLDOWN = timedelta(seconds=30)
SLOW_MS = 2_000  # mean latency above this costs score
PRIOR_SUCCESSES, PRIOR_ATTEMPTS = 4, 5  # a new gateway starts at 80 %: tried, but not above a proven one
SUCCESS_SAMPLE = 8  # a quiet gateway's successes: one in this many is counted, for this many


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Outcome:
    """One request to a gateway: did it work, did it time out, how long did it take."""

    gateway: str
    ok: bool
    timeout: bool
    latency_ms: int


@dataclass
class Bucket:
    attempts: int = 0
    successes: int = 0
    failures: int = 0
    timeouts: int = 0
    latency_ms_sum: int = 0


@dataclass
class GatewayHealth:
    """What the table says of one gateway: its circuit and its recent buckets."""

    name: str
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: str | None = None
    trial_at: str | None = None
    buckets: list[Bucket] = field(default_factory=list)

    @property
    def totals(self) -> Bucket:
        total = Bucket()
        for bucket in self.buckets:
            total.attempts += bucket.attempts
            total.successes += bucket.successes
            total.failures += bucket.failures
            total.timeouts += bucket.timeouts
            total.latency_ms_sum += bucket.latency_ms_sum
        return total

    @property
    def success_rate(self) -> float:
        total = self.totals
        return (total.successes + PRIOR_SUCCESSES) / (total.attempts + PRIOR_ATTEMPTS)

    @property
    def timeout_rate(self) -> float:
        total = self.totals
        return total.timeouts / total.attempts if total.attempts else 0.0

    @property
    def mean_latency_ms(self) -> int:
        total = self.totals
        return total.latency_ms_sum // total.attempts if total.attempts else 0

    @property
    def score(self) -> float:
        penalty = 0.2 if self.mean_latency_ms > SLOW_MS else 0.0
        return self.success_rate - penalty


class Eligibility(StrEnum):
    READY = "ready"  # closed: try it
    TRIAL = "trial"  # cool-down over: try it once, after claiming the trial
    RESTING = "resting"  # open, or another request holds the trial


def utcnow() -> datetime:
    return datetime.now(UTC)


def bucket_key(moment: datetime) -> str:
    """The one-minute bucket a moment falls in, as sortable text."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def window_keys(now: datetime) -> list[str]:
    """The buckets that count now, newest first."""
    return [bucket_key(now - BUCKET * i) for i in range(WINDOW_BUCKETS)]


def eligibility(health: GatewayHealth, now: datetime) -> Eligibility:
    """Whether a gateway may be tried now, by its circuit."""
    if health.state is CircuitState.CLOSED:
        return Eligibility.READY
    if health.state is CircuitState.OPEN:
        opened = _parse(health.opened_at)
        return Eligibility.TRIAL if opened is None or now - opened >= COOLDOWN else Eligibility.RESTING
    trial = _parse(health.trial_at)  # half-open: a trial is running unless its claimant vanished
    return Eligibility.TRIAL if trial is None or now - trial >= COOLDOWN else Eligibility.RESTING


def plan(names: list[str], healths: dict[str, GatewayHealth], now: datetime) -> list[tuple[str, Eligibility]]:
    """The gateways to try, in order: ready ones by score (configured order breaks ties); a gateway
    whose cool-down is over keeps its configured place, so its single trial request does happen."""
    ready = [n for n in names if eligibility(healths.get(n, GatewayHealth(n)), now) is Eligibility.READY]
    ranked = sorted(ready, key=lambda n: -healths.get(n, GatewayHealth(n)).score)
    order: list[tuple[str, Eligibility]] = []
    for name in names:
        state = eligibility(healths.get(name, GatewayHealth(name)), now)
        if state is Eligibility.TRIAL:
            order.append((name, state))
        elif state is Eligibility.READY:
            order.append((ranked.pop(0), Eligibility.READY))
    return order


def next_circuit(health: GatewayHealth, outcome: Outcome, now: datetime) -> tuple[CircuitState, int]:
    """The circuit after an outcome: (state, consecutive failures)."""
    if outcome.ok:
        return CircuitState.CLOSED, 0
    failures = health.failures + 1
    if health.state is not CircuitState.CLOSED or failures >= FAILURE_THRESHOLD:
        return CircuitState.OPEN, failures
    return CircuitState.CLOSED, failures


def sampled_success_weight() -> int:
    """What a checkout's success on a quiet gateway counts in its bucket: SUCCESS_SAMPLE attempts
    one time in SUCCESS_SAMPLE, else nothing (not a secret: `random` is fine)."""
    return SUCCESS_SAMPLE if random.randrange(SUCCESS_SAMPLE) == 0 else 0


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
