"""Recurrence rules: parsing (every refusal names its part) and expansion over local dates.

Every expected date is worked out by hand from a calendar (1 January 2026 is a Thursday), or
taken from RFC 5545's own examples, never by asking the code under test.
"""

from __future__ import annotations

from datetime import date
from itertools import islice

import pytest

from chalicelib.domain.recurrence import Freq, InvalidDate, RuleError, WeekdayNum, expand, parse


def first(rule: str, start: str, n: int, invalid: InvalidDate = InvalidDate.OMIT) -> list[str]:
    return [d.isoformat() for d in islice(expand(parse(rule), date.fromisoformat(start), invalid), n)]


@pytest.mark.parametrize(
    ("rule", "start", "expected"),
    [
        # Every Monday: the weekly digest.
        ("FREQ=WEEKLY;BYDAY=MO", "2026-01-01", ["2026-01-05", "2026-01-12", "2026-01-19"]),
        # The last weekday of each month (31 Jan and 28 Feb are Saturdays, 31 May a Sunday).
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "2026-01-01",
            ["2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30", "2026-05-29"],
        ),
        # The 4th Thursday of November.
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "2026-01-01", ["2026-11-26", "2027-11-25"]),
        ("FREQ=MONTHLY;BYDAY=-1FR", "2026-01-01", ["2026-01-30", "2026-02-27", "2026-03-27"]),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-01", ["2026-01-31", "2026-02-28", "2026-03-31"]),
        # Friday the 13th: BYDAY limits what BYMONTHDAY names.
        ("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "2026-01-01", ["2026-02-13", "2026-03-13", "2026-11-13"]),
        # INTERVAL counts periods from start's week (29 Dec-4 Jan); its Monday is before start.
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "2026-01-01", ["2026-01-12", "2026-01-26", "2026-02-09"]),
        # Start is not an occurrence unless the rule yields it.
        ("FREQ=MONTHLY;BYDAY=1MO", "2026-01-15", ["2026-02-02", "2026-03-02"]),
        ("FREQ=DAILY;UNTIL=20260103", "2026-01-01", ["2026-01-01", "2026-01-02", "2026-01-03"]),
        # RFC 5545's WKST examples (3.8.5.3): only the week start differs.
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=MO",
            "1997-08-05",
            ["1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24"],
        ),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
            "1997-08-05",
            ["1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31"],
        ),
        # Plain and n-th weekdays together are a union (dateutil and rrule.js give nothing).
        ("FREQ=MONTHLY;BYDAY=MO,-1WE", "2026-01-01", ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26",
                                                        "2026-01-28", "2026-02-02"]),
    ],
)  # fmt: skip
def test_expansion(rule: str, start: str, expected: list[str]) -> None:
    assert first(rule, start, len(expected)) == expected


@pytest.mark.parametrize(
    ("invalid", "expected"),
    [
        (InvalidDate.OMIT, ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]),
        (InvalidDate.BACKWARD, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]),
        (InvalidDate.FORWARD, ["2026-01-31", "2026-03-01", "2026-03-31", "2026-05-01", "2026-05-31"]),
    ],
)
def test_the_31st_of_every_month(invalid: InvalidDate, expected: list[str]) -> None:
    assert first("FREQ=MONTHLY;BYMONTHDAY=31", "2026-01-01", len(expected), invalid) == expected


@pytest.mark.parametrize(
    ("invalid", "expected"),
    [
        (InvalidDate.OMIT, ["2024-02-29", "2028-02-29"]),
        (InvalidDate.BACKWARD, ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]),
        (InvalidDate.FORWARD, ["2024-02-29", "2025-03-01", "2026-03-01", "2027-03-01", "2028-02-29"]),
    ],
)
def test_29_february_yearly(invalid: InvalidDate, expected: list[str]) -> None:
    assert first("FREQ=YEARLY", "2024-02-29", len(expected), invalid) == expected


def test_two_rule_dates_that_map_to_one_date_give_it_once() -> None:
    # 30 and 31 February both fall back to the 28th; 31 April and 1 May both forward to 1 May.
    assert first("FREQ=MONTHLY;BYMONTHDAY=30,31", "2026-02-01", 3, InvalidDate.BACKWARD) == [
        "2026-02-28",
        "2026-03-30",
        "2026-03-31",
    ]
    assert first("FREQ=MONTHLY;BYMONTHDAY=1,31", "2026-04-01", 5, InvalidDate.FORWARD) == [
        "2026-04-01",
        "2026-05-01",
        "2026-05-31",
        "2026-06-01",
        "2026-07-01",
    ]


def test_a_negative_day_that_does_not_exist_moves_to_its_nearest_date() -> None:
    # -31 in a 30-day month is "day 0": backward the last day before it, forward the 1st.
    assert first("FREQ=MONTHLY;BYMONTHDAY=-31", "2026-04-01", 2, InvalidDate.BACKWARD) == [
        "2026-05-01",  # May has 31 days: -31 is the 1st (April's "day 0" is before start)
        "2026-05-31",  # June's "day 0"
    ]
    assert first("FREQ=MONTHLY;BYMONTHDAY=-31", "2026-04-01", 2, InvalidDate.FORWARD) == [
        "2026-04-01",
        "2026-05-01",
    ]


def test_under_daily_bymonthday_only_filters_real_days() -> None:
    # As libical does: no date is named there, so none is moved.
    assert first("FREQ=DAILY;BYMONTHDAY=31", "2026-01-01", 2, InvalidDate.BACKWARD) == [
        "2026-01-31",
        "2026-03-31",
    ]


def test_skipping_ahead_gives_the_same_dates_as_expanding_from_start() -> None:
    rule = parse("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=31,-1")
    start = date(2020, 1, 31)
    everything = list(islice(expand(rule, start, InvalidDate.BACKWARD), 60))
    since = date(2024, 6, 15)
    assert (
        list(islice(expand(rule, start, InvalidDate.BACKWARD, since), 10))
        == [d for d in everything if d >= since][:10]
    )


def test_a_rule_that_never_yields_ends() -> None:
    assert first("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "2026-01-01", 1) == []
    assert first("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "2026-01-01", 1, InvalidDate.BACKWARD) == [
        "2026-02-28"
    ]


def test_parse_keeps_a_canonical_text() -> None:
    rule = parse("rrule:wkst=su;byday=-1fr,mo;freq=monthly;interval=1;count=5")
    assert rule.freq is Freq.MONTHLY
    assert rule.by_day == (WeekdayNum(4, -1), WeekdayNum(0))
    assert rule.text() == "FREQ=MONTHLY;COUNT=5;BYDAY=-1FR,MO;WKST=SU"
    assert parse(rule.text()) == rule


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=HOURLY", "FREQ"),
        ("INTERVAL=2", "FREQ"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR"),
        ("FREQ=DAILY;RSCALE=GREGORIAN", "RSCALE"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "UNTIL"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("FREQ=DAILY;COUNT=x", "COUNT"),
        ("FREQ=DAILY;UNTIL=2027-01-01", "UNTIL"),
        ("FREQ=DAILY;UNTIL=20270230", "UNTIL"),
        ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY"),
        ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY"),
        ("FREQ=YEARLY;BYDAY=54MO", "BYDAY"),
        ("FREQ=MONTHLY;BYDAY=XX", "BYDAY"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS"),
        ("FREQ=DAILY;WKST=XX", "WKST"),
        ("FREQ=DAILY;;", ""),
    ],
)
def test_a_refusal_names_the_part(rule: str, part: str) -> None:
    with pytest.raises(RuleError) as refused:
        parse(rule)
    assert refused.value.part == (part or "recurrence")
