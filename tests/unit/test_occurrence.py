"""Occurrence times against the time-semantics contract.

Every expected instant is worked out by hand from the zone's rules (offset and DST dates noted
beside it), never by asking the code under test.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.domain import event_types
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.event_types import EventType
from chalicelib.domain.occurrence import LeapDayPolicy, Occurrence, date_in_year, next_occurrence
from chalicelib.domain.planner import next_occurrence as planned
from chalicelib.domain.planner import occurrence_on
from chalicelib.domain.users import UserFields
from chalicelib.domain.zones import known_zones

NINE = time(9, 0)
# The moment most cases are "created": Sunday 1 March 2026, 12:00 UTC.
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("zone", "anchor", "expected_date", "expected_utc"),
    [
        # America/New_York: EST -5:00, EDT -4:00 from 8 Mar to 1 Nov 2026 (02:00 local).
        ("America/New_York", "1990-12-10", "2026-12-10", "2026-12-10T14:00:00Z"),
        ("America/New_York", "1990-07-04", "2026-07-04", "2026-07-04T13:00:00Z"),
        ("America/New_York", "1990-03-08", "2026-03-08", "2026-03-08T13:00:00Z"),  # DST began 02:00
        ("America/New_York", "1990-11-01", "2026-11-01", "2026-11-01T14:00:00Z"),  # DST ended 02:00
        # Europe/London: GMT +0:00, BST +1:00 from 29 Mar to 25 Oct 2026 (01:00 UTC).
        ("Europe/London", "1985-12-25", "2026-12-25", "2026-12-25T09:00:00Z"),
        ("Europe/London", "1985-06-15", "2026-06-15", "2026-06-15T08:00:00Z"),
        ("Europe/London", "1985-03-29", "2026-03-29", "2026-03-29T08:00:00Z"),  # first BST day
        # Asia/Tokyo: JST +9:00, no DST. At creation it is already 21:00 on 1 March there.
        ("Asia/Tokyo", "1970-05-05", "2026-05-05", "2026-05-05T00:00:00Z"),
        ("Asia/Tokyo", "1970-03-01", "2027-03-01", "2027-03-01T00:00:00Z"),
        # Australia/Sydney: AEDT +11:00 until 5 Apr 2026 (03:00), AEST +10:00 until 4 Oct (02:00).
        ("Australia/Sydney", "1992-01-15", "2027-01-15", "2027-01-14T22:00:00Z"),
        ("Australia/Sydney", "1992-07-15", "2026-07-15", "2026-07-14T23:00:00Z"),
        ("Australia/Sydney", "1992-04-05", "2026-04-05", "2026-04-04T23:00:00Z"),  # DST ended 03:00
        ("Australia/Sydney", "1992-10-04", "2026-10-04", "2026-10-03T22:00:00Z"),  # DST began 02:00
        # Asia/Kathmandu: +5:45, no DST.
        ("Asia/Kathmandu", "1988-05-20", "2026-05-20", "2026-05-20T03:15:00Z"),
        # Australia/Lord_Howe: +10:30 standard, +11:00 (30-minute DST) until 5 Apr, from 4 Oct.
        ("Australia/Lord_Howe", "1975-01-15", "2027-01-15", "2027-01-14T22:00:00Z"),
        ("Australia/Lord_Howe", "1975-07-15", "2026-07-15", "2026-07-14T22:30:00Z"),
        # America/St_Johns: NST -3:30, NDT -2:30 from 8 Mar to 1 Nov 2026.
        ("America/St_Johns", "1960-01-15", "2027-01-15", "2027-01-15T12:30:00Z"),
        ("America/St_Johns", "1960-07-15", "2026-07-15", "2026-07-15T11:30:00Z"),
        # Pacific/Kiritimati: +14:00. At creation it is 02:00 on 2 March there, so 1 March has
        # gone, and 09:00 on 2 March is 19:00 UTC on 1 March, the same UTC day as creation.
        ("Pacific/Kiritimati", "2000-03-01", "2027-03-01", "2027-02-28T19:00:00Z"),
        ("Pacific/Kiritimati", "2000-03-02", "2026-03-02", "2026-03-01T19:00:00Z"),
        # Pacific/Pago_Pago: -11:00. At creation it is 01:00 on 1 March there: still to come.
        ("Pacific/Pago_Pago", "2000-03-01", "2026-03-01", "2026-03-01T20:00:00Z"),
        ("Pacific/Pago_Pago", "2000-02-28", "2027-02-28", "2027-02-28T20:00:00Z"),
    ],
)
def test_occurrence_at_nine_local(zone: str, anchor: str, expected_date: str, expected_utc: str) -> None:
    occurrence = next_occurrence(date.fromisoformat(anchor), NINE, zone, CREATED)
    assert occurrence.local_date == date.fromisoformat(expected_date)
    assert occurrence.target_utc == utc(expected_utc)
    assert occurrence.target_utc.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc"),
    [
        # New York, 8 Mar 2026: 02:00 EST jumps to 03:00 EDT; 02:30 becomes 03:30 EDT.
        ("America/New_York", "2026-03-08", time(2, 30), "2026-03-08T07:30:00Z"),
        # Lord Howe, 4 Oct 2026: 02:00 jumps to 02:30; 02:15 becomes 02:45 (+11:00).
        ("Australia/Lord_Howe", "2026-10-04", time(2, 15), "2026-10-03T15:45:00Z"),
        # Apia skipped 30 December 2011 entirely (-10:00 to +14:00): moved on by a whole day.
        ("Pacific/Apia", "2011-12-30", NINE, "2011-12-30T19:00:00Z"),
    ],
)
def test_a_time_inside_a_gap_moves_forward_by_the_gap(
    zone: str, day: str, at: time, expected_utc: str
) -> None:
    anchor = date.fromisoformat(day).replace(year=1980)
    after = utc(expected_utc) - timedelta(days=30)
    occurrence = next_occurrence(anchor, at, zone, after)
    assert occurrence.local_date == date.fromisoformat(day)
    assert occurrence.target_utc == utc(expected_utc)


@pytest.mark.parametrize(
    ("zone", "day", "at", "first_utc", "second_utc"),
    [
        # New York, 1 Nov 2026: 01:30 happens at -4:00 (05:30Z), then again at -5:00 (06:30Z).
        ("America/New_York", "2026-11-01", time(1, 30), "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"),
        # Lord Howe, 5 Apr 2026: 02:00 (+11:00) falls back to 01:30 (+10:30); 01:45 twice.
        ("Australia/Lord_Howe", "2026-04-05", time(1, 45), "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z"),
    ],
)
def test_a_time_inside_an_overlap_takes_the_first_instant(
    zone: str, day: str, at: time, first_utc: str, second_utc: str
) -> None:
    anchor = date.fromisoformat(day).replace(year=1980)
    occurrence = next_occurrence(anchor, at, zone, CREATED)
    assert occurrence.target_utc == utc(first_utc)
    # Created between the two instants, the second one does not count: that wall time has been.
    later = next_occurrence(anchor, at, zone, utc(first_utc) + timedelta(minutes=1))
    assert later.target_utc != utc(second_utc)
    assert later.local_date == date.fromisoformat(day).replace(year=2027)


LEAP_CASES = [
    # (after, policy, expected local date), born 29 Feb 2000, London (GMT in Feb/Mar).
    ("2026-03-01T12:00:00Z", LeapDayPolicy.MAR1, "2027-03-01"),
    ("2026-03-01T12:00:00Z", LeapDayPolicy.FEB28, "2027-02-28"),
    # Between 28 Feb and 1 Mar of a common year the two policies part ways.
    ("2027-02-28T10:00:00Z", LeapDayPolicy.MAR1, "2027-03-01"),
    ("2027-02-28T10:00:00Z", LeapDayPolicy.FEB28, "2028-02-29"),
    # In a leap year both policies keep 29 February.
    ("2027-03-02T00:00:00Z", LeapDayPolicy.MAR1, "2028-02-29"),
    ("2027-03-02T00:00:00Z", LeapDayPolicy.FEB28, "2028-02-29"),
    ("2028-02-29T08:59:59Z", LeapDayPolicy.FEB28, "2028-02-29"),
    ("2028-02-29T09:00:00Z", LeapDayPolicy.MAR1, "2029-03-01"),
]


@pytest.mark.parametrize(("after", "policy", "expected"), LEAP_CASES)
def test_29_february(after: str, policy: LeapDayPolicy, expected: str) -> None:
    occurrence = next_occurrence(date(2000, 2, 29), NINE, "Europe/London", utc(after), policy)
    assert occurrence.local_date == date.fromisoformat(expected)
    assert occurrence.target_utc == datetime.combine(date.fromisoformat(expected), NINE, UTC)


def test_the_default_policy_is_1_march() -> None:
    occurrence = next_occurrence(date(2000, 2, 29), NINE, "UTC", CREATED)
    assert occurrence.local_date == date(2027, 3, 1)


@pytest.mark.parametrize(
    ("year", "mar1", "feb28"),
    [
        (2024, "2024-02-29", "2024-02-29"),
        (2025, "2025-03-01", "2025-02-28"),
        (2100, "2100-03-01", "2100-02-28"),
    ],
)
def test_date_in_year_for_29_february(year: int, mar1: str, feb28: str) -> None:
    assert date_in_year(date(2000, 2, 29), year, LeapDayPolicy.MAR1) == date.fromisoformat(mar1)
    assert date_in_year(date(2000, 2, 29), year, LeapDayPolicy.FEB28) == date.fromisoformat(feb28)


def test_28_february_stays_put_in_a_leap_year() -> None:
    assert date_in_year(date(2001, 2, 28), 2028, LeapDayPolicy.MAR1) == date(2028, 2, 28)


@pytest.mark.parametrize(
    ("created", "expected_utc"),
    [
        # Birthday 15 June, London (BST, +1:00): delivery is 08:00 UTC.
        ("2026-06-15T00:00:00Z", "2026-06-15T08:00:00Z"),
        ("2026-06-15T07:59:59Z", "2026-06-15T08:00:00Z"),
        ("2026-06-15T08:00:00Z", "2027-06-15T08:00:00Z"),  # strictly after: not the same instant
        ("2026-06-15T08:00:01Z", "2027-06-15T08:00:00Z"),
        ("2026-06-15T22:00:00Z", "2027-06-15T08:00:00Z"),
    ],
)
def test_created_on_the_birthday_before_and_after_the_delivery_time(created: str, expected_utc: str) -> None:
    occurrence = next_occurrence(date(1990, 6, 15), NINE, "Europe/London", utc(created))
    assert occurrence.target_utc == utc(expected_utc)


def test_the_first_occurrence_is_never_the_anchor_date_itself() -> None:
    # Born this morning in London, before 09:00: the first birthday is next year.
    occurrence = next_occurrence(date(2026, 3, 1), NINE, "Europe/London", utc("2026-03-01T06:00:00Z"))
    assert occurrence.local_date == date(2027, 3, 1)
    # The same holds where the local date is already a day ahead of UTC.
    ahead = next_occurrence(date(2026, 3, 2), NINE, "Pacific/Kiritimati", CREATED)
    assert ahead.local_date == date(2027, 3, 2)
    assert ahead.target_utc == utc("2027-03-01T19:00:00Z")


def test_the_local_new_year_counts_not_the_utc_one() -> None:
    # 31 Dec 2026 20:00 UTC is already 10:00 on 1 Jan 2027 in Kiritimati: that 09:00 has gone.
    occurrence = next_occurrence(date(1990, 1, 1), NINE, "Pacific/Kiritimati", utc("2026-12-31T20:00:00Z"))
    assert occurrence.local_date == date(2028, 1, 1)
    assert occurrence.target_utc == utc("2027-12-31T19:00:00Z")


def next_of(
    builtins: BuiltIns, event_type: EventType, user: UserFields, after: datetime
) -> Occurrence | None:
    """The type's first occurrence for this user strictly after `after`, if it applies."""
    rule = builtins.rule(event_type, user)
    return planned(rule, user.timezone, after) if rule else None


