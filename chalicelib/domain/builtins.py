"""The built-in kinds (birthday, anniversary) as the rules in force: the delivery time per
type and the 29 February policy. Each applies to a user as a yearly rule on one of their dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from chalicelib.domain import event_types
from chalicelib.domain.event_types import EventType
from chalicelib.domain.occurrence import LeapDayPolicy, yearly_rule
from chalicelib.domain.planner import Rule
from chalicelib.domain.users import UserFields


@dataclass(frozen=True)
class BuiltIns:
    delivery_times: Mapping[str, time] = field(default_factory=dict)
    leap_day_policy: LeapDayPolicy = LeapDayPolicy.MAR1

    def delivery_time(self, event_type: EventType) -> time:
        return self.delivery_times.get(event_type.name, event_type.default_delivery_time)

    def rule(self, event_type: EventType, user: UserFields) -> Rule | None:
        """The type's yearly rule for this user; None when the user has no such date."""
        anchor = event_type.anchor(user)
        if anchor is None:
            return None
        return yearly_rule(anchor, self.delivery_time(event_type), self.leap_day_policy)

    @staticmethod
    def types() -> list[EventType]:
        return list(event_types.REGISTRY.values())
