"""Merchants: the profile, the username and API-key lookups, notification settings."""

from __future__ import annotations

from typing import Any

from paylink.core.errors import Conflict
from paylink.core.models import (
    Merchant,
)
from paylink.store.table import Table, _clean, _is_conditional_failure


class MerchantItems(Table):
    """Merchants items."""

    def create_merchant(
        self, merchant: Merchant, api_key_hash: str, key: dict[str, Any] | None = None
    ) -> None:
        """Store a merchant, its unique username and its hashed API key, all or nothing.

        `key`: the key's listed fields (paylink.store.api_keys.api_key_item); without them the key
        is stored bare and adopted on its first use."""
        item = {"pk": f"MERCHANT#{merchant.id}", "sk": "PROFILE", **merchant.model_dump(mode="json")}
        key_item = key or {"pk": f"APIKEY#{api_key_hash}", "sk": "APIKEY", "merchant_id": merchant.id}
        if key:
            item["api_keys_active"] = 1
        try:
            self.client.transact_write_items(
                TransactItems=[
                    self._put(_clean(item), condition="attribute_not_exists(pk)"),
                    *self.username_claims(merchant),
                    self._put(key_item, condition="attribute_not_exists(pk)"),
                ]
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise Conflict(
                    "username already taken",
                    fields={"username": "already taken, or too close to an existing username"},
                ) from exc
            raise

    def username_claims(self, merchant: Merchant) -> list[dict[str, Any]]:
        """The two puts that make a username unique: the name itself (its lookup) and its folded
        skeleton (paylink.merchants.usernames.fold), so no look-alike can be created beside it."""
        from paylink.merchants.usernames import fold

        return [
            self._put(
                {"pk": f"USERNAME#{merchant.username}", "sk": "USERNAME", "merchant_id": merchant.id},
                condition="attribute_not_exists(pk)",
            ),
            self._put(
                {"pk": f"USERFOLD#{fold(merchant.username)}", "sk": "USERFOLD", "merchant_id": merchant.id},
                condition="attribute_not_exists(pk)",
            ),
        ]

    def username_fold_taken(self, username: str) -> bool:
        """Whether a username with the same folded skeleton exists (a look-alike)."""
        from paylink.merchants.usernames import fold

        return self._get(f"USERFOLD#{fold(username)}", "USERFOLD") is not None

    def update_merchant_if(self, merchant_id: str, changes: dict[str, Any], expected: dict[str, Any]) -> bool:
        """Write only `changes` to a merchant's profile, only while each field of `expected` still
        holds the value it was read with (None: absent); False when one changed meanwhile (nothing
        written: the caller says so rather than overwrite another change)."""
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        sets = [f"#f{i} = :v{i}" for i, name in enumerate(changes) if changes[name] is not None]
        removes = [f"#f{i}" for i, name in enumerate(changes) if changes[name] is None]
        values = {f":v{i}": changes[name] for i, name in enumerate(changes) if changes[name] is not None}
        clauses = [("SET", sets), ("REMOVE", removes)]
        expression = " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses if parts)
        conditions = ["attribute_exists(pk)"]
        for i, (name, old) in enumerate(expected.items()):
            names[f"#e{i}"] = name
            if old is None:
                conditions.append(f"attribute_not_exists(#e{i})")
            else:
                conditions.append(f"#e{i} = :e{i}")
                values[f":e{i}"] = old
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": _clean(values)} if values else {}),
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def get_merchant(self, merchant_id: str) -> Merchant | None:
        item = self._get(f"MERCHANT#{merchant_id}", "PROFILE")
        return Merchant.model_validate(item) if item else None

    def merchant_for_api_key(self, api_key_hash: str) -> Merchant | None:
        ref = self._get(f"APIKEY#{api_key_hash}", "APIKEY")
        return self.get_merchant(ref["merchant_id"]) if ref else None

    def merchant_id_for_username(self, username: str) -> str | None:
        ref = self._get(f"USERNAME#{username}", "USERNAME")
        return str(ref["merchant_id"]) if ref else None

    def set_notification_settings_if(
        self, merchant_id: str, settings: dict[str, str | None], *, secret_is: str | None
    ) -> bool:
        """`set_notification_settings` only while the webhook secret is `secret_is` (None: while it
        has none); False when it is not (another request set or rotated it first)."""
        try:
            self.set_notification_settings(merchant_id, settings, secret_is=secret_is, check=True)
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def set_notification_settings(
        self,
        merchant_id: str,
        settings: dict[str, str | None],
        *,
        secret_is: str | None = None,
        check: bool = False,
    ) -> None:
        """Write a merchant's webhook URL, webhook secrets or Telegram chat (None removes one)."""
        names = {f"#f{i}": name for i, name in enumerate(settings)}
        sets = [f"#f{i} = :v{i}" for i, name in enumerate(settings) if settings[name] is not None]
        removes = [f"#f{i}" for i, name in enumerate(settings) if settings[name] is None]
        values = {f":v{i}": settings[name] for i, name in enumerate(settings) if settings[name] is not None}
        clauses = [("SET", sets), ("REMOVE", removes)]
        expression = " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses if parts)
        condition = "attribute_exists(pk)"
        if check:
            names["#secret"] = "webhook_secret"
            if secret_is is None:
                condition += " AND attribute_not_exists(#secret)"
            else:
                condition += " AND #secret = :secret_is"
                values[":secret_is"] = secret_is
        self.client.update_item(
            TableName=self.table,
            Key={"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
