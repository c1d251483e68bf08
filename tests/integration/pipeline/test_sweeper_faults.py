"""The sweeper against real PostgreSQL: concurrency, failed sends, a crash after the claim."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from chalicelib.adapters.memory import MemoryQueue
from chalicelib.adapters.postgres import Database
from chalicelib.adapters.sqs import SqsQueue
from chalicelib.domain.events import Status
from chalicelib.ports import Queue
from chalicelib.services.sweeper import SweepPolicy, SweepSummary, sweep
from scripts.devstack.aws import free_port
from scripts.devstack.seed import seed_due_birthdays
from scripts.devstack.store import tool_transaction
from tests.conftest import START
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Crash(BaseException):
    """The sweeper's process dies (a Lambda timeout, an OOM): nothing after this runs."""


class CrashingQueue:
    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        raise Crash

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        raise Crash

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        raise Crash

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[object]:
        raise Crash

    def delete(self, receipt_handle: str) -> None:
        raise Crash

    def depth(self) -> int:
        raise Crash


class LostReplyQueue:
    """The messages reach SQS, but the reply is lost: the sender believes the send failed."""

    def __init__(self, inner: Queue) -> None:
        self.inner = inner

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        self.inner.send_batch(bodies, delays)
        raise ConnectionError("connection reset while reading the response")


def test_three_concurrent_sweepers_enqueue_each_of_10000_due_events_exactly_once(
    db: Database, clock: object
) -> None:
    seed_due_birthdays(db, 10_000, BIRTHDAY, now=START)
    queue = MemoryQueue()
    policy = SweepPolicy(lease=timedelta(minutes=15), batch_size=100)
    summaries: list[SweepSummary] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        summaries.append(sweep(db, FixedClock(BIRTHDAY), queue, policy))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ids = [json.loads(body)["eventId"] for body in queue.bodies()]
    assert len(ids) == 10_000
    assert len(set(ids)) == 10_000
    assert sum(s.claimed for s in summaries) == 10_000
    assert sum(s.enqueued for s in summaries) == 10_000
    assert all(s.send_failed == 0 for s in summaries)
    with tool_transaction(db) as tools:
        rows = tools.all("SELECT status, version, count(*) AS n FROM events GROUP BY status, version")
    assert rows == [{"status": "PROCESSING", "version": 2, "n": 10_000}]


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_a_failed_send_is_sent_again_by_a_later_sweep_and_delivered_once(
    pipeline: Pipeline, moto_endpoint: str
) -> None:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    real_queue = pipeline.c.queue
    unreachable = boto3.session.Session().client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there: refused
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5),
    )
    pipeline.c.use(queue=SqsQueue(unreachable, real_queue.url))  # type: ignore[attr-defined]

    pipeline.at(BIRTHDAY)
    summary = pipeline.sweep()
    assert (summary["claimed"], summary["enqueued"], summary["sendFailed"]) == (1, 0, 1)
    claimed = pipeline.event(event.id)
    assert claimed.status is Status.PROCESSING
    assert claimed.unsent  # known never to have reached SQS

    pipeline.c.use(queue=real_queue)
    pipeline.at(BIRTHDAY + timedelta(seconds=5))
    summary = pipeline.sweep()  # the next sweep sends it, without waiting for a lease
    assert (summary["requeued"], summary["enqueued"]) == (1, 1)
    assert pipeline.drain() == 1
    assert len(pipeline.sink.requests) == 1
    done = pipeline.event(event.id)
    assert (done.status, done.late) == (Status.COMPLETED, False)


