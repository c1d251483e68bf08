"""The planner: a rule's dates as instants in a zone, with the DST policies and COUNT.

Expected instants are worked out by hand from each zone's rules (noted beside them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from chalicelib.domain.planner import DstPolicy, Gap, Occurrence, Overlap, Rule, occurrence_on, occurrences
from chalicelib.domain.recurrence import parse

DAILY = parse("FREQ=DAILY")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plan(rule: Rule, zone: str, after: str, n: int) -> list[tuple[str, str]]:
    return [
        (o.local_date.isoformat(), o.target_utc.isoformat().replace("+00:00", "Z"))
        for o in occurrences(rule, zone, utc(after), limit=n)
    ]


# America/New_York, 2026: EST -5 until 8 March 02:00 (clocks to 03:00), EDT -4 until 1 November
# 02:00 (clocks back to 01:00).
def test_a_wall_time_in_the_gap_shifts_by_the_gap() -> None:
    rule = Rule(date(2026, 3, 7), time(2, 30), DAILY)
    assert plan(rule, "America/New_York", "2026-03-07T00:00:00Z", 3) == [
        ("2026-03-07", "2026-03-07T07:30:00Z"),  # 02:30 EST
        ("2026-03-08", "2026-03-08T07:30:00Z"),  # 02:30 does not exist: 03:30 EDT
        ("2026-03-09", "2026-03-09T06:30:00Z"),  # 02:30 EDT
    ]


def test_a_wall_time_in_the_gap_can_skip_its_day() -> None:
    rule = Rule(date(2026, 3, 7), time(2, 30), DAILY, dst=DstPolicy(gap=Gap.SKIP))
    assert plan(rule, "America/New_York", "2026-03-07T00:00:00Z", 2) == [
        ("2026-03-07", "2026-03-07T07:30:00Z"),
        ("2026-03-09", "2026-03-09T06:30:00Z"),
    ]


@pytest.mark.parametrize(
    ("overlap", "expected"),
    [(Overlap.FIRST, "2026-11-01T05:30:00Z"), (Overlap.SECOND, "2026-11-01T06:30:00Z")],
)
def test_a_wall_time_that_happens_twice_uses_one_instant(overlap: Overlap, expected: str) -> None:
    rule = Rule(date(2026, 10, 31), time(1, 30), DAILY, dst=DstPolicy(overlap=overlap))
    assert plan(rule, "America/New_York", "2026-10-31T12:00:00Z", 2) == [
        ("2026-11-01", expected),  # 01:30 EDT (-4) first, 01:30 EST (-5) second
        ("2026-11-02", "2026-11-02T06:30:00Z"),
    ]


@pytest.mark.parametrize(
    ("at", "overlap"),
    [(time(2, 30), Overlap.FIRST), (time(1, 30), Overlap.FIRST), (time(1, 30), Overlap.SECOND)],
)
def test_a_fold_the_wall_time_carries_changes_nothing(at: time, overlap: Overlap) -> None:
    # The policies decide which offset a gap or an overlap takes; a time with fold=1 (Python
    # makes them, hypothesis's times() draws them) once took the other one: 02:30 in the gap
    # landed at 01:30 EST, before the gap, and an overlap's FIRST became its second.
    folded = Rule(date(2026, 3, 8), at.replace(fold=1), DAILY, dst=DstPolicy(overlap=overlap))
    plain = Rule(date(2026, 3, 8), at, DAILY, dst=DstPolicy(overlap=overlap))
    for day in ("2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z"):
        assert plan(folded, "America/New_York", day, 2) == plan(plain, "America/New_York", day, 2)


def test_a_day_the_zone_skipped_is_not_delivered_twice() -> None:
    # Pacific/Apia went from 29 December 2011 (-10) straight to 31 December (+14). 30 December
    # 09:00, shifted by the gap, is 31 December 09:00 +14: the next day's own instant, once.
    rule = Rule(date(2011, 12, 28), time(9, 0), DAILY)
    assert plan(rule, "Pacific/Apia", "2011-12-28T00:00:00Z", 4) == [
        ("2011-12-28", "2011-12-28T19:00:00Z"),
        ("2011-12-29", "2011-12-29T19:00:00Z"),
        ("2011-12-30", "2011-12-30T19:00:00Z"),
        ("2012-01-01", "2011-12-31T19:00:00Z"),
    ]


def test_count_counts_only_what_a_policy_lets_through() -> None:
    rule = Rule(date(2026, 3, 7), time(2, 30), parse("FREQ=DAILY;COUNT=3"), dst=DstPolicy(gap=Gap.SKIP))
    assert [d for d, _ in plan(rule, "America/New_York", "2026-03-01T00:00:00Z", 10)] == [
        "2026-03-07",
        "2026-03-09",
        "2026-03-10",
    ]


def test_count_runs_from_start_not_from_the_question() -> None:
    rule = Rule(date(2026, 1, 1), time(9, 0), parse("FREQ=DAILY;COUNT=5"))
    assert [d for d, _ in plan(rule, "UTC", "2026-01-03T12:00:00Z", 10)] == ["2026-01-04", "2026-01-05"]


def test_taken_dates_are_passed_over_and_after_is_strict() -> None:
    rule = Rule(date(2026, 1, 1), time(9, 0), DAILY)
    found = occurrences(rule, "UTC", utc("2026-01-01T09:00:00Z"), taken={date(2026, 1, 2)}, limit=2)
    assert [o.local_date for o in found] == [date(2026, 1, 3), date(2026, 1, 4)]


def test_until_bounds_the_answer() -> None:
    rule = Rule(date(2026, 1, 1), time(9, 0), DAILY)
    found = occurrences(
        rule, "UTC", utc("2025-12-31T00:00:00Z"), limit=100, until=utc("2026-01-03T09:00:00Z")
    )
    assert [o.local_date for o in found] == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]


def test_a_one_time_rule_has_its_start_only() -> None:
    rule = Rule(date(2026, 6, 1), time(10, 0))
    assert plan(rule, "Asia/Kathmandu", "2026-01-01T00:00:00Z", 3) == [("2026-06-01", "2026-06-01T04:15:00Z")]
    assert plan(rule, "Asia/Kathmandu", "2026-06-01T04:15:00Z", 3) == []


def test_occurrence_on_a_date() -> None:
    rule = Rule(date(2026, 1, 1), time(9, 0), parse("FREQ=WEEKLY;BYDAY=MO"))
    assert occurrence_on(rule, "Europe/London", date(2026, 1, 5)) == Occurrence(
        date(2026, 1, 5), utc("2026-01-05T09:00:00Z")
    )
    assert occurrence_on(rule, "Europe/London", date(2026, 1, 6)) is None


def test_the_calendar_edges_end_quietly() -> None:
    rule = Rule(date(2026, 1, 1), time(23, 0), DAILY)
    assert occurrences(rule, "Pacific/Kiritimati", datetime(9999, 12, 31, tzinfo=UTC)) == []
    assert occurrences(rule, "Etc/GMT+12", datetime(1, 1, 1, tzinfo=UTC), limit=1)[0].local_date == date(
        2026, 1, 1
    )
