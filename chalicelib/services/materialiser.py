"""The sweep's first step for audience schedules: write each member's occurrence as a PENDING
event as their zone's instant approaches, so the claim that follows finds them.

For each active audience schedule and each zone of live users, the occurrence under way (or
the next after the zone's `through`, if it is targeted within the audience look-ahead) is
written for the zone's members in id order, a batch per transaction, each batch committing
with the progress it made (`ZoneProgress`): a sweep that dies half-way, or runs out of its
budget, leaves the rest to the next, which neither loses nor doubles a member (a member's event
is unique per schedule, user and local date, and the insert skips one that exists). Nothing
is written at creation: a million members cost a million rows only as their instants come,
zone by zone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.audience import ZoneProgress, next_to_materialise
from chalicelib.domain.planner import occurrences
from chalicelib.domain.schedules import Schedule, ScheduleStatus
from chalicelib.ports import Clock, Database


@dataclass(frozen=True)
class AudiencePolicy:
    lookahead: timedelta = timedelta(minutes=15)
    """How far ahead of now a zone's occurrence is written (at least the claim's look-ahead)."""
    batch_size: int = 5000
    time_budget: timedelta = timedelta(seconds=20)
    """Of the sweep's own budget: the claims that follow keep the rest."""


@dataclass
class MaterialiseSummary:
    schedules: int = 0
    batches: int = 0
    scanned: int = 0
    written: int = 0
    ended: int = 0
    budget_spent: bool = False

    def as_json(self) -> dict[str, Any]:
        return {f"audience{k.title().replace('_', '')}": v for k, v in asdict(self).items()}


def materialise(
    db: Database,
    clock: Clock,
    policy: AudiencePolicy,
    deadline: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> MaterialiseSummary:
    """Writes what falls within the look-ahead until done or `deadline` (a `monotonic` time)."""
    summary = MaterialiseSummary()
    with db.transaction() as store:
        schedules = [s for s in store.audience_schedules() if s.status is ScheduleStatus.ACTIVE]
        zones = store.user_zones() if schedules else []
    for schedule in schedules:
        summary.schedules += 1
        if not _schedule(db, clock, policy, schedule, zones, deadline, monotonic, summary):
            summary.budget_spent = True
            break
    if summary.written or summary.budget_spent:
        obs.log().info("audiences materialised", extra=summary.as_json())
    return summary


def _schedule(
    db: Database,
    clock: Clock,
    policy: AudiencePolicy,
    schedule: Schedule,
    zones: list[str],
    deadline: float,
    monotonic: Callable[[], float],
    summary: MaterialiseSummary,
) -> bool:
    """One schedule's zones; False when the deadline came first."""
    with db.transaction() as store:
        known = store.audience_progress(schedule.id)
    more = False
    for name in sorted(set(zones) | set(known)):
        now = clock.now()
        progress = known.get(name) or ZoneProgress(schedule.id, name, max(schedule.created_at, now))
        while True:
            if monotonic() >= deadline:
                return False
            occurrence = next_to_materialise(schedule.rule, progress, now + policy.lookahead)
            if occurrence is None:
                break
            if progress.current is None:
                progress = progress.started(occurrence)
            written = _batch(db, clock, policy, schedule, progress, summary)
            if written is None:
                return True  # paused, changed or deleted meanwhile: the next sweep reads it again
            progress = written
        more = more or bool(occurrences(schedule.rule, name, progress.through))
    if zones and not more:
        with db.transaction() as store:
            store.end_schedules([schedule.id], clock.now())
        summary.ended += 1
    return True


def _batch(
    db: Database,
    clock: Clock,
    policy: AudiencePolicy,
    schedule: Schedule,
    progress: ZoneProgress,
    summary: MaterialiseSummary,
) -> ZoneProgress | None:
    """One batch and its progress, in one transaction that holds the schedule's row shared."""
    with db.transaction() as store:
        current = store.lock_schedule(schedule.id, shared=True)
        if (
            current is None
            or current.status is not ScheduleStatus.ACTIVE
            or current.version != schedule.version
        ):
            return None
        now: datetime = clock.now()
        done = store.materialise_audience(schedule, progress, policy.batch_size, now)
        advanced = progress.advanced(done.last_user, finished=done.scanned < policy.batch_size)
        store.save_audience_progress(schedule.id, [advanced], now)
    summary.batches += 1
    summary.scanned += done.scanned
    summary.written += done.written
    return advanced