def occurrence_in(
    builtins: BuiltIns, event_type: EventType, user: UserFields, year: int
) -> Occurrence | None:
    """The type's occurrence for this user in the local `year`, if that year has one."""
    rule, anchor = builtins.rule(event_type, user), event_type.anchor(user)
    if rule is None or anchor is None or year <= anchor.year:
        return None
    return occurrence_on(rule, user.timezone, date_in_year(anchor, year, builtins.leap_day_policy))


def test_schedule_uses_the_delivery_time_of_each_type() -> None:
    user = UserFields("Ada", "Lovelace", date(1990, 6, 15), "Asia/Tokyo", anniversary_date=date(2015, 8, 1))
    schedule = BuiltIns(delivery_times={"anniversary": time(18, 30)})
    birthday = next_of(schedule, event_types.get("birthday"), user, CREATED)
    anniversary = next_of(schedule, event_types.get("anniversary"), user, CREATED)
    assert birthday is not None
    assert birthday.target_utc == utc("2026-06-15T00:00:00Z")
    assert anniversary is not None
    assert anniversary.target_utc == utc("2026-08-01T09:30:00Z")  # 18:30 JST


def test_schedule_has_no_anniversary_without_a_date() -> None:
    user = UserFields("Ada", "Lovelace", date(1990, 6, 15), "Asia/Tokyo")
    assert next_of(BuiltIns(), event_types.get("anniversary"), user, CREATED) is None


