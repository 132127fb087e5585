"""API keys: several per merchant, each stored only as its SHA-256, listed, revoked, last used.

A key is the item `APIKEY#{sha256}/APIKEY` (the one lookup on every request). Keys made before keys
had ids hold only `merchant_id`; the first request made with one adopts it (`adopt_api_key`): it gets
an id, a name and the list index, and counts in the merchant's `api_keys_active`. The counter on the
merchant's profile is what makes "never revoke the last active key" hold under concurrent revocations:
a revocation and the counter's decrement are one transaction conditioned on the counter.
"""

from __future__ import annotations

from typing import Any

from paylink.store.table import Table, _cancellation_codes, _is_conditional_failure

REVOKED_KEPT_SECONDS = 30 * 86_400  # a revoked key stays listed (and refused) this long, then goes


class KeyConflict(Exception):
    """A key write refused by its condition; `which` says whose: "key" or "merchant"."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


def _index(merchant_id: str, created_at: str, key_id: str) -> dict[str, str]:
    return {"gsi1pk": f"MERCHANT#{merchant_id}#APIKEYS", "gsi1sk": f"{created_at}#{key_id}"}


def api_key_item(
    api_key_hash: str, merchant_id: str, *, key_id: str, name: str, last4: str, created_at: str
) -> dict[str, Any]:
    """The stored form of a key (its hash, never the key)."""
    return {
        "pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY", "merchant_id": merchant_id, "key_id": key_id,
        "name": name, "last4": last4, "created_at": created_at, **_index(merchant_id, created_at, key_id),
    }  # fmt: skip


class ApiKeyItems(Table):
    """API key items and the merchant's count of active keys."""

    def _count_keys(
        self, merchant_id: str, delta: int, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
                "UpdateExpression": "ADD api_keys_active :delta",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": {":delta": delta, **values},
            }
        }

    def api_key(self, api_key_hash: str) -> dict[str, Any] | None:
        """The stored key of a hash (eventually consistent: the read every request makes)."""
        return self._get(f"APIKEY#{api_key_hash}", "APIKEY")

    def add_api_key(self, item: dict[str, Any], *, max_active: int) -> None:
        """Store a new key and count it; KeyConflict("merchant") when the merchant already has
        `max_active` active keys (or is gone)."""
        counted = self._count_keys(
            item["merchant_id"],
            1,
            "attribute_exists(pk) AND (attribute_not_exists(api_keys_active) OR api_keys_active < :max)",
            {":max": max_active},
        )
        put = self._put(item, condition="attribute_not_exists(pk)")
        try:
            self.client.transact_write_items(TransactItems=[put, counted])
        except Exception as exc:
            codes = _cancellation_codes(exc) if _is_conditional_failure(exc) else []
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                raise KeyConflict("merchant") from exc
            if codes[:1] == ["ConditionalCheckFailed"]:
                raise KeyConflict("key") from exc
            raise

    def adopt_api_key(self, api_key_hash: str, item: dict[str, Any]) -> bool:
        """Give a key made before keys had ids its id, name and list entry, and count it, once;
        False when another request adopted it first."""
        fields = {k: v for k, v in item.items() if k not in ("pk", "sk", "merchant_id")}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": fields[name] for i, name in enumerate(fields)}
        adopt = {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY"},
                "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(key_id)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        counted = self._count_keys(item["merchant_id"], 1, "attribute_exists(pk)", {})
        return self._transact_once([adopt, counted])

    def touch_api_key(self, api_key_hash: str, now: str, not_since: str) -> bool:
        """Set a key's `last_used_at` to `now` unless it was set at or after `not_since`: one write
        per key per interval, however many requests (and instances) use it."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY"},
                UpdateExpression="SET last_used_at = :now",
                ConditionExpression="attribute_exists(key_id) AND attribute_not_exists(revoked_at)"
                " AND (attribute_not_exists(last_used_at) OR last_used_at < :since)",
                ExpressionAttributeValues={":now": now, ":since": not_since},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def api_keys_of(self, merchant_id: str) -> list[dict[str, Any]]:
        """A merchant's keys with ids (active and recently revoked), newest first."""
        items = list(self._query_all("gsi1", "gsi1pk", f"MERCHANT#{merchant_id}#APIKEYS"))
        return sorted(items, key=lambda item: str(item["gsi1sk"]), reverse=True)

    def revoke_api_key(self, api_key_hash: str, merchant_id: str, now: str, expires: int) -> None:
        """Revoke an active key of `merchant_id` and uncount it, all or nothing.

        KeyConflict("key"): it is not an active key of that merchant; KeyConflict("merchant"): it is
        the merchant's last active key."""
        revoke = {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY"},
                "UpdateExpression": "SET revoked_at = :now, #ttl = :ttl",
                "ConditionExpression": "merchant_id = :m AND attribute_exists(key_id)"
                " AND attribute_not_exists(revoked_at)",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {":now": now, ":ttl": expires, ":m": merchant_id},
            }
        }
        uncounted = self._count_keys(merchant_id, -1, "api_keys_active > :one", {":one": 1})
        try:
            self.client.transact_write_items(TransactItems=[revoke, uncounted])
        except Exception as exc:
            codes = _cancellation_codes(exc) if _is_conditional_failure(exc) else []
            if codes[:1] == ["ConditionalCheckFailed"]:
                raise KeyConflict("key") from exc
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                raise KeyConflict("merchant") from exc
            raise
