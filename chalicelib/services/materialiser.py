"""The sweep's step for audience schedules: write each member's occurrence as an event as
their zone's instant approaches, already claimed, and hand it to the sweep to send (delayed
until it is due, as every claim is).

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

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.audience import EVERYONE, ZoneProgress, next_to_materialise
from chalicelib.domain.planner import occurrences
from chalicelib.domain.schedules import Schedule, ScheduleStatus
from chalicelib.ports import Claimed, Clock, Database

Send = Callable[[Sequence[Claimed]], None]
"""The sweep's way out for what a batch claimed: the queue, or marked unsent for the next run."""


@dataclass(frozen=True)
class AudiencePolicy:
    lookahead: timedelta = timedelta(minutes=10)
    """How far ahead of now a zone's occurrence is written and claimed: at least the claim's
    look-ahead, at most SQS's longest delay (15 minutes)."""
    batch_size: int = 5000
    time_budget: timedelta = timedelta(seconds=20)
    """Of the sweep's own budget: the claims that follow keep the rest."""
    concurrency: int = 1
    """Zones written at once, each on a connection of its own: a batch is PostgreSQL's work on
    one core (its inserts into `events` and their indexes), so a second writer uses a second."""


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


@dataclass(frozen=True)
class _Run:
    db: Database
    clock: Clock
    policy: AudiencePolicy
    lease: timedelta
    send: Send
    deadline: float
    monotonic: Callable[[], float]
    summary: MaterialiseSummary
    pool: ThreadPoolExecutor | None
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Zone(Enum):
    DONE = "done"
    OUT_OF_TIME = "out of time"
    STALE = "stale"
    """The schedule was paused, changed or deleted meanwhile: the next sweep reads it again."""
    STOPPED = "stopped"
    """Another zone of the schedule ran out of time or found it stale."""


def materialise(
    db: Database,
    clock: Clock,
    policy: AudiencePolicy,
    lease: timedelta,
    send: Send,
    deadline: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> MaterialiseSummary:
    """Writes and sends what falls within the look-ahead until done or `deadline` (a
    `monotonic` time); each event is leased for `lease` from when it is due."""
    summary = MaterialiseSummary()
    with db.transaction() as store:
        schedules = [s for s in store.audience_schedules() if s.status is ScheduleStatus.ACTIVE]
        zones = store.audience_zones(EVERYONE) if schedules else []
    with contextlib.ExitStack() as stack:
        pool = (
            stack.enter_context(ThreadPoolExecutor(policy.concurrency))
            if policy.concurrency > 1 and schedules
            else None
        )
        run = _Run(db, clock, policy, lease, send, deadline, monotonic, summary, pool)
        for schedule in schedules:
            summary.schedules += 1
            if not _schedule(run, schedule, zones):
                summary.budget_spent = True
                break
    if summary.written or summary.budget_spent:
        obs.log().info("audiences materialised", extra=summary.as_json())
    return summary


def next_target(db: Database, clock: Clock) -> datetime | None:
    """The earliest instant of an occurrence some zone of an active audience schedule has yet to
    write (tools that skip idle time, the simulator, ask when the sweep next has work)."""
    now = clock.now()
    with db.transaction() as store:
        active = [s for s in store.audience_schedules() if s.status is ScheduleStatus.ACTIVE]
        zones = store.audience_zones(EVERYONE) if active else []
        known = {s.id: store.audience_progress(s.id) for s in active}
    found = []
    for schedule in active:
        for name in set(zones) | set(known[schedule.id]):
            progress = known[schedule.id].get(name) or ZoneProgress(
                schedule.id, name, max(schedule.created_at, now)
            )
            upcoming = next_to_materialise(schedule.rule, progress, datetime.max.replace(tzinfo=UTC))
            if upcoming is not None:
                found.append(upcoming.target_utc)
    return min(found, default=None)


def _schedule(run: _Run, schedule: Schedule, zones: list[str]) -> bool:
    """One schedule's zones; False when the deadline came first."""
    db, clock = run.db, run.clock
    with db.transaction() as store:
        known = store.audience_progress(schedule.id)
        # A zone first seen now (its users moved or were created since the schedule was; their
        # own planning gave them their next occurrence) goes on from now, and remembers it.
        new = [
            ZoneProgress(schedule.id, z, max(schedule.created_at, clock.now()))
            for z in zones
            if z not in known
        ]
        store.save_audience_progress(schedule.id, new, clock.now())
    known |= {p.timezone: p for p in new}
    stop = threading.Event()

    def zone(name: str) -> tuple[_Zone, ZoneProgress]:
        return _zone(run, schedule, known[name], stop)

    names = sorted(known)
    outcomes = list(run.pool.map(zone, names)) if run.pool else [zone(name) for name in names]
    if any(o is _Zone.OUT_OF_TIME for o, _ in outcomes):
        return False
    if any(o is _Zone.STALE for o, _ in outcomes):
        return True
    more = any(occurrences(schedule.rule, p.timezone, p.through) for _, p in outcomes)
    if zones and not more:
        with db.transaction() as store:
            store.end_schedules([schedule.id], clock.now())
        run.summary.ended += 1
    return True


def _zone(
    run: _Run, schedule: Schedule, progress: ZoneProgress, stop: threading.Event
) -> tuple[_Zone, ZoneProgress]:
    """One zone's batches until it has nothing within the look-ahead; `stop` is set (and
    heeded) when one zone ran out of time or found the schedule changed, so that the others
    stop too."""
    now = run.clock.now()
    while True:
        if stop.is_set():
            return _Zone.STOPPED, progress
        if run.monotonic() >= run.deadline:
            stop.set()
            return _Zone.OUT_OF_TIME, progress
        occurrence = next_to_materialise(schedule.rule, progress, now + run.policy.lookahead)
        if occurrence is None:
            return _Zone.DONE, progress
        if progress.current is None:
            progress = progress.started(occurrence)
        written = _batch(run, schedule, progress)
        if written is None:
            stop.set()
            return _Zone.STALE, progress
        progress = written


def _batch(run: _Run, schedule: Schedule, progress: ZoneProgress) -> ZoneProgress | None:
    """One batch and its progress, in one transaction that holds the schedule's row shared;
    then its messages, sent."""
    with run.db.transaction() as store:
        current = store.lock_schedule(schedule.id, shared=True)
        if (
            current is None
            or current.status is not ScheduleStatus.ACTIVE
            or current.version != schedule.version
        ):
            return None
        now: datetime = run.clock.now()
        done = store.materialise_audience(schedule, progress, run.policy.batch_size, now, run.lease)
        advanced = progress.advanced(done.last_user, finished=done.scanned < run.policy.batch_size)
        store.save_audience_progress(schedule.id, [advanced], now)
    run.send(done.claims)
    with run.lock:
        run.summary.batches += 1
        run.summary.scanned += done.scanned
        run.summary.written += len(done.claims)
    return advanced
