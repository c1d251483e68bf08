"""Keeping each user's events in step with the user: one active event per applicable type."""

from __future__ import annotations

from datetime import date, datetime

from chalicelib.domain.event_types import EventType
from chalicelib.domain.events import Event
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.schedule import Schedule
from chalicelib.domain.users import User
from chalicelib.ports import Store


def next_free_occurrence(
    store: Store,
    schedule: Schedule,
    event_type: EventType,
    user: User,
    after: datetime,
    own_date: date | None = None,
) -> Occurrence | None:
    """The next occurrence after `after` whose date has no event yet (besides `own_date`)."""

    def taken(day: date) -> bool:
        return day != own_date and store.occurrence_exists(user.id, event_type.name, day)

    return schedule.next_free(event_type, user.fields, after, taken)


def schedule_next(
    store: Store, schedule: Schedule, event_type: EventType, user: User, after: datetime, now: datetime
) -> Event | None:
    """Inserts the type's next event for the user; the caller holds the user's lock."""
    occurrence = next_free_occurrence(store, schedule, event_type, user, after)
    if occurrence is None:
        return None
    event = Event.new(user.id, event_type.name, occurrence, user.timezone, now)
    store.insert_event(event)
    return event


def sync_user_events(store: Store, schedule: Schedule, user: User, now: datetime) -> None:
    """After a change to the user: move, cancel or create events so each type has its next one.

    The caller holds the user's lock. A PROCESSING event that moves goes back to PENDING with a
    new version, so the message already queued for it is dropped by the worker.
    """
    active = {event.event_type: event for event in store.active_events_for_user(user.id)}
    for event_type in schedule.types():
        current = active.get(event_type.name)
        if current is None:
            schedule_next(store, schedule, event_type, user, now, now)
            continue
        if _still_right(schedule, event_type, user, current):
            continue  # nothing it follows changed: keep it, even overdue or in flight
        occurrence = next_free_occurrence(
            store, schedule, event_type, user, now, own_date=current.occurrence_date
        )
        if occurrence is None:
            store.save_event(current.cancel(now), current.version)
        elif (occurrence.local_date, occurrence.target_utc, user.timezone) != (
            current.occurrence_date,
            current.target_utc,
            current.timezone,
        ):
            store.save_event(current.reschedule(occurrence, user.timezone, now), current.version)


def _still_right(schedule: Schedule, event_type: EventType, user: User, event: Event) -> bool:
    """The event is still exactly the user's occurrence for its date (e.g. only a name changed).

    Such an event stays as it is: recomputing "the next one after now" would move an overdue or
    in-flight event to next year, and the occurrence due today would never be delivered.
    """
    expected = schedule.occurrence_in(event_type, user.fields, event.occurrence_date.year)
    return event.timezone == user.timezone and expected == Occurrence(event.occurrence_date, event.target_utc)
