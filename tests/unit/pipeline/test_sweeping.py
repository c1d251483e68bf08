"""The sweeper's pure decisions: delay and the re-send gate (the lease: Event.lease_from)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.sweeping import resend_allowance, send_delay

NOW = datetime(2026, 3, 2, 8, 58, 45, tzinfo=UTC)
LEASE = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("due_in", "delay"),
    [
        (timedelta(seconds=75), 75),
        (timedelta(seconds=74, milliseconds=1), 75),  # rounded up: never before it is due
        (timedelta(0), 0),
        (timedelta(seconds=-30), 0),
        (timedelta(minutes=20), 900),  # SQS's ceiling
    ],
)
def test_a_message_waits_the_seconds_left_until_its_event_is_due(due_in: timedelta, delay: int) -> None:
    assert send_delay(NOW + due_in, NOW) == delay


def test_expired_leases_are_sent_again_only_for_messages_the_queue_no_longer_holds() -> None:
    assert resend_allowance(expecting_a_message=1890, depth=1890) == 0  # a backlog: all still coming
    assert resend_allowance(expecting_a_message=1890, depth=2500) == 0  # stale messages besides
    assert resend_allowance(expecting_a_message=10, depth=6) == 4  # four lost
