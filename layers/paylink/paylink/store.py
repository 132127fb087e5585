"""The only module that talks to DynamoDB.

One table, keys `pk`/`sk`, three overloaded GSIs (see template.yaml):
  MERCHANT#{id}/PROFILE      merchant; gsi1 UNSETTLED/{id} while it has unsettled money (sparse)
  USERNAME#{u}/USERNAME      username -> merchant id (uniqueness)
  APIKEY#{sha256}/APIKEY     hashed API key -> merchant id
  LINK#{code}/LINK           link; gsi1 MERCHANT#{id}#LINKS/{created_at}#{code}
  COUPON#{mid}#{code}/COUPON    coupon with its uses counter; gsi1 MERCHANT#{id}#COUPONS/{created_at}#{code}
  LINK#{code}/LINK           an invoice with a due date is also on gsi2 DUE#{due_date}/{code}
  REMINDER#{code}/{reminder}    an invoice reminder already sent (before_1, after_1, after_3)
  PAYMENT#{id}/PAYMENT       payment; gsi1 LINK#{code}#PAYMENTS, gsi2 MERCHANT#{id}#PAYMENTS (by created_at),
                             gsi3 MERCHANT#{id}#UNSETTLED/{paid_at}#{id} once paid,
                             then SETTLEMENT#{sid} once settled
  GWTOKEN#{gw}#{token}/GWTOKEN  gateway token -> payment id
  SETTLEMENT#{sid}/SETTLEMENT   settlement; gsi1 MERCHANT#{id}#SETTLEMENTS/{date}
  DAILY#{mid}#{date}/DAILY      a merchant's amount reserved for a calendar day (daily cap)
  SETTLEMENT#{sid}/SETTLEMENT   also gsi3 MERCHANT#{id}#PAYOUTS_DUE/{date}#{sid} until it is paid
  PAYOUT#{sid}/PAYOUT           the sandbox payout provider's record (one per settlement)
  PAYOUT#{sid}/ATTEMPT#{n}      a bank batch line, attempt n; gsi1 BATCH#{day}/{sid}#{n}
  BATCH#{day}/FILE              a bank batch file as issued to the operator (immutable)
  GATEWAY#{name}/CIRCUIT        a gateway's circuit breaker
  GATEWAY#{name}/HEALTH#{minute}  a gateway's outcomes in one minute (TTL one day)
  GWREF#{gw}#{reference}/GWREF  a gateway reference already credited (no reference credits twice)
  RETURN#{gw}#{day}/{time}#{n}  a gateway return that changed nothing (forged, unknown, mismatched)
  IDEMPOTENCY#{merchant_id}/merchant-api#{sha256}  a merchant request's Idempotency-Key record
                                   (Powertools; TTL one day; one partition per merchant, no hot key)
While a payment is undecided, gsi3 holds PENDING#{shard}/{created_at}#{id}: the
reconciler's work list, spread over PENDING_SHARDS partitions.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from paylink.core.errors import Conflict, LimitExceeded, PaymentInProgress, ValidationFailed
from paylink.core.models import (
    SETTLEMENT_MOVES,
    Coupon,
    Link,
    LinkKind,
    Merchant,
    Payment,
    PaymentStatus,
    Settlement,
    SettlementStatus,
    iso,
    sources_of,
)
from paylink.core.settings import get_settings
from paylink.payments.health import Bucket, CircuitState, GatewayHealth, Outcome, bucket_key, next_circuit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

UNSETTLED_MERCHANTS = "UNSETTLED"
IDEMPOTENCY_PK = "IDEMPOTENCY"
PAGE_SIZE = 50
PENDING_SHARDS = 8
SETTLE_PAGE = 99  # payments per settlement transaction (DynamoDB allows 100 items: 99 + the totals)
HEALTH_TTL_SECONDS = 86_400
RETURN_RECORD_TTL_SECONDS = 90 * 86_400


def pending_shard(payment_id: str) -> str:
    return f"PENDING#{sum(payment_id.encode()) % PENDING_SHARDS}"


class PaidResult(StrEnum):
    """How an attempt to mark a payment paid ended."""

    CREDITED = "credited"
    ALREADY_FINAL = "already_final"  # another return got there first: nothing to do
    SOLD_OUT = "sold_out"  # the link's stock ran out meanwhile: reverse the payment
    REFERENCE_REUSED = "reference_reused"  # the gateway reference was credited before: a replay


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints, recursively (we store no fractional numbers)."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: DynamoDB needs no nulls, and absent reads back as the model's default."""
    return {k: v for k, v in item.items() if v is not None}


def _is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _cancellation_codes(exc: Exception) -> list[str]:
    reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
    return [reason.get("Code", "None") for reason in reasons]


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, expected_pk: str, pk_name: str) -> dict[str, Any] | None:
    """A cursor from an earlier page; one of another list or another merchant is refused.

    It must be exactly a key of this list's index (the table's and the index's key parts, all
    text): anything else would reach DynamoDB as a malformed ExclusiveStartKey, a 500.
    """
    if not cursor:
        return None
    refused = ValidationFailed("invalid cursor", fields={"cursor": "not a cursor of this list"})
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:  # not base64, not UTF-8 or not JSON
        raise refused from exc
    parts = {"pk", "sk", pk_name, pk_name.replace("pk", "sk")}
    if (
        not isinstance(key, dict)
        or set(key) != parts
        or not all(isinstance(value, str) for value in key.values())
        or key[pk_name] != expected_pk
    ):
        raise refused
    return key


