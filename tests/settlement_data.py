"""Settlement test data written straight to the table: merchants with fixed ids and paid payments.

Going through checkout and the sandbox gateway would be slower and no truer for settlement, which
only reads what a paid payment leaves behind: the payment item on its merchant's shard of the
UNSETTLED lists (gsi3), where the settle run finds its merchant too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from paylink.core.ids import hash_api_key
from paylink.core.models import Merchant, Payment, PaymentStatus
from paylink.settlement.money import FeePlan
from paylink.store import Store
from paylink.store.settlements import unsettled_keys

VALID_IBAN = "IR062960000000100324200001"
OTHER_VALID_IBAN = "IR820540102680020817909002"
INVALID_IBAN = "IR000000000000000000000000"
SETTLE_DAY = date(2026, 11, 23)  # a Monday, a business day in Iran
PAID_AT = "2026-11-22T08:00:00.000000Z"  # the day before, Tehran time
NEXT_DAY = date(2026, 11, 24)
DAY_AFTER = date(2026, 11, 25)


@dataclass(frozen=True)
class MerchantSpec:
    key: str
    iban: str
    fee: FeePlan
    amounts: tuple[int, ...]
    name: str = "Shop"


def add_merchant(store: Store, key: str, iban: str, fee: FeePlan, name: str = "Shop") -> Merchant:
    merchant = Merchant(
        id=f"mer_{key}",
        username=key.lower()[:30],
        name=name,
        iban=iban,
        fee=fee,
        created_at="2026-01-01T00:00:00.000000Z",
    )
    store.create_merchant(merchant, hash_api_key(f"plk_{key}"))
    return merchant


def add_paid_payment(
    store: Store,
    merchant: Merchant,
    payment_id: str,
    amount: int,
    *,
    paid_at: str = PAID_AT,
    payer: dict[str, str] | None = None,
) -> Payment:
    payment = Payment(
        id=payment_id,
        merchant_id=merchant.id,
        link_code="LINKCODE0001",
        link_title="Scarf",
        merchant_name=merchant.name,
        amount=amount,
        status=PaymentStatus.PAID,
        payer=payer or {"name": "Ali"},
        created_at=paid_at,
        paid_at=paid_at,
    )
    item: dict[str, Any] = {
        "pk": f"PAYMENT#{payment.id}",
        "sk": "PAYMENT",
        "gsi2pk": f"MERCHANT#{merchant.id}#PAYMENTS",
        "gsi2sk": f"{payment.created_at}#{payment.id}",
        **unsettled_keys(merchant.id, paid_at, payment.id),
        **payment.model_dump(mode="json", exclude_none=True),
    }
    store.client.put_item(TableName=store.table, Item=item)
    return payment


def seed(store: Store, specs: list[MerchantSpec]) -> dict[str, list[Payment]]:
    """Merchants and their paid payments; payment ids are fixed, so two seeds are identical."""
    paid: dict[str, list[Payment]] = {}
    for spec in specs:
        merchant = add_merchant(store, spec.key, spec.iban, spec.fee, spec.name)
        paid[merchant.id] = [
            add_paid_payment(store, merchant, f"pay_{spec.key}_{n:03d}", amount)
            for n, amount in enumerate(spec.amounts)
        ]
    return paid


def set_iban(store: Store, merchant_id: str, iban: str) -> None:
    """Change a merchant's IBAN directly (the API refuses invalid ones)."""
    store.client.update_item(
        TableName=store.table,
        Key={"pk": f"MERCHANT#{merchant_id}", "sk": "PROFILE"},
        UpdateExpression="SET iban = :iban",
        ExpressionAttributeValues={":iban": iban},
    )


def new_store(prefix: str) -> Store:
    """A Store on fresh tables of the template (inside moto), for a dataset of its own."""
    import boto3

    from local.template import create_tables, load_template

    client = boto3.client("dynamodb", region_name="us-east-1")
    names = create_tables(client, load_template(), prefix=prefix)
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    return Store(names["PaylinkTable"], resource.meta.client)
