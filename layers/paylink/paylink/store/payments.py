"""Payments: reservation at checkout (stock, coupon, daily cap), gateway tokens, paid and unpaid
moves, the reconciler's pending shards, and returns that changed nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from paylink.core.errors import LimitExceeded, PaymentInProgress, TooManyOpenPayments, ValidationFailed
from paylink.core.models import (
    Payment,
    PaymentStatus,
    iso,
    sources_of,
)
from paylink.payments.client_share import ClientShare
from paylink.store.settlements import unsettled_keys
from paylink.store.table import (
    Table,
    _cancellation_codes,
    _clean,
    _is_conditional_failure,
    _plain,
    encode_cursor,
    shard_of,
)

PENDING_SHARDS = 8
PAYMENT_ID = re.compile(r"pay_[0-9A-Za-z]{10,40}")  # a return's order id is a claim: looked up only if one
ARCHIVE_DUE = "ARCHIVE_DUE"  # the archive's work list (gsi1): one item per settlement, {due day}#{sid}


RETURN_RECORD_TTL_SECONDS = 90 * 86_400
# A day's reservations (the merchant's cap, a client's holds) are read by that day's checkouts
# only: their items outlive the day, then go (TTL).
DAY_ITEM_TTL_SECONDS = 2 * 86_400


def pending_shard(payment_id: str) -> str:
    return f"PENDING#{shard_of(payment_id, PENDING_SHARDS)}"


class PaidResult(StrEnum):
    """How an attempt to mark a payment paid ended."""

    CREDITED = "credited"
    ALREADY_FINAL = "already_final"  # another return got there first: nothing to do
    SOLD_OUT = "sold_out"  # the link's stock ran out meanwhile: reverse the payment
    REFERENCE_REUSED = "reference_reused"  # the gateway reference was credited before: a replay


class PaymentItems(Table):
    """Payments items."""

    def reserve_payment(
        self, payment: Payment, day: str, daily_cap: int | None, share: ClientShare | None = None
    ) -> None:
        """Record a new payment (`created`) with its share of the daily cap, for a link with
        stock the unit it holds, and its count on its client's holds (`payment.holds`, within
        `share`); all or nothing, before any gateway is asked.

        Raises LimitExceeded when the daily cap would be passed, PaymentInProgress when the last
        units are held by other payments in flight, TooManyOpenPayments when the client already
        holds its share. A payment left `created` (a crash before the gateway answered) is
        expired by the reconciler, which gives its reservations back.
        """
        item = self._payment_item(payment)
        item |= {"gsi3pk": pending_shard(payment.id), "gsi3sk": f"{payment.created_at}#{payment.id}"}
        items = [
            self._put(_clean(item), condition="attribute_not_exists(pk)"),
            self._reserve_daily(payment, day, daily_cap),
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
        holds_at = len(items)
        if share is not None:
            items.extend(self._take_hold(payment, hold, share) for hold in payment.holds)
        try:
            self._write_transaction(items)
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
            if "ConditionalCheckFailed" in codes[holds_at:]:
                raise TooManyOpenPayments("this client already holds its share in open payments") from exc
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

    def record_redirect(
        self, payment: Payment, extra_items: Sequence[dict[str, Any]] = (), *, index_token: bool = True
    ) -> bool:
        """A created payment got its gateway token: `created -> redirected`, with its token index
        unless its gateway's return names the payment itself (`index_token` False), and
        `extra_items` (the gateways' health); False if the payment had already moved."""
        if not (payment.gateway and payment.gateway_token and payment.redirected_at):
            raise ValueError("a redirected payment needs its gateway, token and time")
        key = {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"}
        moved: dict[str, Any] = {
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
        if not index_token and not extra_items:  # the payment alone: a plain write, half the units
            return self._update_if(key, **moved)
        items = [{"Update": {"TableName": self.table, "Key": key, **moved}}, *extra_items]
        if index_token:
            items.insert(
                1,
                self._put(
                    {
                        "pk": f"GWTOKEN#{payment.gateway}#{payment.gateway_token}",
                        "sk": "GWTOKEN",
                        "payment_id": payment.id,
                    },
                    condition="attribute_not_exists(pk)",
                ),
            )
        return self._transact_once(items)

    def _reserve_daily(self, payment: Payment, day: str, cap: int | None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": f"DAILY#{payment.merchant_id}#{day}", "sk": "DAILY"},
            "UpdateExpression": "ADD reserved :a SET #ttl = if_not_exists(#ttl, :ttl)",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {":a": payment.amount, ":ttl": self._day_item_ttl(payment)},
        }
        if cap is not None:
            update["ConditionExpression"] = "attribute_not_exists(reserved) OR reserved <= :room"
            update["ExpressionAttributeValues"][":room"] = cap - payment.amount
        return {"Update": update}

    def get_payment(self, payment_id: str, *, consistent: bool = False) -> Payment | None:
        """A payment in the table; None when unknown or archived (paylink.payments.archive reads those)."""
        item = self._get(f"PAYMENT#{payment_id}", "PAYMENT", consistent=consistent)
        return Payment.model_validate(item) if item and "archived" not in item else None

    def payment_for_token(self, gateway: str, token: str, order_id: str | None = None) -> Payment | None:
        """The payment a gateway return points at: by the order id it names when that payment holds
        this very token at this gateway (one read), else by the token's index."""
        if order_id and PAYMENT_ID.fullmatch(order_id):
            named = self.get_payment(order_id)
            if named is not None and (named.gateway, named.gateway_token) == (gateway, token):
                return named
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
        self,
        payment: Payment,
        *,
        reference: str | None,
        card_mask: str | None,
        paid_at: str,
        card_hash: str | None = None,
        unique_reference: bool = True,
    ) -> PaidResult:
        """Move a payment to `paid` (onto its merchant's unsettled list) and count it on its link, once.

        Refused (nothing written) when the payment already moved, when the link's stock was sold
        meanwhile, or, with `unique_reference`, when the gateway reference was credited before (a
        replayed receipt: only a gateway whose verify takes a reference from the buyer's return
        needs that guard, see `Capabilities.verify_takes_return_reference`).
        """
        waiting = unsettled_keys(payment.merchant_id, paid_at, payment.id)
        values = {
            ":paid": PaymentStatus.PAID.value,
            ":at": paid_at,
            ":u": waiting["gsi3pk"],
            ":usk": waiting["gsi3sk"],
            **self._source_values(PaymentStatus.PAID),
        }
        sets = ["#s = :paid", "paid_at = :at", "gsi3pk = :u", "gsi3sk = :usk"]
        # The card hash rides on this same write (no call of its own on the callback path).
        for name, value in (
            ("gateway_reference", reference),
            ("card_mask", card_mask),
            ("card_hash", card_hash),
        ):
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
        if payment.installment:
            # The installment is marked paid in this same transaction, only while it is the next
            # unpaid one; the slot its payment held goes back for the next installment.
            part = f"installments[{payment.installment - 1}]"
            count_on_link["UpdateExpression"] += (
                f", open_slots :one SET {part}.payment_id = :pid, {part}.paid_at = :at"
            )
            count_on_link["ConditionExpression"] = (
                f"attribute_not_exists({part}.payment_id) AND paid_count = :before"
            )
            count_on_link["ExpressionAttributeValues"] |= {
                ":pid": payment.id,
                ":at": paid_at,
                ":before": payment.installment - 1,
            }
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
        ]
        if reference and unique_reference:
            items.append(
                self._put(
                    {
                        "pk": f"GWREF#{payment.gateway}#{reference}",
                        "sk": "GWREF",
                        "payment_id": payment.id,
                        # Kept far past every gateway's verify window (SEP's, the only one verified
                        # by a reference alone, is 30 minutes): after it no gateway confirms this
                        # reference again, so the item has nothing left to refuse (issue 18).
                        "ttl": int(datetime.fromisoformat(paid_at).timestamp()) + RETURN_RECORD_TTL_SECONDS,
                    },
                    condition="attribute_not_exists(pk)",
                )
            )
        items.extend(self._release_holds(payment))  # paid: no longer open (unconditional, last)
        try:
            self._write_transaction(items)
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            codes = _cancellation_codes(exc)
            if codes[0:1] == ["ConditionalCheckFailed"]:
                return PaidResult.ALREADY_FINAL
            if codes[1:2] == ["ConditionalCheckFailed"]:
                return PaidResult.SOLD_OUT
            if reference and unique_reference and codes[2:3] == ["ConditionalCheckFailed"]:
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
        *,
        gone_after: datetime | None,
    ) -> bool:
        """Move a payment to failed/cancelled/expired, giving back its share of the daily cap and the
        unit of stock it held, once; False if it had already moved. With `gone_after` the table's
        TTL deletes the payment after that instant (set in this same write); without, it stays."""
        sets = ["#s = :target", "failure_reason = :reason"]
        names = {"#s": "status"}
        values: dict[str, Any] = {":target": status.value, ":reason": reason, **self._source_values(status)}
        if gone_after is not None:
            sets.append("#ttl = :ttl")
            names["#ttl"] = "ttl"
            values[":ttl"] = int(gone_after.timestamp())
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT"},
                    "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE gsi3pk, gsi3sk",
                    "ConditionExpression": self._source_condition(status),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"DAILY#{payment.merchant_id}#{day}", "sk": "DAILY"},
                    # (a day already gone with its TTL comes back: harmless, and it goes again)
                    "UpdateExpression": "ADD reserved :minus SET #ttl = if_not_exists(#ttl, :ttl)",
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": {
                        ":minus": -payment.amount,
                        ":ttl": self._day_item_ttl(payment),
                    },
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
            self._write_transaction([*items, *give_back, *self._release_holds(payment), *extra_items])
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            codes = _cancellation_codes(exc)
            if codes[0:1] == ["ConditionalCheckFailed"]:
                return False
            if payment.holds_slot and codes[2:3] == ["ConditionalCheckFailed"]:
                # the link's stock was removed meanwhile: there is no unit to give back
                without_slot = payment.model_copy(update={"holds_slot": False})
                return self.mark_unpaid(without_slot, status, reason, day, extra_items, gone_after=gone_after)
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
        self, code: str, cursor: str | None, *, page_size: int | None = None, **window: str | None
    ) -> tuple[list[Payment], str | None]:
        """A link's payments, newest first: its merchant's list filtered by the link (a payment is on
        no index of its link: that entry cost a write at every move of every payment, issue 18,
        for a list only exports and the API's `link` filter read)."""
        link = self._get(f"LINK#{code}", "LINK")
        if not link:
            return [], None
        pk = f"MERCHANT#{link['merchant_id']}#PAYMENTS"
        items, next_key = self._query_page(
            "gsi2", "gsi2pk", pk, cursor, newest_first=True, link=code, page_size=page_size, **window
        )
        return [Payment.model_validate(i) for i in items], encode_cursor(next_key)

    def payments_of_merchant(
        self,
        merchant_id: str,
        cursor: str | None,
        *,
        status: str | None = None,
        link: str | None = None,
        page_size: int | None = None,
        **window: str | None,
    ) -> tuple[list[Payment], str | None]:
        """A merchant's payments, newest first; of one link with `link`, of one status with `status`."""
        pk = f"MERCHANT#{merchant_id}#PAYMENTS"
        items, next_key = self._query_page(
            "gsi2",
            "gsi2pk",
            pk,
            cursor,
            newest_first=True,
            status=status,
            link=link,
            page_size=page_size,
            **window,
        )
        return [Payment.model_validate(i) for i in items], encode_cursor(next_key)

    def _payment_item(self, payment: Payment) -> dict[str, Any]:
        return {
            "pk": f"PAYMENT#{payment.id}",
            "sk": "PAYMENT",
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

    def _take_hold(self, payment: Payment, hold: str, share: ClientShare) -> dict[str, Any]:
        """Count a payment on one of its client's holds, within the share: a client with nothing
        open may always start one; beyond that, at most `max_open`, within `max_amount` together."""
        values: dict[str, Any] = {
            ":one": 1,
            ":amount": payment.amount,
            ":max": share.max_open,
            ":ttl": self._day_item_ttl(payment),
        }
        within = "open_count < :max"
        if share.max_amount is not None:
            within += " AND held <= :room"
            values[":room"] = share.max_amount - payment.amount
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"HOLD#{payment.merchant_id}#{hold}", "sk": "HOLD"},
                "UpdateExpression": "ADD open_count :one, held :amount SET #ttl = :ttl",
                "ConditionExpression": f"attribute_not_exists(open_count) OR open_count < :one OR ({within})",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": values,
            }
        }

    @staticmethod
    def _day_item_ttl(payment: Payment) -> int:
        return int(datetime.fromisoformat(payment.created_at).timestamp()) + DAY_ITEM_TTL_SECONDS

    def _release_holds(self, payment: Payment) -> list[dict[str, Any]]:
        """Give a payment's count back to its client's holds; unconditional (rides in the one
        conditional move of the payment out of waiting, so it happens exactly once)."""
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": f"HOLD#{payment.merchant_id}#{hold}", "sk": "HOLD"},
                    # (a hold already gone with its TTL comes back for a day that is over: harmless,
                    # and it gets a TTL again so it goes too)
                    "UpdateExpression": "ADD open_count :minus, held :less "
                    "SET #ttl = if_not_exists(#ttl, :ttl)",
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": {
                        ":minus": -1,
                        ":less": -payment.amount,
                        ":ttl": self._day_item_ttl(payment),
                    },
                }
            }
            for hold in payment.holds
        ]

    def claim_reference(self, payment: Payment, reference: str, now: datetime) -> bool:
        """Tie a gateway reference a return carried to this payment, first come first served.

        False when the reference is another payment's (claimed or credited before): it must then
        not be used to verify, credit or reverse this payment.
        """
        pk = f"GWREF#{payment.gateway}#{reference}"
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": pk,
                    "sk": "CLAIM",
                    "payment_id": payment.id,
                    "claimed_at": iso(now),
                    # Long past any gateway's verify window (so is a credited reference's GWREF item).
                    "ttl": int(now.timestamp()) + RETURN_RECORD_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk) OR payment_id = :me",
                ExpressionAttributeValues={":me": payment.id},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            return False
        # A reference credited before claims existed has only its GWREF item.
        credited = self._get(pk, "GWREF", consistent=True)
        return credited is None or credited.get("payment_id") == payment.id

    def release_reference(self, payment: Payment, reference: str) -> None:
        """Drop this payment's claim on a reference its gateway says belongs to another payment."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": f"GWREF#{payment.gateway}#{reference}", "sk": "CLAIM"},
                ConditionExpression="payment_id = :me",
                ExpressionAttributeValues={":me": payment.id},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    # ---- the archive (paylink.payments.archive): settled payments past the refund window ----

    def queue_archive(self, settlement_id: str, due: str) -> None:
        """Put a settlement on the archive's work list (gsi1 ARCHIVE_DUE) from the day `due`; idempotent."""
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": f"ARCHIVE#{settlement_id}",
                "sk": "ARCHIVE",
                "gsi1pk": ARCHIVE_DUE,
                "gsi1sk": f"{due}#{settlement_id}",
                "sid": settlement_id,
            },
        )

    def archives_due(self, today: str) -> list[str]:
        """The settlements due for the archive by `today`, oldest first."""
        items = self._query_all("gsi1", "gsi1pk", ARCHIVE_DUE, sk_below=f"{today}#\uffff")
        return [str(item["sid"]) for item in items]

    def archive_done(self, settlement_id: str) -> None:
        """Take a settlement off the work list (none of its payments is left in the table)."""
        self.client.delete_item(TableName=self.table, Key={"pk": f"ARCHIVE#{settlement_id}", "sk": "ARCHIVE"})

    def replace_with_stub(self, payment: Payment, settlement_id: str) -> bool:
        """Replace a settled payment, archived as `payment` shows it, by a stub naming its archive.

        Conditional on the item being still what was archived (settled, in that settlement, with
        the same refunded amount): a payment that changed meanwhile stays (False) and is archived
        again on a later run. The stub leaves every index (no gsi keys): lists read the archive.
        """
        refunded = (
            "attribute_not_exists(amount_refunded) OR amount_refunded = :r"
            if not payment.amount_refunded
            else "amount_refunded = :r"
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": f"PAYMENT#{payment.id}", "sk": "PAYMENT", "archived": settlement_id},
                ConditionExpression=f"#s = :settled AND settlement_id = :sid AND ({refunded})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":settled": PaymentStatus.SETTLED.value,
                    ":sid": settlement_id,
                    ":r": payment.amount_refunded,
                },
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            return False
        return True

    def payment_or_archive(self, payment_id: str) -> tuple[Payment | None, str | None]:
        """The payment (hot), or the settlement id of the archive that holds it, or (None, None)."""
        item = self._get(f"PAYMENT#{payment_id}", "PAYMENT")
        if not item:
            return None, None
        if "archived" in item:
            return None, str(item["archived"])
        return Payment.model_validate(item), None
