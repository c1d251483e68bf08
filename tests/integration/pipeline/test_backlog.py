"""Under a backlog an event is never sent again while its message can still arrive.

Real PostgreSQL, a moto server over HTTP, the real handlers and receiver; the test's
ManualClock plays the schedule. The receiver is slower than the lease: each POST lasts a
virtual minute, during which the schedule fires, so every lease runs out while its message
still waits in the queue or is being worked on.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.settings import Settings
from scripts.devstack.seed import seed_due_birthdays
from scripts.devstack.store import tool_transaction
from scripts.devstack.webhook_sink import Reply
from tests.conftest import START
from tests.integration.pipeline.support import Pipeline, RecordingQueue

DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


@pytest.fixture
def pipeline_settings(pipeline_settings: Settings) -> Settings:
    # The receiver's hook runs a sweep before it answers: real seconds, not a timeout.
    return replace(pipeline_settings, lease=LEASE, webhook_read_timeout=30.0)


def processing(pipeline: Pipeline) -> int:
    with tool_transaction(pipeline.c.db) as tools:
        row = tools.one("SELECT count(*) AS n FROM events WHERE status = 'PROCESSING'", {})
    assert row is not None
    return int(row["n"])


def test_a_receiver_slower_than_the_lease_gets_no_extra_message_and_no_duplicate_post(
    pipeline: Pipeline,
) -> None:
    seed_due_birthdays(pipeline.c.db, 30, DUE, now=START)
    queue = RecordingQueue(pipeline.c.queue)
    pipeline.c.use(queue=queue)
    samples: list[tuple[int, int]] = []
    lock = threading.Lock()

    def a_minute_passes_while_the_post_hangs() -> None:
        with lock:
            pipeline.clock.advance(timedelta(minutes=1))
            pipeline.sweep()
            samples.append((processing(pipeline), queue.depth()))

    pipeline.sink.default = Reply(before=a_minute_passes_while_the_post_hangs)
    pipeline.at(DUE)
    assert pipeline.sweep()["enqueued"] == 30
    assert pipeline.drain() == 30

    assert pipeline.clock.now() >= DUE + 15 * LEASE  # the last message waited ~15 leases
    assert queue.sent == 30
    assert pipeline.sink.count == 30
    assert len(pipeline.sink.keys) == 30
    assert all(depth <= in_flight for in_flight, depth in samples), samples
    assert (processing(pipeline), queue.depth()) == (0, 0)


def test_a_message_lost_from_the_queue_is_sent_again_once_its_lease_runs_out(
    pipeline: Pipeline, moto_endpoint: str
) -> None:
    seed_due_birthdays(pipeline.c.db, 10, DUE, now=START)
    queue = RecordingQueue(pipeline.c.queue)
    pipeline.c.use(queue=queue)
    pipeline.at(DUE)
    assert pipeline.sweep()["enqueued"] == 10
    lost = queue.receive(4, visibility_timeout=600)
    for message in lost:  # gone without reaching the worker: SQS's own DLQ move, a purge
        queue.delete(message.receipt_handle)

    pipeline.at(DUE + LEASE - timedelta(seconds=1))
    assert pipeline.sweep()["requeued"] == 0
    pipeline.at(DUE + LEASE)
    assert pipeline.sweep()["requeued"] == 4  # ten PROCESSING, six messages: four may be lost
    pipeline.drain()
    # The four re-sent were the oldest leases, not necessarily the lost ones: what is still
    # missing goes at the next sweep, once the stale messages have drained.
    pipeline.at(DUE + LEASE + timedelta(minutes=1))
    pipeline.sweep()
    pipeline.drain()

    assert (pipeline.sink.count, len(pipeline.sink.keys)) == (10, 10)
    assert processing(pipeline) == 0
    assert queue.sent <= 10 + 4 + 4
