"""Schedule use cases: create, read, list, change, delete, pause, resume and preview a user's
schedule, each in one transaction that holds the user's lock (the worker and the user's own
changes take it too, so a schedule's events never move under them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from chalicelib.domain.audience import LocalOccurrence
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.errors import NotFound, ValidationError
from chalicelib.domain.events import ACTIVE, Event
from chalicelib.domain.planner import Occurrence, instant, occurrences
from chalicelib.domain.schedules import CatchUp, Schedule, ScheduleFields, ScheduleStatus, catch_up
from chalicelib.domain.series import PLANNING_MARGIN, Series
from chalicelib.domain.users import User
from chalicelib.domain.zones import zone
from chalicelib.ports import Clock, Database, ScheduleFilter, Store
from chalicelib.services import audiences
from chalicelib.services.scheduling import cancel_events, sync_user

MAX_PREVIEW = 1000


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as the API shows it: with its zone in force and its next occurrence (an
    audience schedule's: the earliest in its zones, in the zone `timezone`)."""

    schedule: Schedule
    timezone: str | None
    next: Occurrence | None


@dataclass(frozen=True)
class SchedulePage:
    items: list[ScheduleView]
    last_id: UUID | None
    """The id to continue after, when there may be more."""


def create_schedule(
    db: Database, clock: Clock, builtins: BuiltIns, user_id: UUID, fields: ScheduleFields
) -> ScheduleView:
    now = clock.now()
    schedule = Schedule(uuid.uuid4(), user_id, fields, ScheduleStatus.ACTIVE, 1, now, now)
    with db.transaction() as store:
        user = _user(store, user_id, lock=True)
        _require_a_future(schedule, user, now)
        store.insert_schedule(schedule)
        sync_user(store, builtins, user, now)
        return _view(store, schedule, user)


def create_audience_schedule(db: Database, clock: Clock, fields: ScheduleFields) -> ScheduleView:
    schedule = audiences.create(db, clock, fields)
    with db.transaction() as store:
        return _audience_view(store, schedule, clock.now())


def get_schedule(db: Database, clock: Clock, schedule_id: UUID) -> ScheduleView:
    with db.transaction() as store:
        schedule = _found(store.get_schedule(schedule_id))
        if schedule.user_id is None:
            return _audience_view(store, schedule, clock.now())
        return _view(store, schedule, _user(store, schedule.user_id))


def read_schedule(db: Database, schedule_id: UUID) -> Schedule:
    with db.transaction() as store:
        return _found(store.get_schedule(schedule_id))


def owner_of(db: Database, schedule_id: UUID) -> UUID | None:
    """The schedule's user (None: an audience schedule), for the access check before anything
    else is read."""
    with db.transaction() as store:
        return _found(store.get_schedule(schedule_id)).user_id


def list_all(
    db: Database, clock: Clock, where: ScheduleFilter, limit: int, after: UUID | None
) -> SchedulePage:
    """GET /schedules: users' and audience schedules together, in id order."""
    now = clock.now()
    with db.transaction() as store:
        found = store.list_all_schedules(where, limit, after)
        users = store.users_by_ids({s.user_id for s in found if s.user_id is not None})
        mine = [s for s in found if s.user_id is not None and s.user_id in users]
        views = {v.schedule.id: v for v in _views(store, mine, users)}
        for s in found:
            if s.user_id is None:
                views[s.id] = _audience_view(store, s, now)
    return SchedulePage(
        [views[s.id] for s in found if s.id in views], found[-1].id if len(found) == limit else None
    )


def list_for_user(db: Database, user_id: UUID, limit: int, after: UUID | None) -> SchedulePage:
    with db.transaction() as store:
        user = _user(store, user_id)
        found = store.list_schedules(user_id, limit, after)
        items = _views(store, found, {user.id: user})
    return SchedulePage(items, found[-1].id if len(found) == limit else None)


def change_schedule(
    db: Database,
    clock: Clock,
    builtins: BuiltIns,
    schedule_id: UUID,
    change: Callable[[ScheduleFields], ScheduleFields],
) -> ScheduleView:
    """PATCH: the pending occurrence moves in place (or is cancelled, or a new one planned)."""
    now = clock.now()
    if _is_audience(db, schedule_id):
        changed = audiences.change(db, clock, schedule_id, change)
        with db.transaction() as store:
            return _audience_view(store, changed, now)
    with db.transaction() as store:
        current, user = _locked(store, schedule_id)
        changed = current.change(change(current.fields), now)
        if changed.status is ScheduleStatus.ACTIVE:
            _require_a_future_or_one_coming(store, changed, user, now)
        store.update_schedule(changed)
        sync_user(store, builtins, user, now)
        return _view(store, _found(store.get_schedule(schedule_id)), user)


