"""What becomes of one queue message: the worker's decisions, pure (chalicelib/services/worker.py
does the I/O around them; docs/architecture.md says where each step lives).

classify   the message against the event and user it names: drop, cancel, skip, fail, wait
           (too early), or send
lease_on_receive  how long a received current message holds its event
after_post a webhook outcome: delivered, retry later, or failed
transition the event's new state for a fate, and whether the next occurrence is now due
webhook_body what the receiver is sent
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain import event_types
from chalicelib.domain.delivery import Message, Outcome, Verdict
from chalicelib.domain.events import Event, Status
from chalicelib.domain.instants import iso_local, iso_utc
from chalicelib.domain.schedules import Schedule, ScheduleStatus
from chalicelib.domain.users import User


class Fate(StrEnum):
    """The one outcome of one message; its value is the log line's `action`."""

    SEND = "send"
    DROP = "dropped"
    CANCEL = "cancelled"
    SKIP = "skipped"
    FINALISE = "finalised-from-ledger"
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "failed"
    EARLY = "early"
    """A current message received before its event is due (clock skew, an emulator without
    delays): hidden for the seconds left, then decided again. Not an attempt."""
    DEAD_LETTER = "dead-lettered"
    """The event is already FAILED by this very message, whose move to the DLQ failed."""
    ERROR = "error"
    """The decision could not be carried out (PostgreSQL, the ledger or the DLQ failed): the
    message comes back after a backoff and is decided again."""


WRITES = frozenset({Fate.CANCEL, Fate.SKIP, Fate.FINALISE, Fate.DELIVERED, Fate.RETRY, Fate.FAIL})
"""Fates that write the event's new state to PostgreSQL."""
TO_DLQ = frozenset({Fate.FAIL, Fate.DEAD_LETTER})
"""Fates whose message ends in the DLQ (after FAILED is stored)."""


def attempt_number(event: Event | None) -> int:
    """The POST about to be made: PostgreSQL counts POSTs (every outcome of one is stored with
    its count). SQS's receive count is no part of it: a receive that ended in an outage of the
    database, the ledger or the DLQ made no POST."""
    return (event.attempts if event else 0) + 1


def is_current(message: Message, event: Event | None) -> bool:
    """The message is the one its event waits for: PROCESSING at the message's version."""
    return event is not None and event.status is Status.PROCESSING and event.version == message.version


def lease_on_receive(event: Event, now: datetime, lease: timedelta) -> datetime | None:
    """A received current message holds its event for a lease from now (or from its due time,
    if it came early), so the sweeper never re-sends an event whose message is being worked on.
    None while more than half a lease is left: the on-time path (received seconds after the
    claim) writes nothing, and half a lease outlasts a worker's run plus the queue's visibility
    timeout, after which this message is back and received again."""
    until = max(now, event.due_utc) + lease
    if event.lease_until is not None and event.lease_until > until - lease / 2:
        return None
    return until


def seconds_until_due(event: Event, now: datetime) -> int:
    """Whole seconds an early message waits: rounded up, so it is never received early again."""
    return max(1, math.ceil((event.due_utc - now).total_seconds()))


def classify(
    message: Message,
    event: Event | None,
    user: User | None,
    now: datetime,
    max_event_age: timedelta,
    schedule: Schedule | None = None,
) -> tuple[Fate, str]:
    """SEND, or why not (with the reason logged and stored). `schedule` is the event's, if it
    has one and it still exists."""
    if event is None:
        return Fate.DROP, "no such event"
    if event.status is Status.FAILED and event.version == message.version + 1:
        return Fate.DEAD_LETTER, "already FAILED by this message; sent to the DLQ again"
    if event.status is not Status.PROCESSING or event.version != message.version:
        return Fate.DROP, f"stale: the event is {event.status} at version {event.version}"
    if user is None:
        return Fate.CANCEL, "the user was deleted"
    if event.schedule_id is not None:
        if schedule is None:
            return Fate.CANCEL, "the schedule was deleted"
        if schedule.audience is not None:  # membership is decided when the occurrence comes
            if schedule.status is ScheduleStatus.PAUSED:
                return Fate.CANCEL, "the audience schedule is paused"
            if not schedule.audience.includes(user.metadata):
                return Fate.CANCEL, "the user is no longer in the schedule's audience"
    elif event.event_type not in event_types.REGISTRY:
        return Fate.FAIL, f"unknown event type {event.event_type!r}"
    if now - event.due_utc > max_event_age:
        limit = _duration(max_event_age)
        return Fate.SKIP, f"older than MAX_EVENT_AGE ({limit}): due {iso_utc(event.due_utc)}"
    if now < event.due_utc:
        return Fate.EARLY, f"due in {seconds_until_due(event, now)} s"
    return Fate.SEND, ""


def after_post(outcome: Outcome, attempt: int, max_attempts: int) -> tuple[Fate, str]:
    if outcome.verdict is Verdict.SUCCESS:
        return Fate.DELIVERED, ""
    if outcome.verdict is Verdict.TRANSIENT and attempt < max_attempts:
        return Fate.RETRY, outcome.reason
    if outcome.verdict is Verdict.PERMANENT:
        return Fate.FAIL, outcome.reason
    return Fate.FAIL, f"gave up after {attempt} attempts: {outcome.reason}"


def transition(
    event: Event,
    fate: Fate,
    now: datetime,
    *,
    attempts: int,
    reason: str = "",
    delivered_at: datetime | None = None,
    lease_until: datetime | None = None,
) -> tuple[Event, bool]:
    """The event's new state for a fate in WRITES, and whether it is terminal (so the next
    occurrence is due). `attempts` is the count to store; `lease_until` is for RETRY."""
    if fate in (Fate.DELIVERED, Fate.FINALISE):
        return event.complete(now, attempts, delivered_at), True
    if fate is Fate.SKIP:
        return event.skip(now, reason), True
    if fate is Fate.FAIL:
        return event.fail(now, attempts, reason), True
    if fate is Fate.CANCEL:
        return event.cancel(now), False
    if fate is Fate.RETRY:
        assert lease_until is not None, "a retry extends the lease"
        return event.defer(now, attempts, lease_until), False
    raise ValueError(f"{fate} writes nothing")


def webhook_body(event: Event, user: User, schedule: Schedule | None = None) -> bytes:
    """The receiver's JSON: what it is about, the integrating team's own externalId and
    metadata as they are now, and either the built-in type's message in the user's current
    name or the schedule's own payload, as it is now."""
    if schedule is not None:
        return json.dumps(
            {
                "eventId": str(event.id),
                "eventType": event.event_type,
                "scheduleId": str(schedule.id),
                "payload": schedule.fields.payload,
                "scheduledFor": iso_utc(event.target_utc),
                "occurrence": {
                    "localDate": event.occurrence_date.isoformat(),
                    "targetLocal": iso_local(event.target_utc, event.timezone),
                },
                "userId": str(event.user_id),
                "externalId": user.external_id,
                "metadata": user.metadata,
            }
        ).encode()
    body = {
        "message": event_types.get(event.event_type).message(user.fields),
        "eventId": str(event.id),
        "eventType": event.event_type,
        "userId": str(event.user_id),
        "scheduledFor": iso_utc(event.target_utc),
        "externalId": user.external_id,
        "metadata": user.metadata,
    }
    return json.dumps(body).encode()


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
