"""A day of downtime: every missed event delivered once and flagged late; the too-old skipped.

A volume test, so the queue and the ledger are the in-memory twins (moto slows to ~10
messages/s at this depth); PostgreSQL and the HTTP receiver are real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.memory import MemoryLedger, MemoryQueue
from scripts.devstack.seed import seed_due_birthdays
from scripts.devstack.store import tool_transaction
from tests.conftest import START
from tests.integration.pipeline.support import Pipeline

DAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)


def test_after_24_hours_down_1000_missed_events_are_delivered_once_late_and_old_ones_skipped(
    pipeline: Pipeline,
) -> None:
    queue = MemoryQueue(pipeline.clock)
    pipeline.c.use(queue=queue, dlq=MemoryQueue(pipeline.clock), ledger=MemoryLedger())
    seed_due_birthdays(pipeline.c.db, 1000, DAY, spacing=timedelta(seconds=86), now=START)
    seed_due_birthdays(pipeline.c.db, 20, LONG_AGO, now=START)
    pipeline.sink.record = False

    pipeline.at(DAY + timedelta(hours=24, minutes=30))  # back up after the outage
    summary = pipeline.sweep()
    assert (summary["found"], summary["claimed"], summary["enqueued"]) == (1020, 1020, 1020)
    assert summary["oldestLatenessSeconds"] == (pipeline.clock.now() - LONG_AGO).total_seconds()
    assert pipeline.drain() == 1020

    assert pipeline.sink.count == 1000
    assert len(pipeline.sink.keys) == 1000
    with tool_transaction(pipeline.c.db) as tools:
        outcome = tools.all(
            "SELECT status, late, occurrence_date, count(*) AS n, min(failure_reason) AS reason FROM events"
            " GROUP BY status, late, occurrence_date ORDER BY occurrence_date, status"
        )
    reason = "older than MAX_EVENT_AGE (7d): due 2026-02-20T09:00:00Z"
    assert [
        (r["status"], r["late"], r["occurrence_date"].isoformat(), r["n"], r["reason"]) for r in outcome
    ] == [
        ("SKIPPED", True, "2026-02-20", 20, reason),
        ("COMPLETED", True, "2026-03-02", 1000, None),
        ("PENDING", False, "2027-02-20", 20, None),
        ("PENDING", False, "2027-03-02", 1000, None),
    ]
    assert queue.depth() == 0
