"""Leases follow the message, a message that arrives early waits without spending an attempt,
and `attempts` counts POSTs, not receives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User
from scripts.devstack.webhook_sink import Reply
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


def test_a_stale_message_does_not_touch_the_lease_of_the_events_newer_version(pipeline: Pipeline) -> None:
    user, event = claimed(pipeline)
    message = pipeline.c.queue.receive(1, 0)  # the claimed message, as a stale copy would be
    assert len(message) == 1
    pipeline.at(BIRTHDAY + timedelta(minutes=16))  # the lease ran out: the sweep re-sends it
    assert pipeline.sweep()["requeued"] == 1
    resent = pipeline.only(user.id, Status.PROCESSING)
    assert resent.version == event.version + 1

    pipeline.at(BIRTHDAY + timedelta(minutes=20))
    assert pipeline.drain() == 2  # the stale one dropped, the current one delivered
    assert len(pipeline.sink.requests) == 1
    done = pipeline.event(event.id)
    assert (done.status, done.version, done.attempts) == (Status.COMPLETED, resent.version + 1, 1)
