"""The scheduling rules in force: delivery time per event type and the 29 February policy;
and the next occurrence after a terminal state, planned for a whole batch at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from uuid import UUID

from chalicelib.domain import event_types
from chalicelib.domain.event_types import EventType
from chalicelib.domain.events import ACTIVE, Event, Status
from chalicelib.domain.occurrence import (
    LeapDayPolicy,
    Occurrence,
    date_in_year,
    next_occurrence,
    wall_time_to_utc,
)
from chalicelib.domain.users import User, UserFields


@dataclass(frozen=True)
class Schedule:
    delivery_times: Mapping[str, time] = field(default_factory=dict)
    leap_day_policy: LeapDayPolicy = LeapDayPolicy.MAR1

    def delivery_time(self, event_type: EventType) -> time:
        return self.delivery_times.get(event_type.name, event_type.default_delivery_time)

    def next(self, event_type: EventType, user: UserFields, after: datetime) -> Occurrence | None:
        """The type's first occurrence for this user strictly after `after`, if it applies."""
        anchor = event_type.anchor(user)
        if anchor is None:
            return None
        return next_occurrence(
            anchor, self.delivery_time(event_type), user.timezone, after, self.leap_day_policy
        )

    def occurrence_in(self, event_type: EventType, user: UserFields, year: int) -> Occurrence | None:
        """The type's occurrence for this user in the local `year`, if that year has one."""
        anchor = event_type.anchor(user)
        if anchor is None or year <= anchor.year:
            return None
        day = date_in_year(anchor, year, self.leap_day_policy)
        return Occurrence(day, wall_time_to_utc(day, self.delivery_time(event_type), user.timezone))

    def next_free(
        self, event_type: EventType, user: UserFields, after: datetime, taken: Callable[[date], bool]
    ) -> Occurrence | None:
        """The next occurrence after `after` whose local date is not `taken`.

        An occurrence already delivered, failed or skipped is never scheduled twice, even when a
        zone change moves its wall time back into the future.
        """
        occurrence = self.next(event_type, user, after)
        while occurrence is not None and taken(occurrence.local_date):
            occurrence = self.next(event_type, user, occurrence.target_utc)
        return occurrence

    @staticmethod
    def types() -> list[EventType]:
        return list(event_types.REGISTRY.values())


@dataclass(frozen=True)
class KnownEvent:
    """What planning the next occurrences must know of a user's existing events."""

    id: UUID
    user_id: UUID
    event_type: str
    occurrence_date: date
    status: Status


def continues(event: Event, users: Mapping[UUID, User]) -> bool:
    """A terminal state schedules the next occurrence, unless the user is gone or the type is."""
    return event.user_id in users and event.event_type in event_types.REGISTRY


def plan_following(
    schedule: Schedule,
    finished: Sequence[Event],
    users: Mapping[UUID, User],
    known: Iterable[KnownEvent],
    now: datetime,
) -> list[Event]:
    """The events to insert after `finished` reached terminal states: each one's next free
    occurrence, unless another event of its type is already coming (an operator retried an old
    FAILED event). `known` is every event of the users concerned; `users` holds their locks."""
    known = list(known)
    dates = {(k.user_id, k.event_type, k.occurrence_date) for k in known}
    active = {(k.user_id, k.event_type, k.id) for k in known if k.status in ACTIVE}
    planned: list[Event] = []
    for event in finished:
        if not continues(event, users):
            continue
        if any((u, t) == (event.user_id, event.event_type) and i != event.id for u, t, i in active):
            continue
        user = users[event.user_id]
        name = event.event_type

        def taken(day: date, key: tuple[UUID, str] = (user.id, name)) -> bool:
            return (*key, day) in dates

        occurrence = schedule.next_free(event_types.get(name), user.fields, event.target_utc, taken)
        if occurrence is None:
            continue
        new = Event.new(user.id, name, occurrence, user.timezone, now)
        dates.add((user.id, name, new.occurrence_date))
        active.add((user.id, name, new.id))
        planned.append(new)
    return planned
