"""Keeping each user's events in step with their series (domain/series.py): load what the
decision needs, let the domain decide, write what it returns. Every caller holds the user's
lock, as every change to a user's events does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from chalicelib.domain import event_types
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.events import Event
from chalicelib.domain.schedules import Schedule, ScheduleStatus
from chalicelib.domain.series import PLANNING_MARGIN, Changes, Series, SeriesKey, following, reconcile
from chalicelib.domain.users import User
from chalicelib.ports import PlanningReads, Store


def builtin_series(builtins: BuiltIns, user: User) -> list[Series]:
    """The built-in types that apply to the user, each a yearly rule on one of their dates."""
    found = []
    for event_type in builtins.types():
        rule = builtins.rule(event_type, user.fields)
        if rule is not None:
            found.append(Series(user.id, event_type.name, rule, user.timezone))
    return found


def user_series(builtins: BuiltIns, user: User, schedules: Iterable[Schedule]) -> list[Series]:
    """Every series the user has now: the built-in types, their own active schedules and the
    audience schedules not paused whose audience includes them now (an ended one still has
    its last occurrence for a user whose zone has not reached it)."""
    mine = [s.series(user) for s in schedules if _live(s) and s.reaches(user)]
    return builtin_series(builtins, user) + mine


def _live(schedule: Schedule) -> bool:
    if schedule.audience is not None:
        return schedule.status is not ScheduleStatus.PAUSED
    return schedule.status is ScheduleStatus.ACTIVE


def first_events(
    builtins: BuiltIns, user: User, now: datetime, audiences: Iterable[Schedule] = ()
) -> list[Event]:
    """A new user's events: each built-in type's next occurrence after now, and each audience
    schedule's that includes them."""
    return reconcile(user_series(builtins, user, audiences), [], [], now).insert


def sync_user(store: Store, builtins: BuiltIns, user: User, now: datetime) -> Changes:
    """After a change to the user or to one of their schedules: each series keeps, gets or
    moves its next event, and an event whose series is gone (a schedule deleted, an audience
    the user left) is cancelled."""
    schedules = store.schedules_for_users([user.id]).get(user.id, []) + store.audience_schedules()
    changes = reconcile(
        user_series(builtins, user, schedules),
        store.active_events_for_user(user.id),
        store.known_events([user.id], now - PLANNING_MARGIN),
        now,
    )
    write(store, changes, now)
    return changes


def plan_following(
    store: Store,
    builtins: BuiltIns,
    finished: Sequence[Event],
    users: Mapping[UUID, User],
    now: datetime,
    reads: PlanningReads | None = None,
) -> None:
    """After events reached terminal states: each one's series plans its next occurrence
    (unless its user is gone, its type unknown, or its schedule paused, ended or deleted), and
    a schedule with nothing more is ended. `users` are locked by the caller; `reads`, when the
    caller read them with its writes (`Store.finish_batch`, asked by `planning_asks`), cover
    at least `finished`."""
    finished = [e for e in finished if e.user_id in users]
    if not finished:
        return
    if reads is None:
        schedule_ids, since = planning_asks(finished)
        assert since is not None
        reads = PlanningReads(
            store.schedules_by_ids(schedule_ids), store.known_events({e.user_id for e in finished}, since)
        )
    series: dict[SeriesKey, Series] = {}
    for event in finished:
        s = _series_of(builtins, event, users[event.user_id], reads.schedules)
        if s is not None:
            series[s.key] = s
    write(store, following(finished, series, reads.known, now), now)


def planning_asks(finished: Sequence[Event]) -> tuple[set[UUID], datetime | None]:
    """What planning after `finished` reads: their schedules, and their users' events from the
    earliest one's instant less the margin on (None: nothing finished, nothing to read)."""
    schedule_ids = {e.schedule_id for e in finished if e.schedule_id}
    since = min((e.target_utc for e in finished), default=None)
    return schedule_ids, since and since - PLANNING_MARGIN


def _series_of(
    builtins: BuiltIns, event: Event, user: User, schedules: Mapping[UUID, Schedule]
) -> Series | None:
    if event.schedule_id is not None:
        schedule = schedules.get(event.schedule_id)
        if schedule is None or schedule.status is not ScheduleStatus.ACTIVE:
            return None
        if schedule.audience is not None:
            return None  # the sweeper writes an audience's occurrences as each zone's comes
        return schedule.series(user)
    if event.event_type not in event_types.REGISTRY:
        return None
    rule = builtins.rule(event_types.get(event.event_type), user.fields)
    return Series(user.id, event.event_type, rule, user.timezone) if rule else None


def write(store: Store, changes: Changes, now: datetime) -> None:
    for event, version in changes.save:
        store.save_event(event, version)
    store.insert_events(changes.insert)
    if changes.ended:
        store.end_schedules(sorted(changes.ended), now)


def cancel_events(store: Store, events: Sequence[Event], now: datetime) -> None:
    for event in events:
        store.save_event(event.cancel(now), event.version)


def lock_users(store: Store, user_ids: Iterable[UUID]) -> dict[UUID, User]:
    return store.users_by_ids(user_ids, lock=True)
