"""Leases follow the message, a message that arrives early waits without spending an attempt,
and `attempts` counts POSTs, not receives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from chalicelib.adapters.postgres import DatabaseUnavailable
from chalicelib.domain.delivery import Message
from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User
from chalicelib.ports import Attempt, Database, DeliveryLedger, Store
from scripts.devstack.store import tool_transaction
from scripts.devstack.webhook_sink import Reply
from tests.integration.pipeline.conftest import attributes
from tests.integration.pipeline.support import Pipeline, RecordingQueue

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def claimed(pipeline: Pipeline, at: datetime = BIRTHDAY) -> tuple[User, Event]:
    user = pipeline.user(date(1990, 3, 2))
    pipeline.at(at)
    assert pipeline.sweep()["enqueued"] == 1
    return user, pipeline.only(user.id, Status.PROCESSING)


def test_a_message_that_arrives_before_its_event_is_due_waits_the_seconds_left_without_an_attempt(
    pipeline: Pipeline,
) -> None:
    recording = RecordingQueue(pipeline.c.queue)
    pipeline.c.use(queue=recording)
    _, event = claimed(pipeline)
    pipeline.at(BIRTHDAY - timedelta(seconds=42, milliseconds=300))  # the worker's clock is behind

    assert pipeline.poll() == 1
    assert pipeline.sink.requests == []
    [(receipt, seconds)] = recording.visibility_changes
    assert seconds == 43  # the seconds left, rounded up: never early
    assert pipeline.poll() == 0  # hidden meanwhile, not deleted
    waiting = pipeline.event(event.id)
    assert (waiting.status, waiting.version, waiting.attempts) == (Status.PROCESSING, event.version, 0)
    assert waiting.lease_until >= BIRTHDAY + pipeline.c.settings.lease
    assert pipeline.c.ledger.attempts_for_event(event.id) == []

    pipeline.at(BIRTHDAY)
    recording.change_visibility(receipt, 0)  # as if the 43 seconds had passed
    assert pipeline.poll() == 1
    done = pipeline.event(event.id)
    assert (done.status, done.attempts, done.delivered_at) == (Status.COMPLETED, 1, BIRTHDAY)
    [attempt] = pipeline.c.ledger.attempts_for_event(event.id)
    assert attempt.attempt == 1


def test_a_received_message_extends_its_events_lease_at_the_same_version(pipeline: Pipeline) -> None:
    _, event = claimed(pipeline)
    assert event.lease_until == BIRTHDAY + pipeline.c.settings.lease
    received_at = BIRTHDAY + timedelta(minutes=12)  # waited in a backlog most of the lease
    pipeline.at(received_at)
    during_the_post: list[Event] = []
    sweeps: list[dict[str, object]] = []

    def meanwhile() -> None:
        during_the_post.append(pipeline.event(event.id))
        pipeline.at(BIRTHDAY + timedelta(minutes=16))  # past the claim's lease
        sweeps.append(pipeline.sweep())

    pipeline.sink.script(Reply(before=meanwhile))
    assert pipeline.poll() == 1
    [seen] = during_the_post
    assert (seen.status, seen.version) == (Status.PROCESSING, event.version)
    assert seen.lease_until == received_at + pipeline.c.settings.lease
    [sweep] = sweeps
    assert (sweep["claimed"], sweep["requeued"]) == (0, 0)  # nothing re-sent while it is worked on
    assert pipeline.event(event.id).status is Status.COMPLETED
    assert pipeline.drain() == 0
    assert len(pipeline.sink.requests) == 1


def test_a_lease_moves_only_for_the_current_version_only_later_and_never_waits_on_a_held_row(
    pipeline: Pipeline,
) -> None:
    _, event = claimed(pipeline)
    current = Message(event.id, event.version, event.idempotency_key)
    stale = Message(event.id, event.version - 1, event.idempotency_key)
    held = event.lease_until
    assert held is not None
    later = held + timedelta(minutes=30)

    def lease() -> datetime | None:
        return pipeline.event(event.id).lease_until

    with pipeline.c.db.transaction() as store:
        store.extend_leases([(stale, later)])
    assert lease() == held
    with pipeline.c.db.transaction() as store:
        store.extend_leases([(current, held - timedelta(minutes=1))])
    assert lease() == held  # never shortened
    with tool_transaction(pipeline.c.db) as holder:
        lock = "SELECT id FROM events WHERE id = %(id)s FOR UPDATE"
        holder.one(lock, {"id": event.id})
        with pipeline.c.db.transaction() as store:  # a second connection: skips, does not wait
            store.extend_leases([(current, later)])
    assert lease() == held
    with pipeline.c.db.transaction() as store:
        store.extend_leases([(current, later)])
    after = pipeline.event(event.id)
    assert (after.lease_until, after.version, after.status) == (later, event.version, Status.PROCESSING)


class Outage:
    """The real database, or none at all while `down` (every new transaction is refused, as
    when PostgreSQL or its proxy cannot be reached)."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.down = False

    def transaction(self) -> AbstractContextManager[Store]:
        if self.down:
            raise DatabaseUnavailable("connection refused (an injected outage)")
        return self.inner.transaction()

    def ping(self) -> bool:
        return not self.down and self.inner.ping()


