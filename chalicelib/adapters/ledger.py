"""The delivery ledger in DynamoDB, through pynamodb: one table, two kinds of item.

    pk = EVENT#<event id>      sk = ATTEMPT#<time>#<n>#<r> every POST (with the reply's first KB),
                                                          for GET /events/{id}/deliveries
    pk = KEY#<idempotency key> sk = SUCCESS              the first 2xx, written with a condition

An attempt to an endpoint (not the built-in one) also carries `endpoint_key`, the hash key of the
sparse index `by_endpoint` (range: `attempted_at`): GET /endpoints/{id}/stats reads a day of it.

Items expire 30 days after they are written (DynamoDB TTL on `expires_at`, as the CDK table says).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError, PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.errors import Unavailable
from chalicelib.ports import Attempt

RETENTION = timedelta(days=30)


class LedgerUnavailable(Unavailable):
    """The delivery ledger cannot be read."""

    what = "the delivery ledger"


SUCCESS = "SUCCESS"
BY_ENDPOINT = "by_endpoint"


@cache
def ledger_model(table: str, region: str, host: str | None) -> Any:
    """A model class bound to one table (pynamodb binds tables to classes)."""

    class ByEndpoint(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
        class Meta:
            index_name = BY_ENDPOINT
            projection = AllProjection()

        endpoint_key = UnicodeAttribute(hash_key=True)
        attempted_at = UTCDateTimeAttribute(range_key=True)

    class DeliveryItem(Model):
        class Meta:
            table_name = table
            billing_mode = "PAY_PER_REQUEST"
            max_retry_attempts = 3

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        event_id = UnicodeAttribute()
        idempotency_key = UnicodeAttribute()
        attempt = NumberAttribute()
        attempted_at = UTCDateTimeAttribute()
        outcome = UnicodeAttribute()
        status_code = NumberAttribute(null=True)
        error = UnicodeAttribute(null=True)
        latency_ms = NumberAttribute()
        endpoint_id = UnicodeAttribute(null=True)
        endpoint_key = UnicodeAttribute(null=True)
        response_body = UnicodeAttribute(null=True)
        by_endpoint = ByEndpoint()
        expires = TTLAttribute(attr_name="expires_at")

    DeliveryItem.Meta.region = region  # type: ignore[attr-defined]
    DeliveryItem.Meta.host = host  # type: ignore[attr-defined]
    return DeliveryItem


class DynamoLedger:
    def __init__(self, table: str, region: str, host: str | None = None) -> None:
        self._model = ledger_model(table, region, host)

    def _item(self, attempt: Attempt, pk: str, sk: str) -> Any:
        return self._model(
            pk,
            sk,
            event_id=str(attempt.event_id),
            idempotency_key=attempt.idempotency_key,
            attempt=attempt.attempt,
            attempted_at=attempt.attempted_at,
            outcome=attempt.outcome,
            status_code=attempt.status_code,
            error=attempt.error,
            latency_ms=attempt.latency_ms,
            endpoint_id=str(attempt.endpoint_id) if attempt.endpoint_id else None,
            response_body=attempt.response_body,
            expires=attempt.attempted_at + RETENTION,
        )

    def record_attempt(self, attempt: Attempt) -> None:
        # Time, then the attempt number: retries within one clock tick still sort in order.
        sk = f"ATTEMPT#{attempt.attempted_at.isoformat()}#{attempt.attempt:06d}#{uuid.uuid4().hex[:8]}"
        item = self._item(attempt, f"EVENT#{attempt.event_id}", sk)
        if attempt.endpoint_id is not None:
            item.endpoint_key = str(attempt.endpoint_id)
        item.save()

    def record_success(self, attempt: Attempt) -> bool:
        item = self._item(attempt, f"KEY#{attempt.idempotency_key}", SUCCESS)
        item.response_body = None  # read only to finalise: the attempt's item keeps the reply
        try:
            item.save(condition=self._model.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        wanted = [(f"KEY#{key}", SUCCESS) for key in dict.fromkeys(keys)]
        if not wanted:
            return {}
        found = self._model.batch_get(wanted, consistent_read=True)
        return {item.idempotency_key: _attempt(item) for item in found}

    def attempts_for_event(self, event_id: UUID) -> list[Attempt]:
        try:
            items = self._model.query(f"EVENT#{event_id}", self._model.sk.startswith("ATTEMPT#"))
            return [_attempt(item) for item in items]
        except PynamoDBException as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def attempts_for_endpoint(self, endpoint_id: UUID, since: datetime) -> list[Attempt]:
        try:
            # The condition names the model's attribute: the index's is the same one in DynamoDB.
            items = self._model.by_endpoint.query(str(endpoint_id), self._model.attempted_at >= since)
            return [_attempt(item) for item in items]
        except PynamoDBException as exc:
            raise LedgerUnavailable(str(exc)) from exc


def _attempt(item: Any) -> Attempt:
    return Attempt(
        event_id=UUID(item.event_id),
        idempotency_key=item.idempotency_key,
        attempt=int(item.attempt),
        attempted_at=item.attempted_at,
        outcome=item.outcome,
        status_code=None if item.status_code is None else int(item.status_code),
        error=item.error,
        latency_ms=float(item.latency_ms),
        endpoint_id=UUID(item.endpoint_id) if item.endpoint_id else None,
        response_body=item.response_body,
    )
