"""Idempotency records of the merchant API (Powertools' persistence layer over our table)."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from paylink.core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

IDEMPOTENCY_PK = "IDEMPOTENCY"


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
