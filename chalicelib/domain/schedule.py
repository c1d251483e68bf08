"""The scheduling rules in force: delivery time per event type and the 29 February policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time

from chalicelib.domain import event_types
from chalicelib.domain.event_types import EventType
from chalicelib.domain.occurrence import (
    LeapDayPolicy,
    Occurrence,
    date_in_year,
    next_occurrence,
    wall_time_to_utc,
)
from chalicelib.domain.users import UserFields


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

    @staticmethod
    def types() -> list[EventType]:
        return list(event_types.REGISTRY.values())
