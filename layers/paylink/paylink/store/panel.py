"""Panel sign-in items: one-time codes, their send counters and locks, sessions, phone -> merchant.

Phones and addresses appear in keys only as keyed digests (paylink.panel.codes.subject_key), codes
and session ids only as hashes: a table dump gives no phone, code or session away.
"""

from __future__ import annotations

from typing import Any

from paylink.core.models import Merchant
from paylink.store.table import Table, _clean, _is_conditional_failure


def _code_sk(slot: str) -> str:
    return f"OTP#{slot}" if slot else "OTP"


class PanelItems(Table):
    """One-time codes, send counters, locks, sessions and the phone -> merchant mapping."""

    # --- one-time codes -------------------------------------------------------------------------
    # A phone's codes: one slot for strangers (sk OTP) and one per trusted device (sk OTP#DEV#...),
    # so a stranger's request never replaces or spends a trusted device's code.
    def put_login_code(self, subject: str, item: dict[str, Any], slot: str = "") -> None:
        """Store a phone's current code in its slot, replacing any earlier one there (a resend makes
        the old one void)."""
        self.client.put_item(
            TableName=self.table, Item={"pk": f"OTP#{subject}", "sk": _code_sk(slot), **item}
        )

    def get_login_code(self, subject: str, slot: str = "") -> dict[str, Any] | None:
        return self._get(f"OTP#{subject}", _code_sk(slot), consistent=True)

    def count_code_try(self, subject: str, code_id: str, max_tries: int, slot: str = "") -> int | None:
        """One more wrong try on this code; its new count, or None when the code is gone, used or spent."""
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": f"OTP#{subject}", "sk": _code_sk(slot)},
                UpdateExpression="ADD tries :one",
                ConditionExpression="code_id = :id AND tries < :max AND attribute_not_exists(used_at)",
                ExpressionAttributeValues={":one": 1, ":id": code_id, ":max": max_tries},
                ReturnValues="UPDATED_NEW",
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        return int(answer["Attributes"]["tries"])

    def use_login_code(
        self, subject: str, code_id: str, max_tries: int, used_at: str, slot: str = ""
    ) -> bool:
        """Mark the code used, once: of two requests with the right code only one gets True."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"OTP#{subject}", "sk": _code_sk(slot)},
                UpdateExpression="SET used_at = :at",
                ConditionExpression="code_id = :id AND tries < :max AND attribute_not_exists(used_at)",
                ExpressionAttributeValues={":at": used_at, ":id": code_id, ":max": max_tries},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def count_within(self, key: str, limit: int, ttl: int) -> bool:
        """Add one to a windowed counter unless it reached `limit` (conditional; TTL cleans it up)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": key, "sk": "COUNT"},
                UpdateExpression="ADD n :one SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":ttl": ttl},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def lock_subject(self, subject: str, until: str, ttl: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={"pk": f"OTPLOCK#{subject}", "sk": "LOCK", "until": until, "ttl": ttl},
        )

    def subject_lock(self, subject: str) -> str | None:
        item = self._get(f"OTPLOCK#{subject}", "LOCK", consistent=True)
        return str(item["until"]) if item else None

    # --- sessions -------------------------------------------------------------------------------
    def put_session(self, session_hash: str, item: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=_clean({"pk": f"SESSION#{session_hash}", "sk": "SESSION", **item}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_session(self, session_hash: str) -> dict[str, Any] | None:
        return self._get(f"SESSION#{session_hash}", "SESSION", consistent=True)

    def touch_session(self, session_hash: str, seen_at: str, ttl: int) -> None:
        """Move a live session's idle deadline; an ended session stays ended."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"SESSION#{session_hash}", "sk": "SESSION"},
                UpdateExpression="SET last_seen = :at, #ttl = :ttl",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(ended_at)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":at": seen_at, ":ttl": ttl},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def end_session(self, session_hash: str, subject: str | None, ended_at: str) -> bool:
        """End a session (of `subject` only, when given): later requests with it are signed out."""
        condition = "attribute_exists(pk)" + (" AND subject = :s" if subject else "")
        values = {":at": ended_at} | ({":s": subject} if subject else {})
        return self._update_if(
            {"pk": f"SESSION#{session_hash}", "sk": "SESSION"},
            UpdateExpression="SET ended_at = :at REMOVE gsi1pk, gsi1sk",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    def sessions_of(self, subject: str) -> list[dict[str, Any]]:
        """A phone's sessions not ended, newest first (expired ones are filtered by the caller)."""
        items = list(self._query_all("gsi1", "gsi1pk", f"SESSIONS#{subject}"))
        return sorted(items, key=lambda item: str(item.get("gsi1sk", "")), reverse=True)

    # --- phone -> merchant ----------------------------------------------------------------------
    def merchant_id_for_phone(self, subject: str) -> str | None:
        ref = self._get(f"PHONE#{subject}", "MERCHANT", consistent=True)
        return str(ref["merchant_id"]) if ref else None

    def create_merchant_for_phone(
        self,
        merchant: Merchant,
        api_key_hash: str,
        subject: str,
        key: dict[str, Any] | None = None,
        person: str | None = None,
    ) -> str | None:
        """Store a merchant with its username, API key, phone and person, all or nothing.

        `key`: the key's listed fields (paylink.store.api_keys.api_key_item), as `create_merchant`.
        `person`: the keyed digest of the owner's national code (one personal account per person).
        None when stored; else which uniqueness was refused: "phone", "person" or "username".
        """
        item = {"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE", **merchant.model_dump(mode="json")}
        if key:
            item["api_keys_active"] = 1
        claims: list[tuple[str, dict[str, Any]]] = [
            (
                "phone",
                self._put(
                    {"pk": f"PHONE#{subject}", "sk": "MERCHANT", "merchant_id": merchant.id},
                    condition="attribute_not_exists(pk)",
                ),
            ),
        ]
        if person:
            claims.append(
                (
                    "person",
                    self._put(
                        {"pk": f"PERSON#{person}", "sk": "PERSON", "merchant_id": merchant.id},
                        condition="attribute_not_exists(pk)",
                    ),
                )
            )
        claims += [("username", put) for put in self.username_claims(merchant)]  # type: ignore[attr-defined]
        claims += [
            ("merchant", self._put(_clean(item), condition="attribute_not_exists(pk)")),
            (
                "key",
                self._put(
                    key or {"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY", "merchant_id": merchant.id},
                    condition="attribute_not_exists(pk)",
                ),
            ),
        ]
        try:
            self.client.transact_write_items(TransactItems=[put for _, put in claims])
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
            for (name, _), reason in zip(claims, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed" and name in ("phone", "person", "username"):
                    return name
            if self.merchant_id_for_phone(subject):
                return "phone"
            if person and self._get(f"PERSON#{person}", "PERSON", consistent=True):
                return "person"
            return "username"
        return None
