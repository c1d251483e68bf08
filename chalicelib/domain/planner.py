"""The one planner: when a rule's occurrences fall, in a zone, after an instant.

Every kind of event is a `Rule`: a birthday is a yearly rule on the date of birth, a team's
schedule is its own rule. The planner turns a rule's local dates (`recurrence.expand`) into
instants in a zone, with the DST policies:

- a wall time in a spring-forward gap is `shift`ed (the offset from before the gap, so 02:30 in
  New York's gap is 03:30 EDT: RFC 5545's rule, and what `zoneinfo` does with fold=0) or
  `skip`ped (that date has no occurrence);
- a wall time that happens twice uses the `first` or the `second` instant, never both;
- instants only increase: a shifted time that lands on the next occurrence's instant (a zone
  that skipped a whole day, as Samoa did on 30 December 2011) is not a second occurrence.

A date a policy drops is not an occurrence: COUNT counts only those that are delivered-able.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chalicelib.domain.recurrence import InvalidDate, Recurrence, expand
from chalicelib.domain.zones import zone

_LOOK_BEHIND = timedelta(days=2)
"""An occurrence after an instant is on a local date at most a day or so before the instant's
(the widest offsets are 26 hours apart); a margin, and the previous instant, are needed to
drop one a shift would double."""


class Gap(StrEnum):
    SHIFT = "shift"
    SKIP = "skip"


class Overlap(StrEnum):
    FIRST = "first"
    SECOND = "second"


@dataclass(frozen=True)
class DstPolicy:
    gap: Gap = Gap.SHIFT
    overlap: Overlap = Overlap.FIRST


@dataclass(frozen=True)
class Occurrence:
    local_date: date
    """The rule's date: the occurrence's identity (its idempotency key), whatever DST does."""
    target_utc: datetime


@dataclass(frozen=True)
class Rule:
    """When a series of events happens, in local terms."""

    start: date
    at: time
    recurrence: Recurrence | None = None
    """None: once, on `start`."""
    invalid: InvalidDate = InvalidDate.OMIT
    dst: DstPolicy = DstPolicy()

    def dates(self, since: date | None = None, until: date | None = None) -> Iterator[date]:
        if self.recurrence is None:
            if (since is None or self.start >= since) and (until is None or self.start <= until):
                yield self.start
            return
        yield from expand(self.recurrence, self.start, self.invalid, since, until)

    @property
    def count(self) -> int | None:
        return self.recurrence.count if self.recurrence else None


def instant(day: date, at: time, tz: ZoneInfo, dst: DstPolicy) -> datetime | None:
    """The UTC instant of a local date and wall time; None when the gap policy skips it.

    `zoneinfo` gives a wall time two offsets, by `fold`: the same one when the wall time
    happens once; before a gap the earlier offset for fold=0 (smaller: the clocks went
    forward), in an overlap the earlier instant's (larger: they went back). A `fold` the time
    itself carries is dropped: which offset applies is the DST policy's to say."""
    wall = datetime.combine(day, at).replace(fold=0)
    before = wall.replace(tzinfo=tz).utcoffset()
    after = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None
    assert after is not None
    if before > after and dst.overlap is Overlap.SECOND:
        before = after  # the second instant: the offset from after the clocks went back
    elif before < after and dst.gap is Gap.SKIP:
        return None  # the wall time does not exist that day
    try:
        return (wall - before).replace(tzinfo=UTC)  # in a gap: shifted by it, RFC 5545's rule
    except OverflowError:  # the calendar's first or last hours
        return None


def _instants(
    rule: Rule, tz: ZoneInfo, since: date | None, until: date | None = None
) -> Iterator[Occurrence]:
    """The rule's occurrences in order, from `since` (or from the start, when it counts),
    through the local date `until` at the latest."""
    previous: datetime | None = None
    counted = 0
    for day in rule.dates(None if rule.count else since, until):
        target = instant(day, rule.at, tz, rule.dst)
        if target is None or (previous is not None and target <= previous):
            continue
        previous = target
        counted += 1
        if rule.count and counted > rule.count:
            return
        if since is None or day >= since:
            yield Occurrence(day, target)


def occurrences(
    rule: Rule,
    timezone: str,
    after: datetime,
    taken: Collection[date] = (),
    limit: int = 1,
    until: datetime | None = None,
) -> list[Occurrence]:
    """The first `limit` occurrences strictly after `after` (and at or before `until`) whose
    local date is not `taken` (delivered, failed or skipped already: never planned twice)."""
    tz = zone(timezone)
    found: list[Occurrence] = []
    if limit <= 0:
        return found
    last_date = _local(until, tz) + _LOOK_BEHIND if until is not None and until.year < 9999 else None
    for occurrence in _instants(rule, tz, _since(after, tz), last_date):
        if until is not None and occurrence.target_utc > until:
            break
        if occurrence.target_utc > after and occurrence.local_date not in taken:
            found.append(occurrence)
            if len(found) >= limit:
                break
    return found


def next_occurrence(
    rule: Rule, timezone: str, after: datetime, taken: Collection[date] = ()
) -> Occurrence | None:
    found = occurrences(rule, timezone, after, taken)
    return found[0] if found else None


def occurrence_on(rule: Rule, timezone: str, day: date) -> Occurrence | None:
    """The rule's occurrence on a local date, if it has one there."""
    tz = zone(timezone)
    since = day - _LOOK_BEHIND if day > date.min + _LOOK_BEHIND else None
    for occurrence in _instants(rule, tz, since, day):
        if occurrence.local_date >= day:
            return occurrence if occurrence.local_date == day else None
    return None


def _local(instant_: datetime, tz: ZoneInfo) -> date:
    try:
        return instant_.astimezone(tz).date()
    except OverflowError:
        return date.max if instant_.year > 5000 else date.min


def _since(after: datetime, tz: ZoneInfo) -> date | None:
    """The first local date worth expanding for occurrences after `after`."""
    local = _local(after, tz)
    return local - _LOOK_BEHIND if local > date.min + _LOOK_BEHIND else None