class LedgerOutage:
    """The real ledger, unreachable while `down`."""

    def __init__(self, inner: DeliveryLedger) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("DynamoDB is unreachable (an injected outage)")

    def record_attempt(self, attempt: Attempt) -> None:
        self._check()
        self.inner.record_attempt(attempt)

    def record_success(self, attempt: Attempt) -> bool:
        self._check()
        return self.inner.record_success(attempt)

    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        self._check()
        return self.inner.find_successes(keys)

    def attempts_for_event(self, event_id: UUID) -> list[Attempt]:
        return self.inner.attempts_for_event(event_id)


def emitted(out: str, name: str) -> list[float]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [value for d in documents if "_aws" in d for value in d.get(name, [])]


def logged(out: str, message: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in documents if d.get("message") == message]


def test_receives_that_end_in_a_database_outage_spend_no_attempt_and_count_as_unprocessed(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    outage = Outage(pipeline.c.db)
    pipeline.c.use(db=outage)
    _, event = claimed(pipeline)
    capsys.readouterr()
    outage.down = True
    for _ in range(3):  # the backoff is zero in these tests: each comes straight back
        assert pipeline.poll() == 1
    assert pipeline.sink.requests == []
    out = capsys.readouterr().out
    assert emitted(out, "Unprocessed") == [1.0, 1.0, 1.0]
    errors = logged(out, "event unprocessed")
    assert [(e["receives"], e["eventId"]) for e in errors] == [(n, str(event.id)) for n in (1, 2, 3)]

    outage.down = False
    pipeline.sink.script(Reply(503))
    assert pipeline.poll() == 1  # the fourth receive, the first POST
    assert pipeline.event(event.id).attempts == 1
    assert pipeline.poll() == 1  # the second POST: 200
    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 2)
    assert [a.attempt for a in pipeline.c.ledger.attempts_for_event(event.id)] == [1, 2]
    assert emitted(capsys.readouterr().out, "Unprocessed") == []


def test_a_long_outage_never_spends_the_attempts_of_a_webhook_it_did_not_call(pipeline: Pipeline) -> None:
    outage = Outage(pipeline.c.db)
    pipeline.c.use(db=outage)
    _, event = claimed(pipeline)
    outage.down = True
    for _ in range(pipeline.c.settings.max_attempts + 2):
        assert pipeline.poll() == 1
    outage.down = False
    assert pipeline.drain() == 1
    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 1)
    settings = pipeline.c.settings
    dlq = attributes(settings.aws_endpoint_url or "", settings.dlq_url or "")
    assert dlq["ApproximateNumberOfMessages"] == "0"


def test_a_ledger_outage_posts_nothing_spends_no_attempt_and_counts_as_unprocessed(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = LedgerOutage(pipeline.c.ledger)
    pipeline.c.use(ledger=ledger)
    _, event = claimed(pipeline)
    capsys.readouterr()
    ledger.down = True
    assert pipeline.poll() == 1
    assert pipeline.sink.requests == []
    assert emitted(capsys.readouterr().out, "Unprocessed") == [1.0]
    waiting = pipeline.event(event.id)
    assert (waiting.status, waiting.attempts) == (Status.PROCESSING, 0)

    ledger.down = False
    assert pipeline.poll() == 1
    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 1)
    assert [a.attempt for a in pipeline.c.ledger.attempts_for_event(event.id)] == [1]
