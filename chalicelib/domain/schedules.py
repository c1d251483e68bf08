"""A team's schedule: its own kind of event for one user, on a rule of its own, in a zone of
its own or following the user's; paused and resumed; ended when its rule has nothing more."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from chalicelib.domain import event_types
from chalicelib.domain.errors import Conflict
from chalicelib.domain.planner import Occurrence, Rule
from chalicelib.domain.series import Series
from chalicelib.domain.users import User

if TYPE_CHECKING:
    from chalicelib.domain.audience import Audience

EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
MAX_CATCH_UP = 100
"""Occurrences a resume delivers (`all`) or records as skipped, at most: the most recent."""


def reserved_types() -> frozenset[str]:
    """The built-in kinds: a schedule may not take their names."""
    return frozenset(event_types.REGISTRY)


class ScheduleStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class CatchUp(StrEnum):
    NONE = "none"
    """Missed occurrences are recorded as SKIPPED."""
    LATEST = "latest"
    """Only the most recent missed occurrence is delivered (late); the others are SKIPPED."""
    ALL = "all"
    """Every missed occurrence is delivered (late), the most recent MAX_CATCH_UP of them."""


@dataclass(frozen=True)
class ScheduleFields:
    """What a client sets on a schedule."""

    event_type: str
    rule: Rule
    payload: dict[str, Any]
    timezone: str | None = None
    """An IANA zone, or None to follow the user's."""
    audience: Audience | None = None
    """An audience schedule's users (it has no user of its own, and always follows each
    user's zone)."""


@dataclass(frozen=True)
class Schedule:
    id: UUID
    user_id: UUID | None
    """None for an audience schedule."""
    fields: ScheduleFields
    status: ScheduleStatus
    version: int
    created_at: datetime
    updated_at: datetime
    paused_at: datetime | None = None

    @property
    def event_type(self) -> str:
        return self.fields.event_type

    @property
    def rule(self) -> Rule:
        return self.fields.rule

    @property
    def audience(self) -> Audience | None:
        return self.fields.audience

    def timezone_for(self, user: User) -> str:
        return self.fields.timezone or user.timezone

    def series(self, user: User) -> Series:
        return Series(
            user.id,
            self.event_type,
            self.rule,
            self.timezone_for(user),
            self.id,
            self.created_at,
            audience=self.audience is not None,
        )

    def reaches(self, user: User) -> bool:
        """The user's own schedule, or an audience schedule whose audience includes the user."""
        if self.audience is None:
            return self.user_id == user.id
        return self.audience.includes(user.metadata)

    def _to(self, now: datetime, **changes: Any) -> Schedule:
        return replace(self, version=self.version + 1, updated_at=now, **changes)

    def change(self, fields: ScheduleFields, now: datetime) -> Schedule:
        """A PATCH: an ended schedule whose rule now has more to deliver is active again."""
        status = ScheduleStatus.ACTIVE if self.status is ScheduleStatus.ENDED else self.status
        return self._to(now, fields=fields, status=status)

    def pause(self, now: datetime) -> Schedule:
        if self.status is not ScheduleStatus.ACTIVE:
            raise Conflict(f"only an active schedule can be paused; this one is {self.status}")
        return self._to(now, status=ScheduleStatus.PAUSED, paused_at=now)

    def resume(self, now: datetime) -> Schedule:
        if self.status is not ScheduleStatus.PAUSED:
            raise Conflict(f"only a paused schedule can be resumed; this one is {self.status}")
        return self._to(now, status=ScheduleStatus.ACTIVE, paused_at=None)

    def end(self, now: datetime) -> Schedule:
        return self._to(now, status=ScheduleStatus.ENDED)


def catch_up(missed: list[Occurrence], how: CatchUp) -> tuple[list[Occurrence], list[Occurrence]]:
    """(to deliver, to record as skipped) among the occurrences missed while paused, oldest
    first; only the most recent MAX_CATCH_UP count at all."""
    recent = missed[-MAX_CATCH_UP:]
    if how is CatchUp.ALL:
        return recent, []
    if how is CatchUp.LATEST and recent:
        return recent[-1:], recent[:-1]
    return [], recent
