"""Gateway health: circuit breakers and per-minute outcome buckets, and the checkout's one read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from paylink.core.models import (
    Link,
    iso,
)
from paylink.payments.health import (
    Bucket,
    CircuitState,
    GatewayHealth,
    Outcome,
    bucket_key,
    next_circuit,
    sampled_success_weight,
)
from paylink.store.table import Table, _is_conditional_failure

HEALTH_TTL_SECONDS = 86_400


class GatewayItems(Table):
    """Gateway health items."""

    def checkout_context(
        self, code: str, gateways: Sequence[str], buckets: Sequence[str]
    ) -> tuple[Link | None, dict[str, GatewayHealth]]:
        """In one read: the link (with its merchant's limits) and each gateway's health."""
        keys = [{"pk": f"LINK#{code}", "sk": "LINK"}]
        for name in gateways:
            keys.append({"pk": f"GATEWAY#{name}", "sk": "CIRCUIT"})
            keys.extend({"pk": f"GATEWAY#{name}", "sk": f"HEALTH#{bucket}"} for bucket in buckets)
        link = None
        healths = {name: GatewayHealth(name) for name in gateways}
        for item in self._batch_get(keys):
            if item["sk"] == "LINK":
                link = Link.model_validate(item)
            else:
                self._apply_health_item(healths[item["pk"].removeprefix("GATEWAY#")], item)
        return link, healths

    def gateway_healths(self, gateways: Sequence[str], buckets: Sequence[str]) -> dict[str, GatewayHealth]:
        """Each gateway's circuit and recent buckets (for the probe)."""
        keys = []
        for name in gateways:
            keys.append({"pk": f"GATEWAY#{name}", "sk": "CIRCUIT"})
            keys.extend({"pk": f"GATEWAY#{name}", "sk": f"HEALTH#{bucket}"} for bucket in buckets)
        healths = {name: GatewayHealth(name) for name in gateways}
        for item in self._batch_get(keys):
            self._apply_health_item(healths[item["pk"].removeprefix("GATEWAY#")], item)
        return healths

    @staticmethod
    def _apply_health_item(health: GatewayHealth, item: dict[str, Any]) -> None:
        if item["sk"] == "CIRCUIT":
            health.state = CircuitState(item.get("state", CircuitState.CLOSED.value))
            health.failures = int(item.get("failures", 0))
            health.opened_at = item.get("opened_at")
            health.trial_at = item.get("trial_at")
        else:
            health.buckets.append(
                Bucket(
                    attempts=int(item.get("attempts", 0)),
                    successes=int(item.get("successes", 0)),
                    failures=int(item.get("failures", 0)),
                    timeouts=int(item.get("timeouts", 0)),
                    latency_ms_sum=int(item.get("latency_ms_sum", 0)),
                )
            )

    def claim_trial(self, gateway: str, now: str, cooled_before: str) -> bool:
        """Take the one trial request of a gateway whose cool-down is over; False if another has it."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"GATEWAY#{gateway}", "sk": "CIRCUIT"},
                UpdateExpression="SET #st = :half, trial_at = :now",
                ConditionExpression="(#st = :open AND opened_at <= :cooled) OR "
                "(#st = :half AND (attribute_not_exists(trial_at) OR trial_at <= :cooled))",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={
                    ":half": CircuitState.HALF_OPEN.value,
                    ":open": CircuitState.OPEN.value,
                    ":now": now,
                    ":cooled": cooled_before,
                },
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def health_items(
        self, outcomes: Sequence[tuple[Outcome, GatewayHealth]], now: datetime, *, sampled: bool = True
    ) -> list[dict[str, Any]]:
        """Transaction items recording outcomes in their buckets and moving their circuits.

        With `sampled` (a checkout's), a success on a quiet circuit is counted one time in
        SUCCESS_SAMPLE, for that many (paylink.payments.health); then often nothing is written.
        Unconditional on purpose: they ride in the payment's own transaction, which must never
        fail because two requests judged a gateway at once.
        """
        items = []
        bucket = bucket_key(now)
        stamp = iso(now)
        for outcome, health in outcomes:
            state, failures = next_circuit(health, outcome, now)
            # A success on a closed circuit with no failure changes nothing of the circuit: no
            # write (issue 18). A failure that raced it keeps its count, as if it came after this
            # success, which it may well have.
            quiet = (
                (state, failures) == (health.state, health.failures)
                and state is CircuitState.CLOSED
                and (health.trial_at is None)
            )
            weight = sampled_success_weight() if quiet and sampled else 1
            if weight:
                items.append(self._bucket_item(outcome, bucket, weight, now))
            if quiet:
                continue
            circuit_values: dict[str, Any] = {":state": state.value, ":failures": failures}
            expression = "SET #st = :state, failures = :failures"
            if state is CircuitState.OPEN:  # (re)opened: the cool-down starts now
                expression += ", opened_at = :at"
                circuit_values[":at"] = stamp
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"GATEWAY#{outcome.gateway}", "sk": "CIRCUIT"},
                        "UpdateExpression": expression + " REMOVE trial_at",
                        "ExpressionAttributeNames": {"#st": "state"},
                        "ExpressionAttributeValues": circuit_values,
                    }
                }
            )
        return items

    def _bucket_item(self, outcome: Outcome, bucket: str, weight: int, now: datetime) -> dict[str, Any]:
        """An outcome counted `weight` times in its gateway's bucket of the minute."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"GATEWAY#{outcome.gateway}", "sk": f"HEALTH#{bucket}"},
                "UpdateExpression": "ADD attempts :n, successes :ok, failures :bad, "
                "timeouts :slow, latency_ms_sum :ms SET #ttl = :ttl",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {
                    ":n": weight,
                    ":ok": weight * int(outcome.ok),
                    ":bad": weight * int(not outcome.ok),
                    ":slow": weight * int(outcome.timeout),
                    ":ms": weight * outcome.latency_ms,
                    ":ttl": int(now.timestamp()) + HEALTH_TTL_SECONDS,
                },
            }
        }

    def record_health(self, outcomes: Sequence[tuple[Outcome, GatewayHealth]], now: datetime) -> None:
        """Record outcomes on their own (the probe's: every one counted)."""
        items = self.health_items(outcomes, now, sampled=False)
        if items:
            self.client.transact_write_items(TransactItems=items)
