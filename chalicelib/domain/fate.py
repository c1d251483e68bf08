"""What becomes of one queue message: the worker's decisions, pure (chalicelib/services/worker.py
does the I/O around them; docs/delivery.md says where each step lives).

classify   the message against the event and user it names: dropped, cancelled, skipped, failed,
           early (wait), or undecided (no reason not to send: the ledger or the POST decides)
lease_on_receive  how long a received current message holds its event
after_post a webhook outcome: completed, deferred (retried later), or failed
after_posts the outcomes of one event's deliveries to its endpoints, together
transition the event's new state for a fate, and whether the next occurrence is now due
webhook_body what the receiver is sent
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain import event_types
from chalicelib.domain.delivery import Message, Outcome, Verdict
from chalicelib.domain.events import Event, Status
from chalicelib.domain.instants import iso_local, iso_utc
from chalicelib.domain.schedules import Schedule, ScheduleStatus
from chalicelib.domain.users import User


class Fate(StrEnum):
    """The one outcome of one message; its value is the log line's `action`. Where the event
    ends in a status, the fate has the status's name (the API's): COMPLETED, FAILED, ..."""

    UNDECIDED = "undecided"
    """No reason not to send: the ledger (a success already recorded) or the POST decides."""
    DROPPED = "dropped"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    COMPLETED_FROM_LEDGER = "completed-from-ledger"
    """COMPLETED without a POST: the ledger already holds a success for the key."""
    COMPLETED = "completed"
    DEFERRED = "deferred"
    """A transient failure: the event stays PROCESSING (Event.defer) and the same message is
    retried after a backoff."""
    FAILED = "failed"
    HELD = "held"
    """Nothing was sent this time, and that is not an attempt: no enabled endpoint takes the
    event's type (an endpoint added meanwhile gets it; MAX_EVENT_AGE skips it in the end), or
    every endpoint still to have it is over its rate limit. Hidden for a while, decided again."""
    EARLY = "early"
    """A current message received before its event is due (clock skew, an emulator without
    delays): hidden for the seconds left, then decided again. Not an attempt."""
    DEAD_LETTERED = "dead-lettered"
    """The event is already FAILED by this very message, whose move to the DLQ failed."""
    UNPROCESSED = "unprocessed"
    """The decision could not be carried out (PostgreSQL, the ledger or the DLQ failed): the
    message comes back after a backoff and is decided again."""


WRITES = frozenset(
    {Fate.CANCELLED, Fate.SKIPPED, Fate.COMPLETED_FROM_LEDGER, Fate.COMPLETED, Fate.DEFERRED, Fate.FAILED}
)
"""Fates that write the event's new state to PostgreSQL."""
TO_DLQ = frozenset({Fate.FAILED, Fate.DEAD_LETTERED})
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
    timeout, after which this message is back and received again. An unsent event's message
    got through after all: the write also ends `unsent`."""
    until = event.lease_from(now, lease)
    if not event.unsent and event.lease_until is not None and event.lease_until > until - lease / 2:
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
    """UNDECIDED, or why not (with the reason logged and stored). `schedule` is the event's, if it
    has one and it still exists."""
    if event is None:
        return Fate.DROPPED, "no such event"
    if event.status is Status.FAILED and event.version == message.version + 1:
        return Fate.DEAD_LETTERED, "already FAILED by this message; sent to the DLQ again"
    if event.status is not Status.PROCESSING or event.version != message.version:
        return Fate.DROPPED, f"stale: the event is {event.status} at version {event.version}"
    if user is None:
        return Fate.CANCELLED, "the user was deleted"
    if event.schedule_id is not None:
        if schedule is None:
            return Fate.CANCELLED, "the schedule was deleted"
        if schedule.audience is not None:  # membership is decided when the occurrence comes
            if schedule.status is ScheduleStatus.PAUSED:
                return Fate.CANCELLED, "the audience schedule is paused"
            if not schedule.audience.includes(user.metadata):
                return Fate.CANCELLED, "the user is no longer in the schedule's audience"
    elif event.event_type not in event_types.REGISTRY:
        return Fate.FAILED, f"unknown event type {event.event_type!r}"
    if now - event.due_utc > max_event_age:
        limit = _duration(max_event_age)
        return Fate.SKIPPED, f"older than MAX_EVENT_AGE ({limit}): due {iso_utc(event.due_utc)}"
    if now < event.due_utc:
        return Fate.EARLY, f"due in {seconds_until_due(event, now)} s"
    return Fate.UNDECIDED, ""


def classify_resend(
    message: Message,
    event: Event | None,
    user: User | None,
    endpoint_found: bool,
    schedule: Schedule | None = None,
) -> tuple[Fate, str]:
    """A message that sends a finished event to one endpoint again (recover, replay):
    UNDECIDED, or why not. Nothing about the event changes, whatever comes of it."""
    if event is None:
        return Fate.DROPPED, "no such event"
    if event.status not in (Status.COMPLETED, Status.FAILED):
        return Fate.DROPPED, f"only a finished event is sent again; this one is {event.status}"
    if user is None:
        return Fate.DROPPED, "the user was deleted"
    if event.schedule_id is not None and schedule is None:
        return Fate.DROPPED, "the schedule was deleted"
    if not endpoint_found:
        return Fate.DROPPED, f"no such endpoint {message.endpoint_id}"
    return Fate.UNDECIDED, ""


def after_post(outcome: Outcome, attempt: int, max_attempts: int) -> tuple[Fate, str]:
    if outcome.verdict is Verdict.SUCCESS:
        return Fate.COMPLETED, ""
    if outcome.verdict is Verdict.TRANSIENT and attempt < max_attempts:
        return Fate.DEFERRED, outcome.reason
    if outcome.verdict is Verdict.PERMANENT:
        return Fate.FAILED, outcome.reason
    return Fate.FAILED, f"gave up after {attempt} attempts: {outcome.reason}"


def after_posts(outcomes: Sequence[tuple[str, Outcome]], attempt: int, max_attempts: int) -> tuple[Fate, str]:
    """Each (endpoint label, outcome) of this attempt; the label prefixes its reason ("" for the
    built-in endpoint, whose reason stays as it always was). COMPLETED when every one succeeded;
    else DEFERRED while any failure may heal (the endpoints that have their success are not sent
    to again: the ledger has it); else failed."""
    failed = [
        (label, after_post(o, attempt, max_attempts))
        for label, o in outcomes
        if o.verdict is not Verdict.SUCCESS
    ]
    if not failed:
        return Fate.COMPLETED, ""
    fate = Fate.DEFERRED if any(f is Fate.DEFERRED for _, (f, _) in failed) else Fate.FAILED
    return fate, "; ".join(f"{label}: {reason}" if label else reason for label, (_, reason) in failed)


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
    occurrence is due). `attempts` is the count to store; `lease_until` is for DEFERRED."""
    if fate in (Fate.COMPLETED, Fate.COMPLETED_FROM_LEDGER):
        return event.complete(now, attempts, delivered_at), True
    if fate is Fate.SKIPPED:
        return event.skip(now, reason), True
    if fate is Fate.FAILED:
        return event.fail(now, attempts, reason), True
    if fate is Fate.CANCELLED:
        return event.cancel(now), False
    if fate is Fate.DEFERRED:
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
