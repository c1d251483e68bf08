"""The sweeper: claim what falls due before the next run, and send it to the queue delayed
until it is due.

A cron run fires at some second of its minute, so each run looks ahead (`SWEEP_LOOKAHEAD`) and
sends each message with the seconds left until its event is due as its SQS delay. Each batch
is one statement that commits before anything is sent, in this order:
1. `resend_unsent`: claims whose message is known never to have reached SQS (refused, or not
   sent before a run's deadline), sent again first and always;
2. `claim_due`: PENDING events due within the look-ahead;
3. `requeue_expired`: sent claims whose lease ran out, at most as many as the queue lacks
   messages for (`resend_allowance`): under a backlog, a message that is merely late is never
   doubled, while a lost one (a purge, SQS's own DLQ move, a sweeper that died between commit
   and send) is.
Before the claims, audience schedules' occurrences that fall within their own look-ahead are
written as events already claimed, and sent like claims (services/materialiser.py), within a
part of the budget.
Every re-send is under a new version, so a message that did get through after all is stale and
dropped by the worker. The time budget is checked before each claim and each SQS call; what a
run claimed but could not send in time is marked unsent for the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.sweeping import MAX_DELAY_SECONDS, resend_allowance, send_delay
from chalicelib.ports import Claimed, Clock, Database, Queue, Store
from chalicelib.services.materialiser import AudiencePolicy, materialise

SQS_BATCH = 10
MAX_LOOKAHEAD = timedelta(seconds=MAX_DELAY_SECONDS)
"""A message is delayed until its event is due: SQS delays 15 minutes at most."""
_Claim = Callable[[Store, datetime, int], list[Claimed]]


@dataclass(frozen=True)
class SweepPolicy:
    lease: timedelta
    lookahead: timedelta = timedelta(seconds=150)
    batch_size: int = 500
    time_budget: timedelta = timedelta(seconds=50)
    send_concurrency: int = 1
    audiences: AudiencePolicy = field(default_factory=AudiencePolicy)


@dataclass
class SweepSummary:
    found: int = 0
    claimed: int = 0
    requeued: int = 0
    enqueued: int = 0
    send_failed: int = 0
    """Refused by SQS (or the call failed): marked unsent."""
    left_unsent: int = 0
    """Claimed, but the deadline came before their SQS call: marked unsent."""
    resend_allowance: int = 0
    oldest_lateness_seconds: float = 0.0
    audience_written: int = 0
    """Audience members' events written by this run."""
    audience_budget_spent: bool = False
    """Audiences had more to write than their part of the budget: the next run goes on."""
    duration_seconds: float = 0.0
    budget_spent: bool = False

    def as_json(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items()}


@dataclass
class _Run:
    db: Database
    clock: Clock
    queue: Queue
    policy: SweepPolicy
    pool: ThreadPoolExecutor
    monotonic: Callable[[], float]
    deadline: float
    summary: SweepSummary

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def out_of_time(self) -> bool:
        if self.monotonic() >= self.deadline:
            self.summary.budget_spent = True
        return self.summary.budget_spent

    def claim_in_batches(self, claim: _Claim, allowance: int | None = None) -> int:
        """Claims and sends batch after batch, up to `allowance` rows (None: no limit)."""
        taken = 0
        while not self.out_of_time():
            limit = (
                self.policy.batch_size
                if allowance is None
                else min(self.policy.batch_size, allowance - taken)
            )
            if limit <= 0:
                break
            now = self.clock.now()
            with self.db.transaction() as store:
                batch = claim(store, now, limit)
            taken += len(batch)
            self._note_lateness(batch, now)
            self.send(batch)
            if len(batch) < limit:
                break
        return taken

    def _note_lateness(self, batch: Sequence[Claimed], now: datetime) -> None:
        if batch:
            oldest = max((now - c.target_utc).total_seconds() for c in batch)
            self.summary.oldest_lateness_seconds = round(max(self.summary.oldest_lateness_seconds, oldest), 3)

    def send(self, batch: Sequence[Claimed]) -> None:
        chunks = [batch[i : i + SQS_BATCH] for i in range(0, len(batch), SQS_BATCH)]
        if self.policy.send_concurrency > 1 and len(chunks) > 1:
            unsent = list(self.pool.map(self._send_chunk, chunks))
        else:
            unsent = [self._send_chunk(chunk) for chunk in chunks]
        left = [claimed for chunk_unsent in unsent for claimed in chunk_unsent]
        if left:
            _mark_unsent(self.db, left)

    def _send_chunk(self, chunk: Sequence[Claimed]) -> list[Claimed]:
        """Returns the claims whose message did not reach SQS."""
        if self.out_of_time():
            with self._lock:
                self.summary.left_unsent += len(chunk)
            return list(chunk)
        now = self.clock.now()
        try:
            failed = [
                chunk[i]
                for i in self.queue.send_batch(
                    [c.message.encode() for c in chunk], [send_delay(c.due_utc, now) for c in chunk]
                )
            ]
        except Exception as exc:
            obs.log().warning("queue send failed", extra={"error": str(exc)[:300], "messages": len(chunk)})
            failed = list(chunk)
        with self._lock:
            self.summary.enqueued += len(chunk) - len(failed)
            self.summary.send_failed += len(failed)
        return failed


