"""Coupons: the coupon item with its uses counter, and a merchant's list."""

from __future__ import annotations

from paylink.core.errors import Conflict
from paylink.core.models import (
    Coupon,
)
from paylink.store.table import Table, _clean, _is_conditional_failure, encode_cursor


class CouponItems(Table):
    """Coupons items."""

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
