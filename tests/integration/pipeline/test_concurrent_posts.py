"""A batch's webhooks go out at once, a bounded number at a time, each guarantee kept: one
success per key, the ledger before PostgreSQL, partial batch failures, retries through
visibility. (The pipeline fixture's WEBHOOK_CONCURRENCY is CONCURRENCY, above 1.)"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.events import Status
from chalicelib.domain.users import User
from scripts.devstack.webhook_sink import Reply
from tests.integration.pipeline.conftest import CONCURRENCY, attributes
from tests.integration.pipeline.support import Pipeline, RecordingQueue

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class InFlight:
    """Holds each request until `parties` are in flight together (a barrier the receiver
    waits on), and remembers the most that ever were. One at a time never gets past it."""

    parties: int
    peak: int = 0
    now: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.barrier = threading.Barrier(self.parties, timeout=20)

    def wait(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            self.barrier.wait()
        finally:
            with self.lock:
                self.now -= 1


def due_users(pipeline: Pipeline, names: list[str]) -> dict[str, User]:
    made = {name: pipeline.user(date(1990, 3, 2), first=name) for name in names}
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == len(names)
    return made


def test_a_batchs_posts_are_in_flight_together_but_never_more_than_the_concurrency(
    pipeline: Pipeline,
) -> None:
    # A read timeout far beyond the barrier's wait: only concurrency gets the batch through.
    pipeline.c.settings = replace(pipeline.c.settings, webhook_read_timeout=30)
    names = [f"User{i}" for i in range(2 * CONCURRENCY)]
    made = due_users(pipeline, names)
    in_flight = InFlight(CONCURRENCY)
    pipeline.sink.decide = lambda headers, body: Reply(before=in_flight.wait)

    assert pipeline.poll() == 2 * CONCURRENCY  # one batch
    assert in_flight.peak == CONCURRENCY
    assert pipeline.poll() == 0
    assert len(pipeline.sink.requests) == 2 * CONCURRENCY
    assert len({r.headers["idempotency-key"] for r in pipeline.sink.requests}) == 2 * CONCURRENCY
    for user in made.values():
        done = pipeline.only(user.id, Status.COMPLETED)
        assert done.attempts == 1


def test_one_batch_with_successes_retries_and_a_permanent_failure_reports_only_the_retries(
    pipeline: Pipeline,
) -> None:
    recording = RecordingQueue(pipeline.c.queue)
    pipeline.c.use(queue=recording)
    names = ["Fine", "Also", "Busy", "Slow", "Wrong", "Third"]
    made = due_users(pipeline, names)
    replies = {"Busy": Reply(503), "Slow": Reply(429, headers={"Retry-After": "60"}), "Wrong": Reply(400)}

    def by_name(headers: dict[str, str], body: bytes) -> Reply:
        return next((reply for name, reply in replies.items() if name.encode() in body), Reply())

    pipeline.sink.decide = by_name
    assert pipeline.poll() == 6
    states = {name: pipeline.events(u.id)[0] for name, u in made.items()}
    assert {n: e.status for n, e in states.items()} == {
        "Fine": Status.COMPLETED,
        "Also": Status.COMPLETED,
        "Third": Status.COMPLETED,
        "Busy": Status.PROCESSING,
        "Slow": Status.PROCESSING,
        "Wrong": Status.FAILED,
    }
    assert {n: e.attempts for n, e in states.items()} == dict.fromkeys(names, 1)
    assert sorted(seconds for _, seconds in recording.visibility_changes) == [0, 60]
    settings = pipeline.c.settings
    dlq = attributes(settings.aws_endpoint_url or "", settings.dlq_url or "")
    assert dlq["ApproximateNumberOfMessages"] == "1"

    replies.clear()  # the receiver is well again
    [(slow_receipt, _)] = [(r, s) for r, s in recording.visibility_changes if s == 60]
    recording.change_visibility(slow_receipt, 0)  # as if the minute had passed
    assert pipeline.drain() == 2  # only the two retries came back
    for name in ("Busy", "Slow"):
        done = pipeline.only(made[name].id, Status.COMPLETED)
        assert done.attempts == 2
    keys = [r.headers["idempotency-key"] for r in pipeline.sink.requests]
    assert len(keys) == 8
    assert len(set(keys)) == 6
    accepted = [r.headers["idempotency-key"] for r in pipeline.sink.accepted()]
    assert sorted(accepted) == sorted(set(accepted)), "one success per key"
    for user in made.values():
        assert pipeline.only(user.id, Status.PENDING).target_utc == NEXT_YEAR


REFUSE_COMPLETION = """
CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected fault: the update to COMPLETED fails'; END $$;
CREATE TRIGGER refuse_completion BEFORE UPDATE ON events
FOR EACH ROW WHEN (NEW.status = 'COMPLETED') EXECUTE FUNCTION refuse_completion();
"""


def test_each_success_is_in_the_ledger_the_moment_its_2xx_arrives(pipeline: Pipeline) -> None:
    pipeline.c.settings = replace(pipeline.c.settings, webhook_read_timeout=30)
    due_users(pipeline, [f"User{i}" for i in range(CONCURRENCY)])
    first: list[str] = []
    seen: list[bool] = []

    def first_success_is_in_the_ledger() -> None:
        for _ in range(200):  # up to ~10 s: it shows at once, or only after the whole batch
            if pipeline.c.ledger.find_successes(first):
                seen.append(True)
                return
            threading.Event().wait(0.05)
        seen.append(False)

    def decide(headers: dict[str, str], body: bytes) -> Reply:
        if not first:
            first.append(headers["idempotency-key"])
            return Reply()
        return Reply(before=first_success_is_in_the_ledger)

    pipeline.sink.decide = decide
    assert pipeline.poll() == CONCURRENCY
    assert seen == [True] * (CONCURRENCY - 1)


def test_successes_whose_postgresql_update_fails_are_finalised_from_the_ledger_without_a_second_post(
    pipeline: Pipeline,
) -> None:
    made = due_users(pipeline, [f"User{i}" for i in range(6)])
    events = [pipeline.only(u.id, Status.PROCESSING) for u in made.values()]
    with pipeline.c.db.transaction() as store:
        store.conn.execute(REFUSE_COMPLETION.encode())

    assert pipeline.poll() == 6
    assert len(pipeline.sink.requests) == 6
    keys = [e.idempotency_key for e in events]
    assert set(pipeline.c.ledger.find_successes(keys)) == set(keys)
    assert all(pipeline.event(e.id).status is Status.PROCESSING for e in events)

    with pipeline.c.db.transaction() as store:
        store.conn.execute(b"DROP TRIGGER refuse_completion ON events")
    pipeline.at(BIRTHDAY + timedelta(minutes=10))
    assert pipeline.drain() == 6  # the same messages, back after the queue's visibility
    assert len(pipeline.sink.requests) == 6
    for event in events:
        done = pipeline.event(event.id)
        assert (done.status, done.delivered_at, done.attempts) == (Status.COMPLETED, BIRTHDAY, 1)
