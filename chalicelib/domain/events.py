"""A scheduled event and its state machine: the one state machine (TRANSITIONS).

PENDING ─claim→ PROCESSING ─complete|fail|skip→ COMPLETED | FAILED | SKIPPED
PENDING ─cancel→ CANCELLED            PROCESSING ─cancel→ CANCELLED (user deleted while queued)
PENDING ─skip→ SKIPPED (missed while its schedule was paused)
PENDING ─reschedule→ PENDING          PROCESSING ─reschedule→ PENDING (date or zone changed)
PROCESSING ─requeue→ PROCESSING (lease expired, or the message never reached SQS: sent again in a
                                 new message)
PROCESSING ─defer→ PROCESSING (a transient failure: same message, later)
FAILED ─retry→ PENDING (an operator)

The sweeper runs `claim` and `requeue` in bulk, in SQL (Store.claim_due, Store.requeue_expired);
tests/integration/test_state_machine.py holds those statements to these methods. Every change
bumps `version`, so a queued message that names an older version is stale. The one exception
is `defer`: the worker holding the current message extends its own lease, and that message
must stay valid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from chalicelib.domain.errors import IllegalTransition
from chalicelib.domain.planner import Occurrence

LATE_AFTER = timedelta(minutes=5)

_KEY_NAMESPACE = uuid.UUID("6f1c2d1e-4b7a-4f55-9f0e-5e7d3c9a1b20")


class Status(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PROCESSING, Status.CANCELLED, Status.PENDING, Status.SKIPPED}),
    Status.PROCESSING: frozenset(
        {Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.PENDING, Status.CANCELLED, Status.PROCESSING}
    ),
    Status.FAILED: frozenset({Status.PENDING}),
    Status.COMPLETED: frozenset(),
    Status.SKIPPED: frozenset(),
    Status.CANCELLED: frozenset(),
}
TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.CANCELLED})
ACTIVE = frozenset({Status.PENDING, Status.PROCESSING})


def idempotency_key(
    user_id: UUID, event_type: str, occurrence_date: date, schedule_id: UUID | None = None
) -> str:
    """One key per (user, built-in type, local date) or (user, schedule, local date): stable
    across retries, zone changes, pauses and recovery."""
    series = f"schedule/{schedule_id}" if schedule_id else event_type
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{user_id}/{series}/{occurrence_date.isoformat()}"))


def audience_key(user_id: UUID, schedule_id: UUID, occurrence_date: date) -> str:
    """One key per (user, audience schedule, local date): a name-based UUID over MD5 (version
    3), so that PostgreSQL, which has MD5 and not SHA-1 built in, writes the same key when the
    sweeper materialises a zone's users in one statement (the materialise_audience query, from
    `audience_key_parts`)."""
    _, suffix = audience_key_parts(schedule_id, occurrence_date)
    return str(uuid.uuid3(_KEY_NAMESPACE, f"{user_id}{suffix.decode()}"))


def audience_key_parts(schedule_id: UUID, occurrence_date: date) -> tuple[bytes, bytes]:
    """What the MD5 of a member's key hashes around the member's id: the namespace before it
    and the (schedule, date) after it, the same for a whole batch (so the sweep's statement
    computes them once, not per member)."""
    return _KEY_NAMESPACE.bytes, f"/audience/{schedule_id}/{occurrence_date.isoformat()}".encode()


def is_late(target_utc: datetime, at: datetime) -> bool:
    return at - target_utc > LATE_AFTER


@dataclass(frozen=True)
class Event:
    id: UUID
    user_id: UUID
    event_type: str
    occurrence_date: date
    target_utc: datetime
    """When the occurrence is meant to arrive; lateness is measured from it."""
    due_utc: datetime
    """When the sweeper may take it: the target, or the moment an operator retried it."""
    timezone: str
    idempotency_key: str
    status: Status
    version: int
    attempts: int
    created_at: datetime
    updated_at: datetime
    lease_until: datetime | None = None
    delivered_at: datetime | None = None
    late: bool = False
    failure_reason: str | None = None
    schedule_id: UUID | None = None
    """The team's schedule this occurrence belongs to; None for the built-in types."""
    unsent: bool = False
    """PROCESSING, and its message is known never to have reached SQS (refused, or not sent
    before the sweep's deadline): the next sweep sends it first, without the re-send gate.
    Any transition, and a worker receiving the message after all, ends it."""

    def lease_from(self, now: datetime, lease: timedelta) -> datetime:
        """The lease formula: held for `lease` from when the event is due, or from now when it
        is overdue, so a message delayed until the due time never eats into it. The sweep's
        claims and re-sends (pipeline.sql's `lease_until` block) and a worker's receipt use it."""
        return max(now, self.due_utc) + lease

    @classmethod
    def new(
        cls,
        user_id: UUID,
        event_type: str,
        occurrence: Occurrence,
        timezone: str,
        now: datetime,
        schedule_id: UUID | None = None,
        key: str | None = None,
    ) -> Event:
        """`key`: the occurrence's idempotency key when its series has its own (an audience)."""
        return cls(
            id=uuid.uuid4(),
            user_id=user_id,
            event_type=event_type,
            occurrence_date=occurrence.local_date,
            target_utc=occurrence.target_utc,
            due_utc=occurrence.target_utc,
            timezone=timezone,
            idempotency_key=key or idempotency_key(user_id, event_type, occurrence.local_date, schedule_id),
            status=Status.PENDING,
            version=1,
            attempts=0,
            created_at=now,
            updated_at=now,
            schedule_id=schedule_id,
        )

    def _to(self, status: Status, now: datetime, **changes: Any) -> Event:
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"an event cannot go from {self.status} to {status}")
        return replace(self, status=status, version=self.version + 1, updated_at=now, unsent=False, **changes)

    def claim(self, now: datetime, lease_until: datetime) -> Event:
        if self.status is not Status.PENDING:
            raise IllegalTransition(f"only a PENDING event can be claimed, not {self.status}")
        return self._to(Status.PROCESSING, now, lease_until=lease_until, late=is_late(self.target_utc, now))

    def requeue(self, now: datetime, lease_until: datetime) -> Event:
        """The lease expired before a worker finished: a new message, with a new version."""
        if self.status is not Status.PROCESSING:
            raise IllegalTransition(f"only a PROCESSING event can be sent again, not {self.status}")
        return self._to(Status.PROCESSING, now, lease_until=lease_until, late=is_late(self.target_utc, now))

    def defer(self, now: datetime, attempts: int, lease_until: datetime) -> Event:
        """A transient failure: the same message comes back later, so the version stays."""
        if self.status is not Status.PROCESSING:
            raise IllegalTransition(f"only a PROCESSING event can be deferred, not {self.status}")
        return replace(self, attempts=attempts, lease_until=lease_until, updated_at=now, unsent=False)

    def reschedule(
        self, occurrence: Occurrence, timezone: str, now: datetime, key: str | None = None
    ) -> Event:
        if self.status not in ACTIVE:
            raise IllegalTransition(f"a {self.status} event cannot be rescheduled")
        return self._to(
            Status.PENDING,
            now,
            occurrence_date=occurrence.local_date,
            target_utc=occurrence.target_utc,
            due_utc=occurrence.target_utc,
            timezone=timezone,
            idempotency_key=key
            or idempotency_key(self.user_id, self.event_type, occurrence.local_date, self.schedule_id),
            lease_until=None,
            late=False,
        )

    def cancel(self, now: datetime) -> Event:
        return self._to(Status.CANCELLED, now, lease_until=None)

    def complete(self, now: datetime, attempts: int, delivered_at: datetime | None = None) -> Event:
        """`delivered_at` is when the 2xx arrived, when that was earlier (found in the ledger)."""
        at = delivered_at or now
        return self._to(
            Status.COMPLETED,
            now,
            lease_until=None,
            delivered_at=at,
            attempts=attempts,
            late=is_late(self.target_utc, at),
            failure_reason=None,
        )

    def fail(self, now: datetime, attempts: int, reason: str) -> Event:
        return self._to(Status.FAILED, now, lease_until=None, attempts=attempts, failure_reason=reason)

    def skip(self, now: datetime, reason: str) -> Event:
        return self._to(Status.SKIPPED, now, lease_until=None, failure_reason=reason)

    def due_now(self, now: datetime) -> Event:
        """A new occurrence delivered late on purpose (a resumed schedule's catch-up): due now,
        its target (and so its lateness) unchanged."""
        if self.status is not Status.PENDING or self.version != 1:
            raise IllegalTransition("only a new event can be made due now")
        return replace(self, due_utc=now)

    def retry(self, now: datetime) -> Event:
        """An operator sends a FAILED event again, due now."""
        if self.status is not Status.FAILED:
            raise IllegalTransition(f"only a FAILED event can be retried, not {self.status}")
        return self._to(Status.PENDING, now, due_utc=now, failure_reason=None)


@dataclass(frozen=True)
class EventFilter:
    """GET /events' filters; None means "any". `after` is the last (target_utc, id) seen."""

    status: str | None = None
    event_type: str | None = None
    user_id: UUID | None = None
    target_from: datetime | None = None
    target_to: datetime | None = None
    late: bool | None = None
    schedule_id: UUID | None = None
    after: tuple[datetime, UUID] | None = None