class Store:
    """DynamoDB access for every flow; methods say what they do in domain words."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client  # the resource-level client: plain Python values in and out

    # ---- merchants and API keys -------------------------------------------------------------

    def create_merchant(self, merchant: Merchant, api_key_hash: str) -> None:
        """Store a merchant, its unique username and its hashed API key, all or nothing."""
        item = {"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE", **merchant.model_dump(mode="json")}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    self._put(_clean(item), condition="attribute_not_exists(pk)"),
                    self._put(
                        {"pk": f"USERNAME#{merchant.username}", "sk": "USERNAME", "merchant_id": merchant.id},
                        condition="attribute_not_exists(pk)",
                    ),
                    self._put(
                        {"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY", "merchant_id": merchant.id},
                        condition="attribute_not_exists(pk)",
                    ),
                ]
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise Conflict("username already taken", fields={"username": "already taken"}) from exc
            raise

    def replace_merchant(self, merchant: Merchant) -> None:
        """Write a merchant's profile fields back (its settlement flags are left as they are)."""
        fields = merchant.model_dump(mode="json", exclude={"id", "username", "created_at"})
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        sets = [f"#f{i} = :v{i}" for i, name in enumerate(fields) if fields[name] is not None]
        removes = [f"#f{i}" for i, name in enumerate(fields) if fields[name] is None]
        values = {f":v{i}": fields[name] for i, name in enumerate(fields) if fields[name] is not None}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.client.update_item(
            TableName=self.table,
            Key={"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE"},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def refresh_link_snapshots(self, merchant: Merchant) -> int:
        """Copy a merchant's name, limits and gateway choice onto every one of its links."""
        snapshot = {
            "merchant_name": merchant.name,
            "merchant_per_payment_cap": merchant.per_payment_cap,
            "merchant_daily_cap": merchant.daily_cap,
            "merchant_gateways": merchant.gateways,
        }
        count = 0
        for item in self._query_all("gsi1", "gsi1pk", f"MERCHANT#{merchant.id}#LINKS"):
            self.update_link(merchant.id, str(item["code"]), snapshot)
            count += 1
        # The unlisted personal page (if made yet): its ceiling is the merchant's limit per payment.
        personal = {**snapshot, "max_amount": merchant.per_payment_cap}
        if self.update_link(merchant.id, f"u-{merchant.username}", personal) is not None:
            count += 1
        return count

    def webhook_delivery(self, event_id: str) -> dict[str, Any]:
        """How far an event's delivery has got: tries made, when the next is due, whether it is done."""
        item = self._get(f"WEBHOOK#{event_id}", "DELIVERY", consistent=True) or {}
        return {"attempts": int(item.get("attempts", 0)), "next_at": int(item.get("next_at_ms", 0)) / 1000,
                "done": bool(item.get("done", False))}  # fmt: skip

    def record_webhook_try(self, event_id: str, attempt: int, *, next_at: float, done: bool) -> None:
        """Count a try of an event's delivery (kept 7 days)."""
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": f"WEBHOOK#{event_id}", "sk": "DELIVERY", "attempts": attempt,
                "next_at_ms": int(next_at * 1000), "done": done, "ttl": int(next_at) + 7 * 86_400,
            },
        )  # fmt: skip

    def get_merchant(self, merchant_id: str) -> Merchant | None:
        item = self._get(f"MERCHANT#{merchant_id}", "PROFILE")
        return Merchant.model_validate(item) if item else None

    def merchant_for_api_key(self, api_key_hash: str) -> Merchant | None:
        ref = self._get(f"APIKEY#{api_key_hash}", "APIKEY")
        return self.get_merchant(ref["merchant_id"]) if ref else None

    def merchant_id_for_username(self, username: str) -> str | None:
        ref = self._get(f"USERNAME#{username}", "USERNAME")
        return str(ref["merchant_id"]) if ref else None

    def set_notification_settings(self, merchant_id: str, settings: dict[str, str | None]) -> None:
        """Write a merchant's webhook URL, webhook secrets or Telegram chat (None removes one)."""
        names = {f"#f{i}": name for i, name in enumerate(settings)}
        sets = [f"#f{i} = :v{i}" for i, name in enumerate(settings) if settings[name] is not None]
        removes = [f"#f{i}" for i, name in enumerate(settings) if settings[name] is None]
        values = {f":v{i}": settings[name] for i, name in enumerate(settings) if settings[name] is not None}
        clauses = [("SET", sets), ("REMOVE", removes)]
        expression = " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses if parts)
        self.client.update_item(
            TableName=self.table,
            Key={"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": values} if values else {}),
        )

    # ---- links ------------------------------------------------------------------------------

    def put_new_link(self, link: Link, *, listed: bool = True) -> bool:
        """Store a link under a fresh code; False when the code is already taken.

        An unlisted link (a merchant's personal page) stays out of the merchant's list of links.
        """
        item = {"pk": f"LINK#{link.code}", "sk": "LINK", **link.model_dump(mode="json")}
        if listed:
            item["gsi1pk"] = f"MERCHANT#{link.merchant_id}#LINKS"
            item["gsi1sk"] = f"{link.created_at}#{link.code}"
        if link.max_payments is not None:
            item["open_slots"] = link.max_payments  # stock not sold and not held by a payment in flight
        if link.kind is LinkKind.INVOICE and link.due_date:
            item["gsi2pk"] = f"DUE#{link.due_date}"  # the reminders' work list for that day
            item["gsi2sk"] = link.code
        try:
            self.client.put_item(
                TableName=self.table, Item=_clean(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def get_link(self, code: str) -> Link | None:
        item = self._get(f"LINK#{code}", "LINK")
        return Link.model_validate(item) if item else None

    def links_of(self, merchant_id: str, cursor: str | None) -> tuple[list[Link], str | None]:
        pk = f"MERCHANT#{merchant_id}#LINKS"
        items, next_key = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True)
        return [Link.model_validate(i) for i in items], encode_cursor(next_key)

    def update_link(
        self,
        merchant_id: str,
        code: str,
        changes: dict[str, Any],
        *,
        expected_max_payments: int | None = None,
    ) -> Link | None:
        """Apply `changes` (None removes the attribute) to a merchant's own link; None if not theirs.

        A change of `max_payments` moves the link's open slots by the same amount, conditional on
        the stock the caller read (`expected_max_payments`), so stock held by payments in flight
        is never double counted.
        """
        sets, removes, adds = [], [], []
        values: dict[str, Any] = {":m": merchant_id}
        names: dict[str, str] = {}
        condition = "merchant_id = :m"
        for i, (name, value) in enumerate(changes.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = value
        if "max_payments" in changes:
            new = changes["max_payments"]
            if expected_max_payments is None:
                condition += " AND attribute_not_exists(max_payments)"
            else:
                condition += " AND max_payments = :old_max"
                values[":old_max"] = expected_max_payments
            if new is None:
                removes.append("open_slots")
            elif expected_max_payments is None:
                # from unlimited to a stock: what is left is the stock less what was already sold
                sets.append("open_slots = :new_max - if_not_exists(paid_count, :zero)")
                values |= {":new_max": new, ":zero": 0}
            else:
                adds.append("open_slots :slot_delta")
                values[":slot_delta"] = new - expected_max_payments
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(sets) if sets else "",
                "REMOVE " + ", ".join(removes) if removes else "",
                "ADD " + ", ".join(adds) if adds else "",
            )
            if part
        )
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": f"LINK#{code}", "sk": "LINK"},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        return Link.model_validate(_plain(answer["Attributes"]))

    def invoices_due(self, due_date: str) -> list[Link]:
        """Invoices whose due date is `due_date` (paid or not: the caller checks)."""
        return [Link.model_validate(i) for i in self._query_all("gsi2", "gsi2pk", f"DUE#{due_date}")]

    def claim_reminder(self, code: str, reminder: str, now: datetime) -> bool:
        """Record that reminder `reminder` of invoice `code` is being sent; False if it was before."""
        item = {
            "pk": f"REMINDER#{code}",
            "sk": reminder,
            "sent_at": iso(now),
            "ttl": int(now.timestamp()) + RETURN_RECORD_TTL_SECONDS,
        }
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    # ---- coupons ----------------------------------------------------------------------------

    def put_new_coupon(self, coupon: Coupon) -> None:
        """Store a coupon; Conflict when the merchant already has one with that code."""
        item = {
            "pk": f"COUPON#{coupon.merchant_id}#{coupon.code}",
            "sk": "COUPON",
            "gsi1pk": f"MERCHANT#{coupon.merchant_id}#COUPONS",
            "gsi1sk": f"{coupon.created_at}#{coupon.code}",
            **coupon.model_dump(mode="json"),
        }
        try:
            self.client.put_item(
                TableName=self.table, Item=_clean(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise Conflict("coupon code already used", fields={"code": "already exists"}) from exc
            raise

    def get_coupon(self, merchant_id: str, code: str) -> Coupon | None:
        item = self._get(f"COUPON#{merchant_id}#{code}", "COUPON", consistent=True)
        return Coupon.model_validate(item) if item else None

    def coupons_of(self, merchant_id: str, cursor: str | None) -> tuple[list[Coupon], str | None]:
        pk = f"MERCHANT#{merchant_id}#COUPONS"
        items, next_key = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True)
        return [Coupon.model_validate(i) for i in items], encode_cursor(next_key)

    # ---- checkout ---------------------------------------------------------------------------

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
        self, outcomes: Sequence[tuple[Outcome, GatewayHealth]], now: datetime
    ) -> list[dict[str, Any]]:
        """Transaction items recording outcomes in their buckets and moving their circuits.

        Unconditional on purpose: they ride in the payment's own transaction, which must never
        fail because two requests judged a gateway at once.
        """
        items = []
        bucket = bucket_key(now)
        stamp = iso(now)
        for outcome, health in outcomes:
            state, failures = next_circuit(health, outcome, now)
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"GATEWAY#{outcome.gateway}", "sk": f"HEALTH#{bucket}"},
                        "UpdateExpression": "ADD attempts :one, successes :ok, failures :bad, "
                        "timeouts :slow, latency_ms_sum :ms SET #ttl = :ttl",
                        "ExpressionAttributeNames": {"#ttl": "ttl"},
                        "ExpressionAttributeValues": {
                            ":one": 1,
                            ":ok": int(outcome.ok),
                            ":bad": int(not outcome.ok),
                            ":slow": int(outcome.timeout),
                            ":ms": outcome.latency_ms,
                            ":ttl": int(now.timestamp()) + HEALTH_TTL_SECONDS,
                        },
                    }
                }
            )
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

    def record_health(self, outcomes: Sequence[tuple[Outcome, GatewayHealth]], now: datetime) -> None:
        """Record outcomes on their own (when no payment is written)."""
        items = self.health_items(outcomes, now)
        if items:
            self.client.transact_write_items(TransactItems=items)

    def reserve_payment(self, payment: Payment, day: str, daily_cap: int | None) -> None:
        """Record a new payment (`created`) with its share of the daily cap and, for a link with
        stock, the unit it holds; all or nothing, before any gateway is asked.

        Raises LimitExceeded when the daily cap would be passed, PaymentInProgress when the last
        units are held by other payments in flight. A payment left `created` (a crash before the
        gateway answered) is expired by the reconciler, which gives its reservations back.
        """
        item = self._payment_item(payment)
        item |= {"gsi3pk": pending_shard(payment.id), "gsi3sk": f"{payment.created_at}#{payment.id}"}
        items = [
            self._put(_clean(item), condition="attribute_not_exists(pk)"),
            self._reserve_daily(payment.merchant_id, day, payment.amount, daily_cap),
        ]
        if payment.holds_slot:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"LINK#{payment.link_code}", "sk": "LINK"},
                        "UpdateExpression": "ADD open_slots :minus",
                        "ConditionExpression": "open_slots >= :one",
                        "ExpressionAttributeValues": {":minus": -1, ":one": 1},
                    }
                }
            )
        coupon_at = len(items)
        if payment.coupon:
            items.append(self._coupon_use(payment, +1))
        try:
            self.client.transact_write_items(TransactItems=items)
        except Exception as exc:
            codes = _cancellation_codes(exc) if _is_conditional_failure(exc) else []
            if codes[1:2] == ["ConditionalCheckFailed"]:
                raise LimitExceeded(
                    "this payment would pass the merchant's daily limit",
                    fields={"amount": "over the daily limit"},
                ) from exc
            if payment.holds_slot and codes[2:3] == ["ConditionalCheckFailed"]:
                raise PaymentInProgress("another payment for this link is in progress") from exc
            if payment.coupon and codes[coupon_at : coupon_at + 1] == ["ConditionalCheckFailed"]:
                raise ValidationFailed("the coupon is used up", fields={"coupon": "coupon_used_up"}) from exc
            raise

    def _coupon_use(self, payment: Payment, delta: int) -> dict[str, Any]:
        """Take (+1, never past max_uses) or give back (-1) one use of the payment's coupon."""
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": f"COUPON#{payment.merchant_id}#{payment.coupon}", "sk": "COUPON"},
            "UpdateExpression": "ADD uses :delta",
            "ExpressionAttributeValues": {":delta": delta},
        }
        if delta > 0:  # giving back is unconditional: it must never block a payment's end
            update["ConditionExpression"] = (
                "attribute_exists(pk) AND (attribute_not_exists(max_uses) OR uses < max_uses)"
            )
        return {"Update": update}

    def record_redirect(self, payment: Payment, extra_items: Sequence[dict[str, Any]] = ()) -> bool:
        """A created payment got its gateway token: `created -> redirected`, with its token index
        (and `extra_items`, the gateways' health); False if the payment had already moved."""
        if not (payment.gateway and payment.gateway_token and payment.redirected_at):
            raise ValueError("a redirected payment needs its gateway, token and time")
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET #s = :redirected, gateway = :gw, gateway_token = :token, "
                    "redirected_at = :at",
                    "ConditionExpression": "#s = :created",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":redirected": PaymentStatus.REDIRECTED.value,
                        ":created": PaymentStatus.CREATED.value,
                        ":gw": payment.gateway,
                        ":token": payment.gateway_token,
                        ":at": payment.redirected_at,
                    },
                }
            },
            self._put(
                {
                    "pk": f"GWTOKEN#{payment.gateway}#{payment.gateway_token}",
                    "sk": "GWTOKEN",
                    "payment_id": payment.id,
                },
                condition="attribute_not_exists(pk)",
            ),
            *extra_items,
        ]
        return self._transact_once(items)

    def _reserve_daily(self, merchant_id: str, day: str, amount: int, cap: int | None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": f"DAILY#{merchant_id}#{day}", "sk": "DAILY"},
            "UpdateExpression": "ADD reserved :a",
            "ExpressionAttributeValues": {":a": amount},
        }
        if cap is not None:
            update["ConditionExpression"] = "attribute_not_exists(reserved) OR reserved <= :room"
            update["ExpressionAttributeValues"][":room"] = cap - amount
        return {"Update": update}

    # ---- payments ---------------------------------------------------------------------------

    def get_payment(self, payment_id: str) -> Payment | None:
        item = self._get(f"PAYMENT#{payment_id}", "PAYMENT")
        return Payment.model_validate(item) if item else None

    def payment_for_token(self, gateway: str, token: str) -> Payment | None:
        ref = self._get(f"GWTOKEN#{gateway}#{token}", "GWTOKEN")
        return self.get_payment(ref["payment_id"]) if ref else None

    def save_gateway_refs(self, payment: Payment, refs: dict[str, str]) -> None:
        """Keep the references a later verify needs (from the buyer's return) on a waiting payment."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                UpdateExpression="SET gateway_refs = :refs",
                ConditionExpression="#s = :waiting",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":refs": refs, ":waiting": PaymentStatus.REDIRECTED.value},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def mark_paid(
        self, payment: Payment, *, reference: str | None, card_mask: str | None, paid_at: str
    ) -> PaidResult:
        """Move a payment to `paid`, count it on its link and flag its merchant, once.

        Refused (nothing written) when the payment already moved, when the link's stock was sold
        meanwhile, or when the gateway reference was credited before (a replayed receipt).
        """
        values = {
            ":paid": PaymentStatus.PAID.value,
            ":at": paid_at,
            ":u": f"MERCHANT#{payment.merchant_id}#UNSETTLED",
            ":usk": f"{paid_at}#{payment.id}",
            **self._source_values(PaymentStatus.PAID),
        }
        sets = ["#s = :paid", "paid_at = :at", "gsi3pk = :u", "gsi3sk = :usk"]
        for name, value in (("gateway_reference", reference), ("card_mask", card_mask)):
            if value is not None:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        count_on_link: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": f"LINK#{payment.link_code}", "sk": "LINK"},
            "UpdateExpression": "ADD paid_count :one, paid_total :amount",
            "ExpressionAttributeValues": {":one": 1, ":amount": payment.amount},
        }
        # Stock must remain. A payment holding a unit normally finds it so; only a merchant who
        # lowered max_payments under the units in flight makes this fail (then: reverse).
        count_on_link["ConditionExpression"] = (
            "attribute_not_exists(max_payments) OR attribute_not_exists(paid_count) "
            "OR paid_count < max_payments"
        )
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": self._source_condition(PaymentStatus.PAID),
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": values,
                }
            },
            {"Update": count_on_link},
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"MERCHANT#{payment.merchant_id}", "sk": "PROFILE"},
                    "UpdateExpression": "SET gsi1pk = :flag, gsi1sk = :mid, last_paid_at = :at",
                    "ExpressionAttributeValues": {
                        ":flag": UNSETTLED_MERCHANTS,
                        ":mid": payment.merchant_id,
                        ":at": paid_at,
                    },
                }
            },
        ]
        if reference:
            items.append(
                self._put(
                    {"pk": f"GWREF#{payment.gateway}#{reference}", "sk": "GWREF", "payment_id": payment.id},
                    condition="attribute_not_exists(pk)",
                )
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            codes = _cancellation_codes(exc)
            if codes[0:1] == ["ConditionalCheckFailed"]:
                return PaidResult.ALREADY_FINAL
            if codes[1:2] == ["ConditionalCheckFailed"]:
                return PaidResult.SOLD_OUT
            if codes[3:4] == ["ConditionalCheckFailed"]:
                return PaidResult.REFERENCE_REUSED
            raise
        return PaidResult.CREDITED

    def mark_unpaid(
        self,
        payment: Payment,
        status: PaymentStatus,
        reason: str,
        day: str,
        extra_items: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """Move a payment to failed/cancelled/expired, giving back its share of the daily cap and the
        unit of stock it held, once; False if it had already moved."""
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET #s = :target, failure_reason = :reason REMOVE gsi3pk, gsi3sk",
                    "ConditionExpression": self._source_condition(status),
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":target": status.value,
                        ":reason": reason,
                        **self._source_values(status),
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"DAILY#{payment.merchant_id}#{day}", "sk": "DAILY"},
                    "UpdateExpression": "ADD reserved :minus",
                    "ExpressionAttributeValues": {":minus": -payment.amount},
                }
            },
        ]
        give_back = [self._coupon_use(payment, -1)] if payment.coupon else []
        if payment.holds_slot:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": f"LINK#{payment.link_code}", "sk": "LINK"},
                        "UpdateExpression": "ADD open_slots :one",
                        "ConditionExpression": "attribute_exists(open_slots)",
                        "ExpressionAttributeValues": {":one": 1},
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=[*items, *give_back, *extra_items])
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            codes = _cancellation_codes(exc)
            if codes[0:1] == ["ConditionalCheckFailed"]:
                return False
            if payment.holds_slot and codes[2:3] == ["ConditionalCheckFailed"]:
                # the link's stock was removed meanwhile: there is no unit to give back
                without_slot = payment.model_copy(update={"holds_slot": False})
                return self.mark_unpaid(without_slot, status, reason, day, extra_items)
            raise
        return True

    def waiting_payments(self, started_before: str) -> Iterator[Payment]:
        """Payments not yet decided (created or at their gateway), started before the ISO instant."""
        for shard in range(PENDING_SHARDS):
            for item in self._query_all("gsi3", "gsi3pk", f"PENDING#{shard}", sk_below=started_before):
                yield Payment.model_validate(item)

    def record_return_attempt(self, gateway: str, reason: str, now: datetime, **details: str | None) -> None:
        """Keep a gateway return that changed nothing (unknown token, forged, mismatched amount)."""
        self.client.put_item(
            TableName=self.table,
            Item=_clean(
                {
                    "pk": f"RETURN#{gateway}#{now.date().isoformat()}",
                    "sk": f"{iso(now)}#{secrets.token_hex(4)}",
                    "gateway": gateway,
                    "reason": reason,
                    "ttl": int(now.timestamp()) + RETURN_RECORD_TTL_SECONDS,
                    **details,
                }
            ),
        )

    def return_attempts(self, gateway: str, day: str) -> list[dict[str, Any]]:
        answer = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": f"RETURN#{gateway}#{day}"},
        )
        return list(_plain(answer.get("Items", [])))

    def payments_of_link(
        self, code: str, cursor: str | None, **window: str | None
    ) -> tuple[list[Payment], str | None]:
        pk = f"LINK#{code}#PAYMENTS"
        items, next_key = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True, **window)
        return [Payment.model_validate(i) for i in items], encode_cursor(next_key)

    def payments_of_merchant(
        self, merchant_id: str, cursor: str | None, *, status: str | None = None, **window: str | None
    ) -> tuple[list[Payment], str | None]:
        pk = f"MERCHANT#{merchant_id}#PAYMENTS"
        items, next_key = self._query_page(
            "gsi2", "gsi2pk", pk, cursor, newest_first=True, status=status, **window
        )
        return [Payment.model_validate(i) for i in items], encode_cursor(next_key)

    # ---- settlement -------------------------------------------------------------------------

    def merchants_with_unsettled_money(self) -> Iterator[str]:
        """Merchant ids from the sparse index of merchants flagged with unsettled payments."""
        for item in self._query_all("gsi1", "gsi1pk", UNSETTLED_MERCHANTS):
            yield str(item["id"])  # the merchant item itself is what the sparse index holds

    def unsettled_payments(self, merchant_id: str, before: str | None = None) -> Iterator[Payment]:
        """A merchant's paid, unsettled payments (paid before the ISO instant `before`), oldest first."""
        for item in self._query_all("gsi3", "gsi3pk", f"MERCHANT#{merchant_id}#UNSETTLED", sk_below=before):
            yield Payment.model_validate(item)

    def clear_unsettled_flag(self, merchant_id: str, last_paid_at_seen: str | None) -> None:
        """Unflag a merchant unless a payment was paid since we looked (then it stays flagged)."""
        condition = (
            "attribute_not_exists(last_paid_at)" if last_paid_at_seen is None else "last_paid_at = :seen"
        )
        values = {":seen": last_paid_at_seen} if last_paid_at_seen is not None else {}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
                UpdateExpression="REMOVE gsi1pk, gsi1sk",
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def last_paid_at(self, merchant_id: str) -> str | None:
        item = self._get(f"MERCHANT#{merchant_id}", "PROFILE", consistent=True)
        return str(item["last_paid_at"]) if item and item.get("last_paid_at") else None

    def open_settlement(self, settlement: Settlement) -> Settlement:
        """Create the settlement of a merchant's business day, or return the one already there.

        Until it is paid it stays on the merchant's PAYOUTS_DUE list (gsi3), so a later run
        finishes it whatever state a crash or a failed payout left it in.
        """
        item = {
            "pk": f"SETTLEMENT#{settlement.id}",
            "sk": "SETTLEMENT",
            "gsi1pk": f"MERCHANT#{settlement.merchant_id}#SETTLEMENTS",
            "gsi1sk": f"{settlement.date}#{settlement.id}",
            "gsi3pk": f"MERCHANT#{settlement.merchant_id}#PAYOUTS_DUE",
            "gsi3sk": f"{settlement.date}#{settlement.id}",
            **settlement.model_dump(mode="json"),
        }
        try:
            self.client.put_item(
                TableName=self.table, Item=_clean(item), ConditionExpression="attribute_not_exists(pk)"
            )
            return settlement
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self.get_settlement(settlement.id)
        assert existing is not None
        return existing

    def settle_payment(self, payment: Payment, settlement_id: str, fee: int, net: int) -> bool:
        """Move one paid payment into an open settlement and add it to its totals, atomically, once."""
        return self._transact_once(self._settle_items([(payment, fee, net)], settlement_id))

    def settle_payments(self, entries: Sequence[tuple[Payment, int, int]], settlement_id: str) -> int:
        """Move paid payments (with their fee and net) into an open settlement, a page at a time.

        Each page is one transaction: every payment's conditional move and the settlement's
        totals grow together or not at all. A page that meets a payment already moved (another
        run got there) is done again one payment at a time. Returns how many this call moved.
        """
        moved = 0
        for start in range(0, len(entries), SETTLE_PAGE):
            page = entries[start : start + SETTLE_PAGE]
            try:
                self.client.transact_write_items(TransactItems=self._settle_items(page, settlement_id))
                moved += len(page)
                continue
            except Exception as exc:
                if not _is_conditional_failure(exc):
                    raise
                if _cancellation_codes(exc)[-1:] == ["ConditionalCheckFailed"]:
                    return moved  # the settlement is no longer open: nothing more goes in
            moved += sum(self.settle_payment(payment, settlement_id, fee, net) for payment, fee, net in page)
        return moved

    def _settle_items(
        self, entries: Sequence[tuple[Payment, int, int]], settlement_id: str
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET #s = :settled, settlement_id = :sid, fee = :fee, net = :net, "
                    "gsi3pk = :spk",
                    "ConditionExpression": "#s = :paid",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":settled": PaymentStatus.SETTLED.value,
                        ":paid": PaymentStatus.PAID.value,
                        ":sid": settlement_id,
                        ":fee": fee,
                        ":net": net,
                        ":spk": f"SETTLEMENT#{settlement_id}",
                    },
                }
            }
            for payment, fee, net in entries
        ]
        items.append(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
                    "UpdateExpression": "ADD payment_count :count, gross :gross, fee :fee, net :net",
                    "ConditionExpression": "#s = :open",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":count": len(entries),
                        ":gross": sum(payment.amount for payment, _, _ in entries),
                        ":fee": sum(fee for _, fee, _ in entries),
                        ":net": sum(net for _, _, net in entries),
                        ":open": SettlementStatus.OPEN.value,
                    },
                }
            }
        )
        return items

    def move_settlement(
        self,
        settlement_id: str,
        expected: SettlementStatus,
        target: SettlementStatus,
        *,
        attempts: int | None = None,
        remove: Sequence[str] = (),
        **fields: str | int,
    ) -> bool:
        """Conditional status change of a settlement; False if it was not in `expected`.

        Only moves of SETTLEMENT_MOVES are allowed. With `attempts`, the stored payout attempt
        count must also be that number. A paid settlement leaves the PAYOUTS_DUE list.
        """
        if target not in SETTLEMENT_MOVES.get(expected, frozenset()):
            raise ValueError(f"a settlement does not move from {expected.value} to {target.value}")
        sets = ["#s = :target"] + [f"{name} = :{name}" for name in fields]
        values: dict[str, Any] = {":target": target.value, ":expected": expected.value} | {
            f":{k}": v for k, v in fields.items()
        }
        removes = list(remove) + (["gsi3pk", "gsi3sk"] if target is SettlementStatus.PAID else [])
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s = :expected"
        if attempts is not None:
            values[":attempts"] = attempts
            condition += " AND (payout_attempts = :attempts" + (
                " OR attribute_not_exists(payout_attempts))" if attempts == 0 else ")"
            )
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"SETTLEMENT#{settlement_id}", "sk": "SETTLEMENT"},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def get_settlement(self, settlement_id: str) -> Settlement | None:
        item = self._get(f"SETTLEMENT#{settlement_id}", "SETTLEMENT", consistent=True)
        return Settlement.model_validate(item) if item else None

    def settlements_of(self, merchant_id: str, cursor: str | None) -> tuple[list[Settlement], str | None]:
        pk = f"MERCHANT#{merchant_id}#SETTLEMENTS"
        items, next_key = self._query_page("gsi1", "gsi1pk", pk, cursor, newest_first=True)
        return [Settlement.model_validate(i) for i in items], encode_cursor(next_key)

    def payouts_due(self, merchant_id: str) -> list[Settlement]:
        """A merchant's settlements not yet paid (open, pending, submitted, failed, held), oldest first."""
        return [
            Settlement.model_validate(i)
            for i in self._query_all("gsi3", "gsi3pk", f"MERCHANT#{merchant_id}#PAYOUTS_DUE")
        ]

    def payments_of_settlement(self, settlement_id: str) -> list[Payment]:
        return [
            Payment.model_validate(i)
            for i in self._query_all("gsi3", "gsi3pk", f"SETTLEMENT#{settlement_id}")
        ]

    def record_payout(self, settlement_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """The sandbox payout provider's ledger: one payout per settlement, whatever the retries.

        `record["attempt"]` replaces the record only when the one there failed at an earlier
        attempt; a paid record, or one of the same attempt, is returned as it is.
        """
        item = {"pk": f"PAYOUT#{settlement_id}", "sk": "PAYOUT", **record}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_clean(item),
                ConditionExpression="attribute_not_exists(pk) OR (#st = :failed AND attempt < :attempt)",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":failed": "failed", ":attempt": record["attempt"]},
            )
            return record
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self._get(f"PAYOUT#{settlement_id}", "PAYOUT", consistent=True)
        assert existing is not None
        return existing

    def get_payout(self, settlement_id: str) -> dict[str, Any] | None:
        return self._get(f"PAYOUT#{settlement_id}", "PAYOUT", consistent=True)

    def add_batch_line(self, day: str, line: dict[str, Any]) -> dict[str, Any] | None:
        """Put attempt `line["attempt"]` of a settlement's transfer into the bank batch of `day`.

        Once per (settlement, attempt): a repeat returns the line already there. A new attempt
        goes in only after the previous one failed. None when the day's file was already issued
        (the line must wait for a later batch).
        """
        sid, attempt = str(line["settlement_id"]), int(line["attempt"])
        key = {"pk": f"PAYOUT#{sid}", "sk": f"ATTEMPT#{attempt:04d}"}
        existing = self._get(key["pk"], key["sk"], consistent=True)
        if existing:
            return existing
        item = {**key, "gsi1pk": f"BATCH#{day}", "gsi1sk": f"{sid}#{attempt:04d}", "day": day, **line}
        checks: list[dict[str, Any]] = [
            self._put(_clean(item), condition="attribute_not_exists(pk)"),
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": {"pk": f"BATCH#{day}", "sk": "FILE"},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if attempt > 1:
            checks.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": {"pk": f"PAYOUT#{sid}", "sk": f"ATTEMPT#{attempt - 1:04d}"},
                        "ConditionExpression": "#st = :failed",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {":failed": "failed"},
                    }
                }
            )
        if self._transact_once(checks):
            return line | {"day": day}
        existing = self._get(key["pk"], key["sk"], consistent=True)
        if existing:
            return existing
        if self.get_batch_file(day) is not None:
            return None
        raise Conflict(f"attempt {attempt} of {sid}: the previous attempt did not fail")

    def batch_line(self, settlement_id: str, attempt: int) -> dict[str, Any] | None:
        return self._get(f"PAYOUT#{settlement_id}", f"ATTEMPT#{attempt:04d}", consistent=True)

    def batch_lines(self, day: str) -> list[dict[str, Any]]:
        """The lines of a day's bank batch, by settlement id and attempt (a stable order)."""
        return list(self._query_all("gsi1", "gsi1pk", f"BATCH#{day}"))

    def close_batch_line(self, settlement_id: str, attempt: int, status: str, reason: str | None) -> bool:
        """The bank's answer on one line: `paid` or `failed`, once; False if it was answered before."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"PAYOUT#{settlement_id}", "sk": f"ATTEMPT#{attempt:04d}"},
                UpdateExpression="SET #st = :status" + (", failure_reason = :reason" if reason else ""),
                ConditionExpression="#st = :submitted",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":status": status, ":submitted": "submitted"}
                | ({":reason": reason} if reason else {}),
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def issue_batch_file(self, day: str, record: dict[str, Any]) -> dict[str, Any]:
        """Freeze a day's bank batch file (text, count, control total); the first issue stands."""
        item = {"pk": f"BATCH#{day}", "sk": "FILE", **record}
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return record
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        existing = self.get_batch_file(day)
        assert existing is not None
        return existing

    def get_batch_file(self, day: str) -> dict[str, Any] | None:
        return self._get(f"BATCH#{day}", "FILE", consistent=True)

    # ---- helpers ----------------------------------------------------------------------------

    def _payment_item(self, payment: Payment) -> dict[str, Any]:
        return {
            "pk": f"PAYMENT#{payment.id}",
            "sk": "PAYMENT",
            "gsi1pk": f"LINK#{payment.link_code}#PAYMENTS",
            "gsi1sk": f"{payment.created_at}#{payment.id}",
            "gsi2pk": f"MERCHANT#{payment.merchant_id}#PAYMENTS",
            "gsi2sk": f"{payment.created_at}#{payment.id}",
            **payment.model_dump(mode="json"),
        }

    @staticmethod
    def _source_condition(target: PaymentStatus) -> str:
        sources = sources_of(target)
        return "#s IN (" + ", ".join(f":from{i}" for i in range(len(sources))) + ")"

    @staticmethod
    def _source_values(target: PaymentStatus) -> dict[str, str]:
        return {f":from{i}": state.value for i, state in enumerate(sources_of(target))}

    def _put(self, item: dict[str, Any], *, condition: str) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": condition}}

    def _transact_once(self, items: Sequence[dict[str, Any]]) -> bool:
        try:
            self.client.transact_write_items(TransactItems=list(items))
        except Exception as exc:
            if _is_conditional_failure(exc) and "ConditionalCheckFailed" in _cancellation_codes(exc):
                return False
            raise
        return True

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Read up to 100 keys in one call (consistent), then any unprocessed ones again."""
        items: list[dict[str, Any]] = []
        request = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(5):
            answer = self.client.batch_get_item(RequestItems=request)
            items.extend(_plain(answer["Responses"].get(self.table, [])))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return items
        raise RuntimeError("DynamoDB left keys unprocessed after 5 tries")

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table, Key={"pk": pk, "sk": sk}, ConsistentRead=consistent
        )
        item = answer.get("Item")
        return _plain(item) if item else None

    def _query_page(
        self,
        index: str,
        pk_name: str,
        pk: str,
        cursor: str | None,
        *,
        newest_first: bool,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        sk_name = pk_name.replace("pk", "sk")
        condition = f"{pk_name} = :pk"
        values: dict[str, Any] = {":pk": pk}
        if since and until:
            condition += f" AND {sk_name} BETWEEN :since AND :until"
            values |= {":since": since, ":until": until + "\uffff"}
        elif since:
            condition += f" AND {sk_name} >= :since"
            values[":since"] = since
        elif until:
            condition += f" AND {sk_name} <= :until"
            values[":until"] = until + "\uffff"
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "Limit": PAGE_SIZE,
        }
        if status:
            request["FilterExpression"] = "#s = :status"
            request["ExpressionAttributeNames"] = {"#s": "status"}
            values[":status"] = status
        start = decode_cursor(cursor, pk, pk_name)
        if start:
            request["ExclusiveStartKey"] = start
        items: list[dict[str, Any]] = []
        while True:  # a filter may empty a page; keep reading until the page has items or the list ends
            answer = self.client.query(**request)
            items.extend(_plain(answer.get("Items", [])))
            last = answer.get("LastEvaluatedKey")
            if len(items) >= PAGE_SIZE or not last:
                return items, last
            request["ExclusiveStartKey"] = last

    def _query_all(
        self, index: str, pk_name: str, pk: str, *, sk_below: str | None = None
    ) -> Iterator[dict[str, Any]]:
        sk_name = pk_name.replace("pk", "sk")
        condition = f"{pk_name} = :pk" + (f" AND {sk_name} < :below" if sk_below else "")
        values: dict[str, Any] = {":pk": pk} | ({":below": sk_below} if sk_below else {})
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            answer = self.client.query(**request)
            yield from _plain(answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@cache
def get_store() -> Store:
    """The process-wide store; boto3 is imported and its client made on first use, then reused."""
    import boto3

    settings = get_settings()
    resource = boto3.resource("dynamodb", endpoint_url=settings.dynamodb_endpoint_url)
    return Store(settings.table_name, resource.meta.client)


@cache
def _idempotency_client() -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=get_settings().dynamodb_endpoint_url)


@lru_cache(maxsize=256)
def idempotency_persistence(merchant_id: str) -> DynamoDBPersistenceLayer:
    """Powertools idempotency records of one merchant in our table (keys `pk`/`sk`, TTL `ttl`).

    Each merchant's records share a partition of their own, so no single key takes every merchant's
    retries. Powertools writes typed attribute values, so it gets a plain client, not the store's
    resource one.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=get_settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"{IDEMPOTENCY_PK}#{merchant_id}",
        expiry_attr="ttl",
        boto3_client=_idempotency_client(),
    )
