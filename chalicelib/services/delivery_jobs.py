"""The worker's vocabulary: its collaborators, its policy, and one job per SQS record."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib import observability as obs
from chalicelib.adapters.postgres import Database
from chalicelib.domain.delivery import Backoff, Message, Outcome
from chalicelib.domain.events import Event
from chalicelib.domain.schedule import Schedule
from chalicelib.domain.users import User
from chalicelib.services.ports import Clock, DeliveryLedger, Queue, WebhookSender


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    backoff: Backoff
    lease: timedelta
    """After a deferral the lease covers the wait plus this much (the queue's visibility and then some)."""
    max_event_age: timedelta


@dataclass(frozen=True)
class Worker:
    db: Database
    clock: Clock
    schedule: Schedule
    queue: Queue
    dlq: Queue
    ledger: DeliveryLedger
    sender: WebhookSender
    policy: DeliveryPolicy
    rng: random.Random = field(default_factory=random.Random)


class Action(StrEnum):
    DROP = "dropped"
    CANCEL = "cancelled"
    SKIP = "skipped"
    SEND = "send"
    FINALISE = "finalised-from-ledger"
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "failed"
    ERROR = "error"


WRITES = frozenset({Action.CANCEL, Action.SKIP, Action.FINALISE, Action.DELIVERED, Action.RETRY, Action.FAIL})


@dataclass
class Job:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    message: Message | None = None
    event: Event | None = None
    user: User | None = None
    action: Action = Action.SEND
    reason: str = ""
    outcome: Outcome | None = None
    delivered_at: datetime | None = None
    ledger_attempt: int = 0
    retry_in: timedelta | None = None

    @property
    def attempt(self) -> int:
        """Receives can restart (a re-queued event is a new message); PostgreSQL's count cannot."""
        previous = self.event.attempts if self.event else 0
        return max(self.receive_count, previous + 1)

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"messageId": self.message_id, "action": self.action.value}
        if self.message:
            fields |= obs.event_fields(self.message.event_id, self.message.idempotency_key)
            fields["version"] = self.message.version
            fields["attempt"] = self.attempt
        if self.reason:
            fields["reason"] = self.reason
        if self.outcome:
            fields |= {"statusCode": self.outcome.status_code, "latencyMs": round(self.outcome.latency_ms, 1)}
        return fields
