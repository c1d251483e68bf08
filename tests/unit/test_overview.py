"""The overview's hours (domain/overview.py): which 24 ahead, which 24 behind, gaps filled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from chalicelib.domain.overview import Finished, Window, due_hours, finished_hours

HOUR = timedelta(hours=1)


def test_the_current_utc_hour_heads_the_hours_ahead_and_ends_the_hours_behind() -> None:
    kathmandu = timezone(timedelta(hours=5, minutes=45))
    window = Window(datetime(2026, 12, 7, 16, 0, 1, tzinfo=kathmandu))  # 10:15:01 UTC
    current = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert window.ahead() == [current + i * HOUR for i in range(24)]
    assert window.behind() == [current - (23 - i) * HOUR for i in range(24)]
    assert (window.due_until, window.finished_since, window.finished_until) == (
        current + 24 * HOUR,
        current - 23 * HOUR,
        current + HOUR,
    )


def test_on_the_hour_that_hour_is_the_current_one() -> None:
    on_the_hour = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert Window(on_the_hour).current == on_the_hour


def test_hours_without_events_are_zeros_and_hours_outside_are_dropped() -> None:
    window = Window(datetime(2026, 12, 7, 10, 30, tzinfo=UTC))
    current = window.current
    due = due_hours(window, {current + 2 * HOUR: 5, current + 30 * HOUR: 9})
    assert [n for _, n in due] == [0, 0, 5] + [0] * 21
    found = {
        current: Finished(current, completed=3, late=1),
        current - 40 * HOUR: Finished(current, failed=1),
    }
    finished = finished_hours(window, found)
    assert finished[-1] == Finished(current, completed=3, late=1)
    assert finished[:-1] == [Finished(h) for h in window.behind()[:-1]]
