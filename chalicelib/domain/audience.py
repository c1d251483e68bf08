"""An audience schedule's audience, and how its occurrences are materialised zone by zone.

An audience is every live user (`{"all": true}`) or those whose metadata contains an object
(`{"metadata": {...}}`: PostgreSQL's `@>`, which `contains` restates, so the worker can check
membership once more when an occurrence comes). Each member's occurrence is an ordinary event;
the sweeper writes a zone's events as its instant approaches (`next_to_materialise`), batch by
batch, recording in a `ZoneProgress` how far it got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from chalicelib.domain.planner import Occurrence, Rule, occurrences
from chalicelib.domain.schedules import MAX_CATCH_UP, CatchUp

LATEST_ZONE = "Etc/GMT+12"
"""UTC-12: where a local wall time comes last. A one-time audience schedule is past only once
it is past there."""

_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class Audience:
    metadata: dict[str, Any] | None = field(default=None, hash=False)
    """The object a member's metadata contains; None: every user."""

    @property
    def everyone(self) -> bool:
        return self.metadata is None

    def as_json(self) -> dict[str, Any]:
        return {"all": True} if self.metadata is None else {"metadata": self.metadata}

    def includes(self, metadata: dict[str, Any] | None) -> bool:
        if self.metadata is None:
            return True
        return metadata is not None and contains(metadata, self.metadata)


EVERYONE = Audience()
"""Every live user: its zones are the users' zones."""


def contains(container: Any, contained: Any) -> bool:
    """PostgreSQL's jsonb `@>`: an object contains an object whose every member it contains;
    an array, an array each of whose elements one of its own contains; a scalar, an equal
    scalar (true is not 1). At the top level only, an array contains a scalar it holds."""
    if isinstance(container, list) and not isinstance(contained, (list, dict)):
        return any(_same_scalar(item, contained) for item in container)
    return _contains(container, contained)


def _contains(container: Any, contained: Any) -> bool:
    if isinstance(contained, dict):
        return isinstance(container, dict) and all(
            name in container and _contains(container[name], value) for name, value in contained.items()
        )
    if isinstance(contained, list):
        return isinstance(container, list) and all(
            any(_contains(item, wanted) for item in container) for wanted in contained
        )
    return _same_scalar(container, contained)


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    if any(x is None or isinstance(x, (bool, str)) for x in (a, b)):
        return type(a) is type(b) and a == b
    return bool(a == b)  # numbers: 1 is 1.0, as in jsonb


@dataclass(frozen=True)
class ZoneProgress:
    """How far one zone of an audience schedule is materialised."""

    schedule_id: UUID
    timezone: str
    through: datetime
    """Every occurrence targeted at or before this instant is done."""
    current: Occurrence | None = None
    """The occurrence being written, its members after `after_user` still to go."""
    after_user: UUID | None = None

    def started(self, occurrence: Occurrence) -> ZoneProgress:
        return ZoneProgress(self.schedule_id, self.timezone, self.through, occurrence, None)

    def advanced(self, last_user: UUID | None, finished: bool) -> ZoneProgress:
        """After a batch: the occurrence done (`finished`), or its members up to `last_user`."""
        assert self.current is not None
        if finished:
            return ZoneProgress(self.schedule_id, self.timezone, self.current.target_utc)
        return ZoneProgress(self.schedule_id, self.timezone, self.through, self.current, last_user)


def next_to_materialise(rule: Rule, progress: ZoneProgress, horizon: datetime) -> Occurrence | None:
    """The occurrence the sweeper writes next in this zone: the one under way, else the first
    after `through`, if it is targeted by `horizon` (the sweep's look-ahead for audiences)."""
    if progress.current is not None:
        return progress.current
    found = occurrences(rule, progress.timezone, progress.through, until=horizon)
    return found[0] if found else None


def resumed_through(rule: Rule, timezone: str, paused_at: datetime, now: datetime, how: CatchUp) -> datetime:
    """Where a zone's progress restarts on resume: after now (`none`: the missed occurrences
    are not delivered), before the latest missed one (`latest`), or before the most recent
    MAX_CATCH_UP of them (`all`). The sweeper then writes them, late."""
    if how is CatchUp.NONE:
        return now
    missed = occurrences(rule, timezone, paused_at, limit=100_000, until=now)
    keep = 1 if how is CatchUp.LATEST else MAX_CATCH_UP
    return missed[max(0, len(missed) - keep)].target_utc - _BEFORE if missed else now


def earliest(found: dict[str, Occurrence]) -> tuple[str, Occurrence] | None:
    """The zone whose next occurrence comes first, and that occurrence."""
    if not found:
        return None
    zone_name = min(found, key=lambda z: (found[z].target_utc, z))
    return zone_name, found[zone_name]


@dataclass(frozen=True)
class LocalOccurrence:
    """One local date of an audience schedule, and the UTC span its instants cover."""

    local_date: date
    first_utc: datetime
    last_utc: datetime
    zones: int


def by_local_date(per_zone: dict[str, list[Occurrence]], limit: int) -> list[LocalOccurrence]:
    """The first `limit` local dates any zone has, each with its instants' span."""
    spans: dict[date, list[datetime]] = {}
    for found in per_zone.values():
        for o in found:
            spans.setdefault(o.local_date, []).append(o.target_utc)
    dates = sorted(spans)[:limit]
    return [LocalOccurrence(d, min(spans[d]), max(spans[d]), len(spans[d])) for d in dates]
