"""The sweep looks ahead: it claims what falls due before its next run and sends each message
with the seconds left as its SQS delay; a user changed or deleted meanwhile is never sent the
old occurrence.

The queue is the in-memory twin on the test's ManualClock (moto counts DelaySeconds in real
seconds); PostgreSQL, the handlers and the HTTP receiver are real.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.events import Status
from chalicelib.services import users
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests.integration.pipeline.support import Pipeline

TARGET = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BORN = date(1990, 3, 2)
SWEEP = TARGET - timedelta(seconds=75)  # a cron run 45 s into 08:58
IN_NEW_YORK = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 EST


@pytest.fixture
def queue(pipeline: Pipeline) -> MemoryQueue:
    queue = MemoryQueue(pipeline.clock, visibility_timeout=60)
    pipeline.c.use(queue=queue, dlq=MemoryQueue(pipeline.clock), ledger=MemoryLedger())
    return queue


def scheduled_for(pipeline: Pipeline) -> list[str]:
    return [r.json()["scheduledFor"] for r in pipeline.sink.requests]


def test_an_event_claimed_ahead_waits_in_the_queue_until_its_target_then_is_delivered_on_time(
    pipeline: Pipeline, queue: MemoryQueue
) -> None:
    user = pipeline.user(BORN)
    later = pipeline.user(BORN, first="Later")
    with pipeline.c.db.transaction() as store:  # due one second past this run's look-ahead
        store.conn.execute(
            "UPDATE events SET due_utc = %s, target_utc = %s WHERE user_id = %s",
            (SWEEP + timedelta(seconds=151), SWEEP + timedelta(seconds=151), later.id),
        )
    pipeline.at(SWEEP)
    summary = pipeline.sweep()
    assert (summary["claimed"], summary["enqueued"]) == (1, 1)
    claimed = pipeline.only(user.id, Status.PROCESSING)
    assert claimed.lease_until == TARGET + pipeline.c.settings.lease  # the lease covers the delay
    assert not claimed.late
    assert pipeline.only(later.id, Status.PENDING)

    pipeline.at(TARGET - timedelta(seconds=1))
    assert (pipeline.drain(), queue.depth()) == (0, 1)
    pipeline.at(TARGET)
    assert pipeline.drain() == 1
    assert scheduled_for(pipeline) == ["2026-03-02T09:00:00Z"]
    done = pipeline.only(user.id, Status.COMPLETED)
    assert (done.delivered_at, done.late) == (TARGET, False)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: replace(f, timezone="America/New_York"), ["2026-03-02T14:00:00Z"]),
        (lambda f: replace(f, date_of_birth=date(1990, 3, 3)), ["2026-03-03T09:00:00Z"]),
    ],
    ids=["zone", "date"],
)
def test_a_user_changed_during_the_delay_gets_no_post_for_the_old_target_and_one_for_the_new(
    pipeline: Pipeline, queue: MemoryQueue, change: object, expected: list[str]
) -> None:
    user = pipeline.user(BORN)
    pipeline.at(SWEEP)
    assert pipeline.sweep()["enqueued"] == 1
    pipeline.at(SWEEP + timedelta(seconds=30))
    users.change_user(pipeline.c.db, pipeline.clock, pipeline.c.builtins, user.id, change)  # type: ignore[arg-type]

    pipeline.at(TARGET)
    assert pipeline.drain() == 1  # the old message arrives, stale: dropped
    assert pipeline.sink.requests == []
    moved = pipeline.only(user.id, Status.PENDING)
    assert moved.target_utc > TARGET

    pipeline.at(moved.target_utc - timedelta(seconds=75))
    assert pipeline.sweep()["enqueued"] == 1
    pipeline.at(moved.target_utc)
    assert pipeline.drain() == 1
    assert scheduled_for(pipeline) == expected
    assert pipeline.only(user.id, Status.COMPLETED).delivered_at == moved.target_utc
    assert queue.depth() == 0


def test_a_user_deleted_during_the_delay_gets_no_post(pipeline: Pipeline, queue: MemoryQueue) -> None:
    user = pipeline.user(BORN)
    pipeline.at(SWEEP)
    assert pipeline.sweep()["enqueued"] == 1
    pipeline.at(SWEEP + timedelta(seconds=30))
    users.delete_user(pipeline.c.db, pipeline.clock, user.id)

    pipeline.at(TARGET + timedelta(days=1))
    assert pipeline.drain() == 1
    assert pipeline.sweep()["claimed"] == 0
    assert pipeline.sink.requests == []
    assert [e.status for e in pipeline.events(user.id)] == [Status.CANCELLED]
    assert queue.depth() == 0
