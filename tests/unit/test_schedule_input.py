"""schedule_input without HTTP: the merge patch is RFC 7396's, and a schedule written back as a
POST body parses to the same fields."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from chalicelib.api.schedule_input import as_input, merge_patch, parse_new_schedule, parse_schedule_patch
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.planner import DstPolicy, Gap, Overlap, Rule
from chalicelib.domain.recurrence import InvalidDate, parse
from chalicelib.domain.schedules import ScheduleFields


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7396, Appendix A, every example
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_is_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


FIELDS = ScheduleFields(
    "month_end.report",
    Rule(
        date(2026, 3, 1),
        time(17, 30),
        parse("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        InvalidDate.BACKWARD,
        DstPolicy(Gap.SKIP, Overlap.SECOND),
    ),
    {"a": [1, {"b": None}]},
    "Europe/London",
)


def test_a_schedule_written_back_as_a_body_parses_to_the_same_fields() -> None:
    assert parse_new_schedule(as_input(FIELDS)) == FIELDS
    once = ScheduleFields("x", Rule(date(1900, 1, 1), time(0, 0)), {})
    assert parse_new_schedule(as_input(once)) == once


def test_an_empty_patch_changes_nothing_and_event_type_is_refused_with_the_rest() -> None:
    assert parse_schedule_patch({}, FIELDS) == FIELDS
    with pytest.raises(ValidationError) as refused:
        parse_schedule_patch({"eventType": "x", "start": "x"}, FIELDS)
    assert [d.field for d in refused.value.details] == ["eventType", "start"]
