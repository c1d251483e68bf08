"""The planner's promises, over every zone: each DST transition of every IANA zone from 2016 to
2025 handled by each policy as the contract says, and random rules in random zones delivering
each local date at most once, at the schedule's wall time (or the gap's)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.planner import DstPolicy, Gap, Overlap, Rule, occurrence_on, occurrences
from chalicelib.domain.recurrence import InvalidDate, Recurrence, parse
from chalicelib.domain.zones import known_zones
from tests.rules import rules, starts, times

ZONES = sorted(known_zones())
DAILY = parse("FREQ=DAILY")
YEARS = (2016, 2025)


def transitions(zone: ZoneInfo) -> Iterator[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) of every change of UTC offset in YEARS."""
    day = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    end = datetime(YEARS[1] + 1, 1, 1, tzinfo=UTC)
    offset = day.astimezone(zone).utcoffset()
    while day < end:
        nxt = day + timedelta(days=1)
        later = nxt.astimezone(zone).utcoffset()
        if later != offset:
            low, high = day, nxt  # the change is in (low, high]: halve down to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            assert offset is not None
            assert later is not None
            yield high.replace(second=0, microsecond=0), offset, later
            offset = later
        day = nxt


def planned(wall: datetime, zone: str, dst: DstPolicy) -> datetime | None:
    rule = Rule(wall.date() - timedelta(days=1), wall.time(), DAILY, InvalidDate.OMIT, dst)
    found = occurrence_on(rule, zone, wall.date())
    return found.target_utc if found else None


@pytest.mark.parametrize("zone", ZONES)
def test_every_transition_of_the_zone_follows_the_policies(zone: str) -> None:
    tz = ZoneInfo(zone)
    for instant, before, after in transitions(tz):
        change = after - before
        if abs(change) >= timedelta(hours=12) or instant.second or (abs(change) // 2).seconds % 60:
            continue  # a date-line jump (Apia 2011 is outside YEARS) or a sub-minute wall time
        if change > timedelta(0):  # spring forward: wall times [instant+before, instant+after) are missing
            wall = (instant + before + change / 2).replace(tzinfo=None)
            shifted = planned(wall, zone, DstPolicy(gap=Gap.SHIFT))
            assert shifted == (wall - before).replace(tzinfo=UTC), (zone, wall)
            assert shifted.astimezone(tz).replace(tzinfo=None) == wall + change  # later by the gap
            assert planned(wall, zone, DstPolicy(gap=Gap.SKIP)) is None, (zone, wall)
        else:  # fall back: wall times [instant+after, instant+before) happen twice
            wall = (instant + after - change / 2).replace(tzinfo=None)
            first = planned(wall, zone, DstPolicy(overlap=Overlap.FIRST))
            second = planned(wall, zone, DstPolicy(overlap=Overlap.SECOND))
            assert first == (wall - before).replace(tzinfo=UTC), (zone, wall)
            assert second == (wall - after).replace(tzinfo=UTC), (zone, wall)


policies = st.builds(DstPolicy, st.sampled_from(Gap), st.sampled_from(Overlap))


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    recurrence=rules(),
    start=starts,
    at=times,
    invalid=st.sampled_from(InvalidDate),
    dst=policies,
)
def test_random_rules_in_random_zones(
    zone: str, recurrence: Recurrence, start: date, at: time, invalid: InvalidDate, dst: DstPolicy
) -> None:
    rule = Rule(start, at, recurrence, invalid, dst)
    tz = ZoneInfo(zone)
    after = datetime.combine(start, time(0), UTC) - timedelta(days=2)
    found = occurrences(rule, zone, after, limit=400, until=after + timedelta(days=3653))
    delivered = [o.target_utc.astimezone(tz) for o in found]
    # Strictly later each time, and no local date twice (by the rule's date nor the wall clock's).
    assert all(a.target_utc < b.target_utc for a, b in pairwise(found))
    assert len({o.local_date for o in found}) == len(found)
    assert len({d.date() for d in delivered}) == len(delivered)
    for occurrence, local in zip(found, delivered, strict=True):
        assert occurrence.local_date >= start
        if recurrence.count:
            assert len(found) <= recurrence.count
        wall = datetime.combine(occurrence.local_date, at)
        if local.replace(tzinfo=None) != wall:  # only a gap moves a wall time, and only later
            assert dst.gap is Gap.SHIFT
            moved = local.replace(tzinfo=None) - wall
            assert timedelta(0) < moved <= timedelta(hours=24)
            assert (
                datetime.combine(occurrence.local_date, at, tz)
                .astimezone(UTC)
                .astimezone(tz)
                .replace(tzinfo=None)
                != wall
            )  # the wall time does not exist
