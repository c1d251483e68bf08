"""Our expansion against an independent one: python-dateutil's `rrule`, for rules under RFC
5545's own handling of dates that do not exist (`invalidDate: omit`).

Where dateutil departs from RFC 5545 the case is left out, and tests/unit/test_recurrence.py
pins our answer by hand instead:
- plain and n-th weekdays in one BYDAY (`MO,-1WE`): dateutil intersects them (its bug, shared
  by rrule.js, jkbrzt/rrule#71), RFC 5545 means the union;
- WEEKLY with BYSETPOS from a start that is not the week's first day: dateutil picks from the
  days left in the first week, RFC 5545 from the whole week ("the interval").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice

from dateutil import rrule as du
from hypothesis import assume, given, settings

from chalicelib.domain.recurrence import Freq, InvalidDate, Recurrence, expand
from tests.rules import rules, starts

_FREQ = {Freq.DAILY: du.DAILY, Freq.WEEKLY: du.WEEKLY, Freq.MONTHLY: du.MONTHLY, Freq.YEARLY: du.YEARLY}
_DAYS = (du.MO, du.TU, du.WE, du.TH, du.FR, du.SA, du.SU)
N = 40
WINDOW = timedelta(days=8 * 366)
"""Both expansions stop at the first N dates or after this long, whichever comes first: a rule
that yields rarely or never would otherwise be expanded for centuries."""


def dateutil_dates(rule: Recurrence, start: datetime) -> list[str]:
    options: dict[str, object] = {
        "freq": _FREQ[rule.freq],
        "dtstart": start,
        "interval": rule.interval,
        "wkst": rule.wkst,
    }
    end = start + WINDOW
    options["until"] = min(end, datetime.combine(rule.until, start.time())) if rule.until else end
    if rule.by_month:
        options["bymonth"] = rule.by_month
    if rule.by_month_day:
        options["bymonthday"] = rule.by_month_day
    if rule.by_day:
        options["byweekday"] = [
            _DAYS[d.weekday](d.ordinal) if d.ordinal else _DAYS[d.weekday] for d in rule.by_day
        ]
    if rule.by_set_pos:
        options["bysetpos"] = rule.by_set_pos
    return [d.date().isoformat() for d in islice(du.rrule(**options), N)]  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(rule=rules(), start=starts)
def test_omit_is_rfc_5545_as_dateutil_expands_it(rule: Recurrence, start: datetime) -> None:
    assume(len({d.ordinal is None for d in rule.by_day}) <= 1)
    # A one-day period has nothing for BYSETPOS to pick: dateutil then searches to year 9999.
    assume(not (rule.freq is Freq.DAILY and rule.by_set_pos))
    week_start = start - timedelta(days=(start.weekday() - rule.wkst) % 7)
    assume(not (rule.freq is Freq.WEEKLY and rule.by_set_pos and week_start != start))
    ours = [d.isoformat() for d in islice(expand(rule, start, InvalidDate.OMIT, until=start + WINDOW), N)]
    theirs = dateutil_dates(rule, datetime.combine(start, datetime.min.time()))
    if rule.count:  # the count is the planner's (a DST policy can drop a date): compare the first ones
        ours, theirs = ours[: rule.count], theirs[: rule.count]
    assert ours == theirs
