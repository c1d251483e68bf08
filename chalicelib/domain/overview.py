"""GET /overview's picture of health, pure: the hours it covers and its buckets, filled.

Two windows of 24 UTC hours each, around the current hour: the hours ahead (the current one
first) for what is due, and the hours behind (the current one last) for what finished. The
current hour is in both, partly past and partly ahead; anything overdue counts in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOURS = 24
HOUR = timedelta(hours=1)


def hour_of(instant: datetime) -> datetime:
    """The UTC hour the instant falls in."""
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """The hours the overview covers, seen at `now`."""

    now: datetime

    @property
    def current(self) -> datetime:
        return hour_of(self.now)

    @property
    def due_until(self) -> datetime:
        """The end of the 24th hour ahead (the current one first)."""
        return self.current + HOURS * HOUR

    @property
    def finished_since(self) -> datetime:
        """The start of the 24th hour behind (the current one last)."""
        return self.current - (HOURS - 1) * HOUR

    @property
    def finished_until(self) -> datetime:
        return self.current + HOUR

    def ahead(self) -> list[datetime]:
        return [self.current + i * HOUR for i in range(HOURS)]

    def behind(self) -> list[datetime]:
        return [self.finished_since + i * HOUR for i in range(HOURS)]


@dataclass(frozen=True)
class Finished:
    """The events that finished in one hour, by status; `late`: the COMPLETED ones delivered
    more than LATE_AFTER after their target."""

    hour: datetime
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    late: int = 0


@dataclass(frozen=True)
class Lateness:
    """Seconds from target to delivery of the events COMPLETED in the window; None without any."""

    count: int
    p50_seconds: float | None
    p99_seconds: float | None


@dataclass(frozen=True)
class QueueCounts:
    """One SQS queue's ApproximateNumberOf* attributes."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    due: list[tuple[datetime, int]]
    finished: list[Finished]
    lateness: Lateness
    queue: QueueCounts | None
    """None when the delivery queue could not be read (`queue_error` says why)."""
    dlq: int | None
    """Messages in the dead-letter queue; None when it could not be read."""
    queue_error: str | None
    last_sweep: datetime | None
    """When the last sweep finished; None before the first."""

    @property
    def sweep_age(self) -> timedelta | None:
        return None if self.last_sweep is None else self.generated_at - self.last_sweep


def due_hours(window: Window, counts: Mapping[datetime, int]) -> list[tuple[datetime, int]]:
    """Every hour ahead with its count, 0 where none fell due."""
    return [(hour, counts.get(hour, 0)) for hour in window.ahead()]


def finished_hours(window: Window, found: Mapping[datetime, Finished]) -> list[Finished]:
    """Every hour behind, oldest first, empty where nothing finished."""
    return [found.get(hour, Finished(hour)) for hour in window.behind()]
