"""A user's series of events, and the decisions that keep each one's next event in place.

A series is one stream of a user's events: a built-in type that applies to them (a yearly rule
on one of their dates) or one of the team's schedules. It has at most one event coming at a
time, the first occurrence after the last that is not already taken: an occurrence delivered,
failed or skipped is never planned twice, even when a zone change moves its wall time back into
the future. (A schedule resumed with catch-up may have several coming at once.)

Services load what these functions need (the series, the users' events), call them, and write
what they return: "load, decide in the domain, write once".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from chalicelib.domain.events import ACTIVE, Event, Status, audience_key
from chalicelib.domain.planner import Occurrence, Rule, next_occurrence, occurrence_on

PLANNING_MARGIN = timedelta(days=4)
"""Only events targeted after t minus this can take a date that "the next occurrence after t"
might fall on (a local date is within about a day of its instant, the widest offsets 26 hours
apart): planning reads no older history than that."""

SeriesKey = tuple[UUID, "str | UUID"]
"""(user id, schedule id), or (user id, event type) for a built-in type."""


def series_key(user_id: UUID, event_type: str, schedule_id: UUID | None) -> SeriesKey:
    return (user_id, schedule_id if schedule_id is not None else event_type)


@dataclass(frozen=True)
class KnownEvent:
    """What planning must know of an event that exists: its series, date and status."""

    id: UUID
    user_id: UUID
    event_type: str
    occurrence_date: date
    status: Status
    schedule_id: UUID | None = None

    @property
    def key(self) -> SeriesKey:
        return series_key(self.user_id, self.event_type, self.schedule_id)

    @classmethod
    def of(cls, event: Event) -> KnownEvent:
        return cls(
            event.id, event.user_id, event.event_type, event.occurrence_date, event.status, event.schedule_id
        )


@dataclass(frozen=True)
class Series:
    user_id: UUID
    event_type: str
    rule: Rule
    timezone: str
    schedule_id: UUID | None = None
    not_before: datetime | None = None
    """A schedule's creation: it never delivers an occurrence from before it."""
    audience: bool = False
    """An audience schedule's series for one of its users: its keys are `audience_key`s, and
    one user's rule running out does not end the schedule (other zones may have more)."""

    @property
    def key(self) -> SeriesKey:
        return series_key(self.user_id, self.event_type, self.schedule_id)

    def next(self, after: datetime, taken: Iterable[date] = ()) -> Occurrence | None:
        if self.not_before is not None and after < self.not_before:
            after = self.not_before
        return next_occurrence(self.rule, self.timezone, after, frozenset(taken))

    def event(self, occurrence: Occurrence, now: datetime) -> Event:
        key = self.key_for(occurrence.local_date)
        return Event.new(self.user_id, self.event_type, occurrence, self.timezone, now, self.schedule_id, key)

    def key_for(self, day: date) -> str | None:
        """The occurrence's own key, for an audience; None: the event's usual one."""
        if self.audience and self.schedule_id is not None:
            return audience_key(self.user_id, self.schedule_id, day)
        return None

    def taken(self, known: Iterable[KnownEvent]) -> set[date]:
        """This series' dates that have an event; a CANCELLED one takes no date."""
        return _taken(known).get(self.key, set())

    def is_exactly(self, event: Event) -> bool:
        """The event is still this series' occurrence for its date, at the same instant in the
        same zone (only a name or the payload changed, say). Such an event stays as it is:
        planning "the next one after now" would move an overdue or in-flight event on, and the
        occurrence due today would never be delivered."""
        if event.timezone != self.timezone:
            return False
        expected = occurrence_on(self.rule, self.timezone, event.occurrence_date)
        return expected == Occurrence(event.occurrence_date, event.target_utc)


@dataclass
class Changes:
    """What a plan writes: new events, new states of existing ones, and schedules with nothing
    more to deliver."""

    insert: list[Event] = field(default_factory=list)
    save: list[tuple[Event, int]] = field(default_factory=list)
    """(new state, the version it was read at)."""
    ended: set[UUID] = field(default_factory=set)


def _taken(known: Iterable[KnownEvent]) -> dict[SeriesKey, set[date]]:
    """The dates each series already has an event for; a CANCELLED one takes no date."""
    taken: dict[SeriesKey, set[date]] = defaultdict(set)
    for k in known:
        if k.status is not Status.CANCELLED:
            taken[k.key].add(k.occurrence_date)
    return taken


def reconcile(
    series: Sequence[Series], active: Sequence[Event], known: Iterable[KnownEvent], now: datetime
) -> Changes:
    """After a change to a user or a schedule: each series gets its next event if it has none,
    keeps one that is still exactly right, or has it moved to its next free occurrence (in
    place: the same row, a new version, so a message already queued for it is dropped); an
    active event whose series is gone (a deleted schedule, a cleared anniversary) is cancelled.

    `active` is every PENDING or PROCESSING event of the series' users, locked; `known` every
    event of theirs."""
    changes = Changes()
    taken = _taken(known)
    by_key: dict[SeriesKey, list[Event]] = defaultdict(list)
    for event in active:
        by_key[series_key(event.user_id, event.event_type, event.schedule_id)].append(event)
    wanted = {s.key for s in series}
    for key, events in by_key.items():
        if key not in wanted:
            changes.save += [(e.cancel(now), e.version) for e in events]
    for s in series:
        events = sorted(by_key.get(s.key, []), key=lambda e: e.target_utc)
        if not events:
            occurrence = s.next(now, taken[s.key])
            if occurrence is not None:
                changes.insert.append(s.event(occurrence, now))
            elif s.schedule_id is not None and not s.audience:
                changes.ended.add(s.schedule_id)
            continue
        current = events[-1]  # earlier ones are a resumed schedule's catch-up, due now
        if s.is_exactly(current):
            continue
        occurrence = s.next(now, taken[s.key] - {current.occurrence_date})
        if occurrence is None:
            changes.save.append((current.cancel(now), current.version))
            if s.schedule_id is not None and not s.audience and len(events) == 1:
                changes.ended.add(s.schedule_id)
        elif (occurrence.local_date, occurrence.target_utc) != (
            current.occurrence_date,
            current.target_utc,
        ) or (current.timezone != s.timezone):
            moved = current.reschedule(occurrence, s.timezone, now, s.key_for(occurrence.local_date))
            changes.save.append((moved, current.version))
    return changes


def following(
    finished: Sequence[Event], series: Mapping[SeriesKey, Series], known: Iterable[KnownEvent], now: datetime
) -> Changes:
    """The events to insert after `finished` reached terminal states: each series' next free
    occurrence after the finished one, unless another of its events is still coming (an
    operator retried an old FAILED one; a resumed schedule's catch-up). A finished event whose
    series is not in `series` (its user deleted, its schedule paused or deleted) plans nothing;
    a schedule with nothing more is ended. `known` is every event of the users concerned."""
    changes = Changes()
    known = list(known)
    taken = _taken(known)
    coming: dict[SeriesKey, set[UUID]] = defaultdict(set)
    for k in known:
        if k.status in ACTIVE:
            coming[k.key].add(k.id)
    for event in finished:
        key = series_key(event.user_id, event.event_type, event.schedule_id)
        s = series.get(key)
        if s is None or coming[key] - {event.id}:
            continue
        occurrence = s.next(event.target_utc, taken[key])
        if occurrence is None:
            if s.schedule_id is not None and not s.audience:
                changes.ended.add(s.schedule_id)
            continue
        new = s.event(occurrence, now)
        taken[key].add(new.occurrence_date)
        coming[key].add(new.id)
        changes.insert.append(new)
    return changes