def test_schedule_applies_its_leap_day_policy() -> None:
    user = UserFields("Leap", "Ling", date(2000, 2, 29), "UTC")
    occurrence = next_of(
        BuiltIns(leap_day_policy=LeapDayPolicy.FEB28), event_types.get("birthday"), user, CREATED
    )
    assert occurrence is not None
    assert occurrence.local_date == date(2027, 2, 28)


# The property: over any zone, anchor, delivery time and creation instant.
ZONES = sorted(known_zones())


@settings(max_examples=300, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    anchor=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    at=st.times(),
    after=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
    ),
    policy=st.sampled_from(LeapDayPolicy),
)
# Found by a fresh clone's run: a delivery time with fold=1 in Ljubljana's spring gap.
@example(
    zone_name="Europe/Ljubljana",
    anchor=date(2000, 3, 25),
    at=time(2, 0, fold=1),
    after=datetime(2000, 1, 1, tzinfo=UTC),
    policy=LeapDayPolicy.MAR1,
)
def test_property_wall_time_and_strictly_after(
    zone_name: str, anchor: date, at: time, after: datetime, policy: LeapDayPolicy
) -> None:
    tz = ZoneInfo(zone_name)
    occurrence = next_occurrence(anchor, at, zone_name, after, policy)

    assert occurrence.target_utc > after
    assert occurrence.local_date.year > anchor.year
    assert occurrence.local_date == date_in_year(anchor, occurrence.local_date.year, policy)

    wall = datetime.combine(occurrence.local_date, at)
    local = occurrence.target_utc.astimezone(tz).replace(tzinfo=None)
    before, after_gap = (wall.replace(tzinfo=tz, fold=f).utcoffset() for f in (0, 1))
    assert before is not None
    assert after_gap is not None
    in_gap = (
        datetime.combine(occurrence.local_date, at, tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        != wall
    )
    if in_gap:
        # Moved forward by exactly the length of the gap.
        assert local == wall + (after_gap - before)
    else:
        assert local == wall

    # And it is the first such occurrence: the one a year earlier was not after creation.
    previous_year = occurrence.local_date.year - 1
    if previous_year > anchor.year:
        previous_day = date_in_year(anchor, previous_year, policy)
        previous = datetime.combine(previous_day, at, tz).astimezone(UTC)
        assert previous <= after


def test_schedule_occurrence_in_a_given_year() -> None:
    user = UserFields("Leap", "Ling", date(2000, 2, 29), "Asia/Tokyo", anniversary_date=date(2020, 8, 1))
    schedule = BuiltIns(leap_day_policy=LeapDayPolicy.FEB28)
    birthday = event_types.get("birthday")
    assert occurrence_in(schedule, birthday, user, 2027) == Occurrence(
        date(2027, 2, 28), utc("2027-02-28T00:00:00Z")
    )
    assert occurrence_in(schedule, birthday, user, 2028) == Occurrence(
        date(2028, 2, 29), utc("2028-02-29T00:00:00Z")
    )
    assert occurrence_in(schedule, birthday, user, 2000) is None  # the anchor's own year
    assert (
        occurrence_in(schedule, event_types.get("anniversary"), replace(user, anniversary_date=None), 2027)
        is None
    )
