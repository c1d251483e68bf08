"""The sweeper: claim due events in batches and send them to the queue.

Each batch is one statement (`Store.claim_due`, then `Store.requeue_expired` for leases that
ran out) that commits before anything is sent. A send that fails leaves the event PROCESSING with its lease
cut short, so a coming sweep sends it again; a sweeper that dies between the commit and the
send leaves it to the full lease. Either way the event comes back, under a new version, so a
message that did get through is then stale and dropped by the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.ports import Claimed, Clock, Database, Queue

SQS_BATCH = 10


@dataclass(frozen=True)
class SweepPolicy:
    lease: timedelta
    send_retry: timedelta
    batch_size: int = 500
    time_budget: timedelta = timedelta(seconds=50)
    send_concurrency: int = 1


@dataclass
class SweepSummary:
    found: int = 0
    claimed: int = 0
    requeued: int = 0
    enqueued: int = 0
    send_failed: int = 0
    oldest_lateness_seconds: float = 0.0
    duration_seconds: float = 0.0
    budget_spent: bool = False

    def as_json(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items()}


def sweep(
    db: Database,
    clock: Clock,
    queue: Queue,
    policy: SweepPolicy,
    monotonic: Callable[[], float] = time.monotonic,
) -> SweepSummary:
    started = monotonic()
    deadline = started + policy.time_budget.total_seconds()
    summary = SweepSummary(found=_count_due(db, clock.now()))
    with ThreadPoolExecutor(max_workers=policy.send_concurrency) as pool:
        for requeue in (False, True):
            while True:
                if monotonic() >= deadline:
                    summary.budget_spent = True
                    break
                now = clock.now()
                batch = _claim(db, requeue, now, policy)
                if not requeue:
                    summary.claimed += len(batch)
                else:
                    summary.requeued += len(batch)
                _note_lateness(summary, batch, now)
                _send(db, clock, queue, policy, pool, batch, summary)
                if len(batch) < policy.batch_size:
                    break
    summary.duration_seconds = round(monotonic() - started, 3)
    _report(summary)
    return summary


def _count_due(db: Database, now: datetime) -> int:
    with db.transaction() as store:
        return store.count_due(now)


def _claim(db: Database, requeue: bool, now: datetime, policy: SweepPolicy) -> list[Claimed]:
    """Due PENDING events first (`claim_due`), then expired leases (`requeue_expired`)."""
    with db.transaction() as store:
        claim = store.requeue_expired if requeue else store.claim_due
        return claim(now, now + policy.lease, policy.batch_size)


def _note_lateness(summary: SweepSummary, batch: Sequence[Claimed], now: datetime) -> None:
    if batch:
        oldest = max((now - c.target_utc).total_seconds() for c in batch)
        summary.oldest_lateness_seconds = round(max(summary.oldest_lateness_seconds, oldest), 3)


def _send(
    db: Database,
    clock: Clock,
    queue: Queue,
    policy: SweepPolicy,
    pool: ThreadPoolExecutor,
    batch: Sequence[Claimed],
    summary: SweepSummary,
) -> None:
    chunks = [batch[i : i + SQS_BATCH] for i in range(0, len(batch), SQS_BATCH)]
    if policy.send_concurrency > 1 and len(chunks) > 1:
        failures = list(pool.map(lambda chunk: _send_chunk(queue, chunk), chunks))
    else:
        failures = [_send_chunk(queue, chunk) for chunk in chunks]
    failed = [claimed for chunk_failures in failures for claimed in chunk_failures]
    summary.enqueued += len(batch) - len(failed)
    summary.send_failed += len(failed)
    if failed:
        _shorten_leases(db, clock.now() + policy.send_retry, failed)


def _send_chunk(queue: Queue, chunk: Sequence[Claimed]) -> list[Claimed]:
    try:
        failed = queue.send_batch([c.message.encode() for c in chunk])
    except Exception as exc:
        obs.log().warning("queue send failed", extra={"error": str(exc)[:300], "messages": len(chunk)})
        return list(chunk)
    return [chunk[i] for i in failed]


def _shorten_leases(db: Database, until: datetime, failed: Sequence[Claimed]) -> None:
    try:
        with db.transaction() as store:
            store.shorten_leases(until, [c.message for c in failed])
    except Exception as exc:
        # The full lease still brings them back; only sooner is lost.
        obs.log().error("could not shorten leases after a failed send", extra={"error": str(exc)[:300]})


def _report(summary: SweepSummary) -> None:
    obs.log().info("sweep finished", extra=summary.as_json())
    obs.emit(
        [
            ("Claimed", obs.Count, summary.claimed + summary.requeued),
            ("Requeued", obs.Count, summary.requeued),
            ("EnqueueFailed", obs.Count, summary.send_failed),
            ("OldestLatenessSeconds", obs.Seconds, summary.oldest_lateness_seconds),
        ]
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