def test_a_send_whose_reply_was_lost_is_not_delivered_twice(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    real_queue = pipeline.c.queue
    pipeline.c.use(queue=LostReplyQueue(real_queue))

    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["sendFailed"] == 1  # yet the message is in SQS, at version 2
    pipeline.c.use(queue=real_queue)
    pipeline.at(BIRTHDAY + timedelta(minutes=2))
    assert pipeline.sweep()["requeued"] == 1  # version 3, a second message

    assert pipeline.drain() == 2
    assert len(pipeline.sink.requests) == 1
    assert pipeline.event(event.id).status is Status.COMPLETED


def test_a_sweeper_that_dies_after_its_claim_commits_is_covered_by_the_lease(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    real_queue = pipeline.c.queue
    pipeline.c.use(queue=CrashingQueue())

    pipeline.at(BIRTHDAY)
    with pytest.raises(Crash):
        pipeline.sweep()
    assert pipeline.event(event.id).lease_until == BIRTHDAY + pipeline.c.settings.lease

    pipeline.c.use(queue=real_queue)
    pipeline.at(BIRTHDAY + pipeline.c.settings.lease - timedelta(seconds=1))
    assert pipeline.sweep()["requeued"] == 0
    pipeline.at(BIRTHDAY + pipeline.c.settings.lease)
    summary = pipeline.sweep()
    assert (summary["found"], summary["requeued"], summary["enqueued"]) == (1, 1, 1)
    assert summary["oldestLatenessSeconds"] == pipeline.c.settings.lease.total_seconds()
    assert pipeline.drain() == 1
    assert len(pipeline.sink.requests) == 1
    done = pipeline.event(event.id)
    assert (done.status, done.late, done.version) == (Status.COMPLETED, True, 4)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowQueue:
    """Each SQS call takes 20 s of the sweep's time budget (a throttled or distant endpoint)."""

    def __init__(self, inner: MemoryQueue, monotonic: FakeMonotonic) -> None:
        self.inner, self.monotonic, self.calls = inner, monotonic, 0

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        self.calls += 1
        self.monotonic.now += 20
        return self.inner.send_batch(bodies, delays)

    def depth(self) -> int:
        return self.inner.depth()


def unsent(db: Database) -> int:
    with tool_transaction(db) as tools:
        row = tools.one("SELECT count(*) AS n FROM events WHERE unsent")
    assert row is not None
    return int(row["n"])


def test_the_sweep_keeps_its_time_budget_within_one_send_call_and_the_rest_goes_next_run(
    db: Database,
) -> None:
    seed_due_birthdays(db, 100, BIRTHDAY, now=START)
    monotonic, inner = FakeMonotonic(), MemoryQueue()
    slow = SlowQueue(inner, monotonic)
    policy = SweepPolicy(lease=timedelta(minutes=15), time_budget=timedelta(seconds=50))

    first = sweep(db, FixedClock(BIRTHDAY), slow, policy, monotonic)  # type: ignore[arg-type]
    assert (slow.calls, first.claimed, first.enqueued, first.left_unsent) == (3, 100, 30, 70)
    assert first.budget_spent
    assert monotonic.now == 60  # 10 s past the budget: one call's worth, not seven
    assert unsent(db) == 70

    second = sweep(db, FixedClock(BIRTHDAY + timedelta(minutes=1)), inner, policy, monotonic)
    assert (second.requeued, second.enqueued, second.left_unsent) == (70, 70, 0)
    ids = [json.loads(body)["eventId"] for body in inner.bodies()]
    assert (len(ids), len(set(ids)), unsent(db)) == (100, 100, 0)


class RefusingQueue(MemoryQueue):
    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        return list(range(len(bodies)))


def test_refused_messages_are_sent_by_the_next_sweep_whatever_the_queue_holds(db: Database) -> None:
    seed_due_birthdays(db, 5, BIRTHDAY, now=START)
    policy = SweepPolicy(lease=timedelta(minutes=15))
    refused = sweep(db, FixedClock(BIRTHDAY), RefusingQueue(), policy)
    assert (refused.claimed, refused.send_failed, unsent(db)) == (5, 5, 5)

    queue = MemoryQueue()
    for n in range(10):  # messages for other events, stale or slow: the gate is shut
        queue.send(f"other {n}")
    again = sweep(db, FixedClock(BIRTHDAY + timedelta(seconds=5)), queue, policy)
    assert (again.requeued, again.enqueued, again.resend_allowance, unsent(db)) == (5, 5, 0, 0)