def delete_schedule(db: Database, clock: Clock, schedule_id: UUID) -> None:
    """Its pending occurrence is cancelled (a message already queued for it is dropped); its
    delivered history stays readable through /events."""
    now = clock.now()
    if _is_audience(db, schedule_id):
        audiences.delete(db, clock, schedule_id)
        return
    with db.transaction() as store:
        schedule, _ = _locked(store, schedule_id)
        cancel_events(store, _coming(store, schedule), now)
        store.delete_schedule(schedule.id, now)


def pause_schedule(db: Database, clock: Clock, schedule_id: UUID) -> ScheduleView:
    """Nothing is delivered while paused: the pending occurrence is cancelled."""
    now = clock.now()
    if _is_audience(db, schedule_id):
        paused = audiences.pause(db, clock, schedule_id)
        with db.transaction() as store:
            return _audience_view(store, paused, now)
    with db.transaction() as store:
        schedule, user = _locked(store, schedule_id)
        paused = schedule.pause(now)
        cancel_events(store, _coming(store, schedule), now)
        store.update_schedule(paused)
        return _view(store, paused, user)


def resume_schedule(
    db: Database, clock: Clock, builtins: BuiltIns, schedule_id: UUID, how: CatchUp
) -> ScheduleView:
    """The occurrences missed while paused are delivered (late) or recorded as SKIPPED, as
    `how` says; then the next one is planned as usual."""
    now = clock.now()
    if _is_audience(db, schedule_id):
        resumed = audiences.resume(db, clock, schedule_id, how)
        with db.transaction() as store:
            return _audience_view(store, resumed, now)
    with db.transaction() as store:
        schedule, user = _locked(store, schedule_id)
        resumed = schedule.resume(now)
        series = resumed.series(user)
        taken = _taken(store, series, schedule.paused_at or now)
        missed = _missed(series, schedule, taken, now)
        deliver, skip = catch_up(missed, how)
        events = [series.event(o, now).due_now(now) for o in deliver]
        events += [series.event(o, now).skip(now, "missed while the schedule was paused") for o in skip]
        upcoming = series.next(now, taken | {o.local_date for o in missed})
        if upcoming is not None:  # planned now, not after the catch-up: it may take a while
            events.append(series.event(upcoming, now))
        store.update_schedule(resumed)
        store.insert_events(events)
        sync_user(store, builtins, user, now)
        return _view(store, resumed, user)


def preview(db: Database, schedule_id: UUID, after: datetime, limit: int) -> list[Occurrence]:
    """The next occurrences after `after`, exactly as the planner will deliver them: the same
    rule, zone, policies and taken dates (never one from before the schedule's creation)."""
    return preview_in_zone(db, schedule_id, after, limit)[1]


def preview_in_zone(
    db: Database, schedule_id: UUID, after: datetime, limit: int
) -> tuple[str, list[Occurrence]]:
    """`preview`, with the zone its instants are in (read in the same transaction). A date
    whose event is still coming (PENDING, PROCESSING) is shown: it will be delivered."""
    with db.transaction() as store:
        schedule = _found(store.get_schedule(schedule_id))
        if schedule.user_id is None:
            raise NotFound("no schedule with that id")  # an audience's: audiences.preview
        user = _user(store, schedule.user_id)
        series = schedule.series(user)
        start = max(after, schedule.created_at)
        known = store.known_events([series.user_id], start - PLANNING_MARGIN)
    done = series.taken(k for k in known if k.status not in ACTIVE)
    return series.timezone, occurrences(series.rule, series.timezone, start, done, limit)


# ---------------------------------------------------------------------------------------------


def _found(schedule: Schedule | None) -> Schedule:
    if schedule is None:
        raise NotFound("no schedule with that id")
    return schedule


def _is_audience(db: Database, schedule_id: UUID) -> bool:
    with db.transaction() as store:
        return _found(store.get_schedule(schedule_id)).user_id is None


def _audience_view(store: Store, schedule: Schedule, now: datetime) -> ScheduleView:
    upcoming = audiences.next_of(store, schedule, now)
    if upcoming is None:
        return ScheduleView(schedule, None, None)
    return ScheduleView(schedule, upcoming.timezone, upcoming.occurrence)


def _user(store: Store, user_id: UUID, *, lock: bool = False) -> User:
    user = store.get_user(user_id, lock=lock)
    if user is None:
        raise NotFound("no user with that id")
    return user


def _locked(store: Store, schedule_id: UUID) -> tuple[Schedule, User]:
    """The schedule and its user, the user's lock held (taken first, as everywhere)."""
    user_id = _found(store.get_schedule(schedule_id)).user_id
    if user_id is None:  # became an audience's? never: a schedule's kind is for good
        raise NotFound("no schedule with that id")
    user = _user(store, user_id, lock=True)
    return _found(store.get_schedule(schedule_id)), user  # read again, under the lock


def _view(store: Store, schedule: Schedule, user: User) -> ScheduleView:
    return _views(store, [schedule], {user.id: user})[0]


