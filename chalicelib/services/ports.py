"""What the services need from the outside world, stated as protocols."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from chalicelib.domain.delivery import Outcome
from chalicelib.domain.instants import iso_utc


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class Received:
    """A message as a consumer sees it, with SQS's attributes (ApproximateReceiveCount, ...)."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]


class Queue(Protocol):
    """One SQS queue (the delivery queue or its DLQ)."""

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        """Sends up to 10 messages, `delays[i]` seconds hidden (SQS DelaySeconds, 0-900; none
        when empty); returns the indexes of those that were not accepted."""
        ...

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None: ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None: ...

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        """What the event source mapping does in AWS: the local runner, tests and tools use it."""
        ...

    def delete(self, receipt_handle: str) -> None: ...

    def depth(self) -> int:
        """Messages in the queue: visible, in flight and delayed (in SQS, approximate)."""
        ...


@dataclass(frozen=True)
class Attempt:
    """One POST to the webhook, as the delivery ledger keeps it."""

    event_id: UUID
    idempotency_key: str
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    latency_ms: float

    def as_json(self) -> dict[str, Any]:
        return {
            "eventId": str(self.event_id),
            "idempotencyKey": self.idempotency_key,
            "attempt": self.attempt,
            "attemptedAt": iso_utc(self.attempted_at),
            "outcome": self.outcome,
            "statusCode": self.status_code,
            "error": self.error,
            "latencyMs": round(self.latency_ms, 1),
        }


class DeliveryLedger(Protocol):
    def record_attempt(self, attempt: Attempt) -> None: ...

    def record_success(self, attempt: Attempt) -> bool:
        """Writes the key's success once (a conditional put); False if one was already there."""
        ...

    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        """The recorded success of each key that has one."""
        ...

    def attempts_for_event(self, event_id: UUID) -> list[Attempt]:
        """Oldest first."""
        ...


@dataclass(frozen=True)
class Delivery:
    """What the webhook is sent for one event."""

    idempotency_key: str
    body: bytes


class WebhookSender(Protocol):
    def deliver(self, delivery: Delivery) -> Outcome: ...
