"""Yearly anchors (a date of birth, an anniversary) as rules of the one planner.

- The occurrence is the anchor's month/day at the delivery time in the user's zone.
- 29 February in a common year falls on 1 March (`mar1`, RFC 7529's SKIP=FORWARD) or
  28 February (`feb28`, SKIP=BACKWARD).
- A wall time inside a DST gap moves forward by the gap; one inside an overlap takes the first
  instant (the planner's default DST policy, what `zoneinfo` does with fold=0).
- The next occurrence is the first one strictly after a given instant, and never the anchor
  date itself (a birthday is not celebrated on the day of birth): the rule starts the year after.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time
from enum import StrEnum

from chalicelib.domain.planner import Occurrence, Rule
from chalicelib.domain.planner import next_occurrence as planned
from chalicelib.domain.recurrence import Freq, InvalidDate, Recurrence

__all__ = ["LeapDayPolicy", "Occurrence", "date_in_year", "next_occurrence", "yearly_rule"]


class LeapDayPolicy(StrEnum):
    MAR1 = "mar1"
    FEB28 = "feb28"

    @property
    def invalid_date(self) -> InvalidDate:
        return InvalidDate.FORWARD if self is LeapDayPolicy.MAR1 else InvalidDate.BACKWARD


def yearly_rule(anchor: date, at: time, policy: LeapDayPolicy = LeapDayPolicy.MAR1) -> Rule:
    """Every year on the anchor's month and day, from the year after the anchor's."""
    recurrence = Recurrence(Freq.YEARLY, by_month=(anchor.month,), by_month_day=(anchor.day,))
    return Rule(date(anchor.year + 1, 1, 1), at, recurrence, policy.invalid_date)


def date_in_year(anchor: date, year: int, policy: LeapDayPolicy) -> date:
    if anchor.month == 2 and anchor.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1) if policy is LeapDayPolicy.MAR1 else date(year, 2, 28)
    return date(year, anchor.month, anchor.day)


def next_occurrence(
    anchor: date,
    at: time,
    timezone: str,
    after: datetime,
    policy: LeapDayPolicy = LeapDayPolicy.MAR1,
) -> Occurrence:
    """The first occurrence strictly after `after` (an aware instant)."""
    occurrence = planned(yearly_rule(anchor, at, policy), timezone, after)
    assert occurrence is not None, "a yearly anchor always has a next occurrence"
    return occurrence
