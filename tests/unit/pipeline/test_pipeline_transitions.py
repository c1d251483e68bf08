from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.errors import IllegalTransition
from chalicelib.domain.events import Event, Status
from chalicelib.domain.occurrence import Occurrence

TARGET = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pending() -> Event:
    occurrence = Occurrence(date(2026, 3, 2), TARGET)
    return Event.new(uuid.uuid4(), "birthday", occurrence, "UTC", TARGET - timedelta(days=30))


def test_requeue_sends_an_expired_claim_again_under_a_new_version() -> None:
    claimed = pending().claim(TARGET, TARGET + timedelta(minutes=15))
    again = claimed.requeue(TARGET + timedelta(minutes=15), TARGET + timedelta(minutes=30))
    assert (again.status, again.version, again.lease_until, again.late) == (
        Status.PROCESSING,
        claimed.version + 1,
        TARGET + timedelta(minutes=30),
        True,
    )
    with pytest.raises(IllegalTransition):
        pending().requeue(TARGET, TARGET)


def test_defer_extends_the_lease_and_counts_the_attempt_without_staling_the_message() -> None:
    claimed = pending().claim(TARGET, TARGET + timedelta(minutes=15))
    deferred = claimed.defer(TARGET + timedelta(seconds=5), 1, TARGET + timedelta(hours=1))
    assert (deferred.version, deferred.attempts, deferred.lease_until) == (
        claimed.version,
        1,
        TARGET + timedelta(hours=1),
    )
    with pytest.raises(IllegalTransition):
        pending().defer(TARGET, 1, TARGET)


def test_completion_found_in_the_ledger_keeps_the_time_the_2xx_arrived() -> None:
    claimed = pending().claim(TARGET, TARGET + timedelta(minutes=15))
    done = claimed.complete(TARGET + timedelta(hours=1), 1, delivered_at=TARGET + timedelta(minutes=1))
    assert (done.delivered_at, done.late) == (TARGET + timedelta(minutes=1), False)
    late = claimed.complete(TARGET + timedelta(minutes=6), 1)
    assert (late.delivered_at, late.late) == (TARGET + timedelta(minutes=6), True)