def _views(store: Store, schedules: list[Schedule], users: dict[UUID, User]) -> list[ScheduleView]:
    coming = store.next_events_of_schedules([s.id for s in schedules])
    views = []
    for s in schedules:
        event = coming.get(s.id)
        upcoming = Occurrence(event.occurrence_date, event.target_utc) if event else None
        assert s.user_id is not None
        views.append(ScheduleView(s, s.timezone_for(users[s.user_id]), upcoming))
    return views


def _coming(store: Store, schedule: Schedule) -> list[Event]:
    """The schedule's PENDING and PROCESSING events, locked."""
    assert schedule.user_id is not None
    return [e for e in store.active_events_for_user(schedule.user_id) if e.schedule_id == schedule.id]


def _taken(store: Store, series: Series, after: datetime) -> set[date]:
    """The series' dates that matter to planning after `after` and already have an event."""
    return series.taken(store.known_events([series.user_id], after - PLANNING_MARGIN))


def _missed(series: Series, schedule: Schedule, taken: set[date], now: datetime) -> list[Occurrence]:
    """Occurrences from the pause until now with no event (the pause cancelled the pending
    one), oldest first."""
    assert schedule.paused_at is not None
    since = max(schedule.paused_at - PLANNING_MARGIN, schedule.created_at)
    return occurrences(series.rule, series.timezone, since, taken, limit=100_000, until=now)


def _require_a_future(schedule: Schedule, user: User, now: datetime) -> None:
    """A one-time schedule whose instant is past, or a rule with nothing after now, is refused."""
    timezone = schedule.timezone_for(user)
    if occurrences(schedule.rule, timezone, now):
        return
    rule = schedule.rule
    if rule.recurrence is None:
        if instant(rule.start, rule.at, zone(timezone), rule.dst) is None:
            raise ValidationError.single("time", 'falls in a DST gap on start, and dst.gap is "skip"')
        raise ValidationError.single("start", "with time, this one-time schedule's instant is already past")
    raise ValidationError.single("recurrence", "yields no occurrence after now")


def _require_a_future_or_one_coming(store: Store, schedule: Schedule, user: User, now: datetime) -> None:
    """A change that leaves the coming event where it is (the payload, say) needs no future
    occurrence: that event may be overdue or in flight. Any other needs one, as a new schedule."""
    series = schedule.series(user)
    if any(series.is_exactly(event) for event in _coming(store, schedule)):
        return
    _require_a_future(schedule, user, now)


@dataclass(frozen=True)
class Schedules:
    """The schedule use cases bound to their ports: what the container builds and the routes
    call."""

    db: Database
    clock: Clock
    builtins: BuiltIns

    def now(self) -> datetime:
        return self.clock.now()

    def owner_of(self, schedule_id: UUID) -> UUID | None:
        return owner_of(self.db, schedule_id)

    def read(self, schedule_id: UUID) -> Schedule:
        return read_schedule(self.db, schedule_id)

    def create_audience(self, fields: ScheduleFields) -> ScheduleView:
        return create_audience_schedule(self.db, self.clock, fields)

    def list_all(self, where: ScheduleFilter, limit: int, after: UUID | None) -> SchedulePage:
        return list_all(self.db, self.clock, where, limit, after)

    def preview_audience(self, schedule: Schedule, after: datetime, limit: int) -> list[LocalOccurrence]:
        return audiences.preview(self.db, schedule, after, limit)

    def audience_counts(self, schedule: Schedule, local_date: date) -> audiences.AudienceCounts:
        return audiences.counts(self.db, schedule, local_date)

    def create(self, user_id: UUID, fields: ScheduleFields) -> ScheduleView:
        return create_schedule(self.db, self.clock, self.builtins, user_id, fields)

    def get(self, schedule_id: UUID) -> ScheduleView:
        return get_schedule(self.db, self.clock, schedule_id)

    def list_for_user(self, user_id: UUID, limit: int, after: UUID | None) -> SchedulePage:
        return list_for_user(self.db, user_id, limit, after)

    def change(self, schedule_id: UUID, change: Callable[[ScheduleFields], ScheduleFields]) -> ScheduleView:
        return change_schedule(self.db, self.clock, self.builtins, schedule_id, change)

    def delete(self, schedule_id: UUID) -> None:
        delete_schedule(self.db, self.clock, schedule_id)

    def pause(self, schedule_id: UUID) -> ScheduleView:
        return pause_schedule(self.db, self.clock, schedule_id)

    def resume(self, schedule_id: UUID, how: CatchUp) -> ScheduleView:
        return resume_schedule(self.db, self.clock, self.builtins, schedule_id, how)

    def preview_in_zone(self, schedule_id: UUID, after: datetime, limit: int) -> tuple[str, list[Occurrence]]:
        return preview_in_zone(self.db, schedule_id, after, limit)
