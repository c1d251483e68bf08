"""When a yearly event happens: the time-semantics contract (README.md, "Time semantics").

- The occurrence is the anchor's month/day at the delivery time in the user's zone.
- 29 February in a common year falls on 1 March (`mar1`) or 28 February (`feb28`).
- A wall time inside a DST gap moves forward by the gap; one inside an overlap takes the first
  instant. Both are exactly what `zoneinfo` does with `fold=0`, so no special cases are needed.
- The next occurrence is the first one strictly after a given instant, and never the anchor
  date itself (a birthday is not celebrated on the day of birth).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from chalicelib.domain.zones import zone


class LeapDayPolicy(StrEnum):
    MAR1 = "mar1"
    FEB28 = "feb28"


@dataclass(frozen=True)
class Occurrence:
    local_date: date
    target_utc: datetime


def date_in_year(anchor: date, year: int, policy: LeapDayPolicy) -> date:
    if anchor.month == 2 and anchor.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1) if policy is LeapDayPolicy.MAR1 else date(year, 2, 28)
    return date(year, anchor.month, anchor.day)


def wall_time_to_utc(day: date, at: time, timezone: str) -> datetime:
    local = datetime.combine(day, at).replace(tzinfo=zone(timezone), fold=0)
    return local.astimezone(UTC)


def next_occurrence(
    anchor: date,
    at: time,
    timezone: str,
    after: datetime,
    policy: LeapDayPolicy = LeapDayPolicy.MAR1,
) -> Occurrence:
    """The first occurrence strictly after `after` (an aware instant)."""
    year = max(after.astimezone(zone(timezone)).year - 1, anchor.year + 1)
    while True:
        day = date_in_year(anchor, year, policy)
        target = wall_time_to_utc(day, at, timezone)
        if target > after:
            return Occurrence(day, target)
        year += 1
