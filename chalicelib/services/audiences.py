"""Audience schedule use cases: create, read, list, change, delete, pause, resume, preview and
count one schedule's audience, each in one transaction that holds the schedule's row lock
(a sweep's batch holds it shared, so none of these lands in the middle of one).

An audience schedule's events are written by the sweeper as each zone's instant approaches
(services/materialiser.py) and by each user's own planning (services/scheduling.py); these use
cases only cancel them in bulk and set where the sweeper goes on from (`ZoneProgress`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from chalicelib.domain.audience import (
    EVERYONE,
    LATEST_ZONE,
    LocalOccurrence,
    ZoneProgress,
    by_local_date,
    earliest,
)
from chalicelib.domain.audience import resumed_through as zone_resumed_through
from chalicelib.domain.errors import NotFound, ValidationError
from chalicelib.domain.events import Status
from chalicelib.domain.planner import Occurrence, instant, occurrences
from chalicelib.domain.schedules import CatchUp, Schedule, ScheduleFields, ScheduleStatus
from chalicelib.domain.zones import zone
from chalicelib.ports import Clock, Database, Store


@dataclass(frozen=True)
class AudienceNext:
    """An audience schedule's next occurrence: the earliest instant in its zones, and where."""

    timezone: str
    occurrence: Occurrence


@dataclass(frozen=True)
class AudienceCounts:
    local_date: date
    audience: int
    """Live users the audience includes now: those the occurrence reaches if their instant
    comes before they change."""
    received: int
    """Users whose event for that date is COMPLETED."""
    coming: int
    """Users whose event for that date is PENDING or PROCESSING."""


def create(db: Database, clock: Clock, fields: ScheduleFields) -> Schedule:
    now = clock.now()
    schedule = Schedule(uuid.uuid4(), None, fields, ScheduleStatus.ACTIVE, 1, now, now)
    require_a_future(schedule, now)
    with db.transaction() as store:
        store.insert_schedule(schedule)
        _restart(store, schedule, now, lambda _zone: now)
    return schedule


def next_of(store: Store, schedule: Schedule, now: datetime) -> AudienceNext | None:
    """The earliest next occurrence among the zones where the audience has members."""
    if schedule.status is not ScheduleStatus.ACTIVE:
        return None
    assert schedule.audience is not None
    after = max(now, schedule.created_at)
    found = {}
    for name in store.audience_zones(schedule.audience):
        upcoming = occurrences(schedule.rule, name, after)
        if upcoming:
            found[name] = upcoming[0]
    first = earliest(found)
    return AudienceNext(*first) if first else None


def change(
    db: Database, clock: Clock, schedule_id: UUID, apply: Callable[[ScheduleFields], ScheduleFields]
) -> Schedule:
    """PATCH. A new rule cancels the coming events and starts every zone again from now; a new
    payload or audience leaves them (the payload is read at delivery; a member who left is
    cancelled then), and zones already written are written again for new members."""
    now = clock.now()
    with db.transaction() as store:
        current = _locked(store, schedule_id)
        changed = current.change(apply(current.fields), now)
        if changed.rule != current.rule:
            if changed.status is ScheduleStatus.ACTIVE:
                require_a_future(changed, now)
            store.cancel_schedule_events(schedule_id, now)
            _restart(store, changed, now, lambda _zone: now)
        elif changed.audience != current.audience:
            progress = store.audience_progress(schedule_id)
            _restart(
                store,
                changed,
                now,
                lambda name: min(now, progress[name].through) if name in progress else now,
            )
        store.update_schedule(changed)
        return changed


def delete(db: Database, clock: Clock, schedule_id: UUID) -> None:
    now = clock.now()
    with db.transaction() as store:
        _locked(store, schedule_id)
        store.cancel_schedule_events(schedule_id, now)
        store.forget_audience_progress(schedule_id)
        store.delete_schedule(schedule_id, now)


def pause(db: Database, clock: Clock, schedule_id: UUID) -> Schedule:
    now = clock.now()
    with db.transaction() as store:
        paused = _locked(store, schedule_id).pause(now)
        store.cancel_schedule_events(schedule_id, now)
        store.update_schedule(paused)
        return paused


def resume(db: Database, clock: Clock, schedule_id: UUID, how: CatchUp) -> Schedule:
    """Each zone goes on from now (`none`), or from before its latest missed occurrence
    (`latest`) or its most recent 100 (`all`): the sweeper then writes those, late."""
    now = clock.now()
    with db.transaction() as store:
        schedule = _locked(store, schedule_id)
        resumed = schedule.resume(now)
        paused_at = schedule.paused_at or now
        since = max(paused_at, schedule.created_at)
        _restart(store, resumed, now, lambda name: zone_resumed_through(resumed.rule, name, since, now, how))
        store.update_schedule(resumed)
        return resumed


def preview(db: Database, schedule: Schedule, after: datetime, limit: int) -> list[LocalOccurrence]:
    """The next local dates after `after` (never before the schedule's creation), each with
    the UTC span its instants cover across the zones where the audience has members."""
    assert schedule.audience is not None
    start = max(after, schedule.created_at)
    with db.transaction() as store:
        zones = store.audience_zones(schedule.audience)
    return by_local_date({z: occurrences(schedule.rule, z, start, limit=limit) for z in zones}, limit)


def counts(db: Database, schedule: Schedule, local_date: date) -> AudienceCounts:
    assert schedule.audience is not None
    with db.transaction() as store:
        members = store.count_audience(schedule.audience)
        by_status = store.count_occurrence_events(schedule.id, local_date)
    coming = by_status.get(Status.PENDING, 0) + by_status.get(Status.PROCESSING, 0)
    return AudienceCounts(local_date, members, by_status.get(Status.COMPLETED, 0), coming)


def require_a_future(schedule: Schedule, now: datetime) -> None:
    """A rule with no occurrence after now even where the wall time comes last (UTC-12) is
    refused, as a user's schedule is."""
    if occurrences(schedule.rule, LATEST_ZONE, max(now, schedule.created_at)):
        return
    rule = schedule.rule
    if rule.recurrence is None:
        if instant(rule.start, rule.at, zone(LATEST_ZONE), rule.dst) is None:
            raise ValidationError.single("time", 'falls in a DST gap on start, and dst.gap is "skip"')
        raise ValidationError.single(
            "start", "with time, this one-time schedule's instant is past in every zone"
        )
    raise ValidationError.single("recurrence", "yields no occurrence after now")


# ---------------------------------------------------------------------------------------------


def _locked(store: Store, schedule_id: UUID) -> Schedule:
    schedule = store.lock_schedule(schedule_id)
    if schedule is None or schedule.audience is None:
        raise NotFound("no schedule with that id")
    return schedule


def _restart(store: Store, schedule: Schedule, now: datetime, through: Callable[[str], datetime]) -> None:
    """Every zone of live users (and every zone with progress) goes on after `through(zone)`,
    nothing under way."""
    zones = set(store.audience_zones(EVERYONE)) | set(store.audience_progress(schedule.id))
    progress = [ZoneProgress(schedule.id, name, through(name)) for name in sorted(zones)]
    store.save_audience_progress(schedule.id, progress, now)