def sweep(
    db: Database,
    clock: Clock,
    queue: Queue,
    policy: SweepPolicy,
    monotonic: Callable[[], float] = time.monotonic,
) -> SweepSummary:
    started = monotonic()
    now = clock.now()
    with db.transaction() as store:
        summary = SweepSummary(found=store.count_due(now, now + policy.lookahead))
    with ThreadPoolExecutor(max_workers=policy.send_concurrency) as pool:
        run = _Run(
            db, clock, queue, policy, pool, monotonic, started + policy.time_budget.total_seconds(), summary
        )
        lease, lookahead = policy.lease, policy.lookahead
        summary.requeued += run.claim_in_batches(lambda store, at, n: store.resend_unsent(at, lease, n))
        if not run.out_of_time():
            _materialise(db, clock, policy, run, started, monotonic)
        summary.claimed += run.claim_in_batches(
            lambda store, at, n: store.claim_due(at, at + lookahead, lease, n)
        )
        if not run.out_of_time():
            summary.resend_allowance = _resend_allowance(db, queue)
            summary.requeued += run.claim_in_batches(
                lambda store, at, n: store.requeue_expired(at, lease, n), summary.resend_allowance
            )
    summary.duration_seconds = round(monotonic() - started, 3)
    _report(summary)
    _record(db, clock.now(), summary)
    return summary


def _materialise(
    db: Database, clock: Clock, policy: SweepPolicy, run: _Run, started: float, monotonic: Callable[[], float]
) -> None:
    lookahead = min(max(policy.audiences.lookahead, policy.lookahead), MAX_LOOKAHEAD)
    audiences = replace(policy.audiences, lookahead=lookahead)
    deadline = min(run.deadline, started + audiences.time_budget.total_seconds())
    try:
        done = materialise(db, clock, audiences, policy.lease, run.send, deadline, monotonic)
    except Exception as exc:  # the claims still run; the next sweep goes on from the progress kept
        obs.log().error("audiences not materialised", extra={"error": str(exc)[:300]})
        return
    run.summary.audience_written = done.written
    run.summary.audience_budget_spent = done.budget_spent


def _resend_allowance(db: Database, queue: Queue) -> int:
    # PROCESSING first, depth second: a claim sent in between can only make the gap smaller.
    with db.transaction() as store:
        expecting = store.count_expecting_a_message()
    try:
        depth = queue.depth()
    except Exception as exc:
        obs.log().warning("queue depth unknown: no expired lease sent again", extra={"error": str(exc)[:300]})
        return 0
    return resend_allowance(expecting, depth)


def _mark_unsent(db: Database, left: Sequence[Claimed]) -> None:
    try:
        with db.transaction() as store:
            store.mark_unsent([c.message for c in left])
    except Exception as exc:
        # Their lease still brings them back (through the gate); only sooner is lost.
        obs.log().error("could not mark unsent claims", extra={"error": str(exc)[:300]})


def _record(db: Database, finished_at: datetime, summary: SweepSummary) -> None:
    """The run's end, for GET /overview's sweep age: one row written over."""
    try:
        with db.transaction() as store:
            store.record_sweep(finished_at, summary.as_json())
    except Exception as exc:  # the run's work is done; only the overview's age goes stale
        obs.log().error("could not record the sweep", extra={"error": str(exc)[:300]})


def _report(summary: SweepSummary) -> None:
    obs.log().info("sweep finished", extra=summary.as_json())
    obs.emit(
        [
            ("Claimed", obs.Count, summary.claimed + summary.requeued),
            ("Requeued", obs.Count, summary.requeued),
            ("EnqueueFailed", obs.Count, summary.send_failed),
            ("OldestLatenessSeconds", obs.Seconds, summary.oldest_lateness_seconds),
            ("AudienceWritten", obs.Count, summary.audience_written),
        ]
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Sweeper:
    """The sweep bound to its ports: what the container builds and the schedule handler calls."""

    db: Database
    clock: Clock
    queue: Queue
    policy: SweepPolicy

    def run(self) -> SweepSummary:
        return sweep(self.db, self.clock, self.queue, self.policy)
