"""The user changes while the message waits in the queue: the old schedule sends nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.events import Status
from chalicelib.domain.users import UserFields
from chalicelib.services import users
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_user_deleted_while_the_message_waits_gets_nothing(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1

    users.delete_user(pipeline.c.db, pipeline.clock, user.id)
    assert pipeline.drain() == 1
    assert pipeline.sink.requests == []
    assert pipeline.event(event.id).status is Status.CANCELLED
    assert pipeline.c.ledger.attempts_for_event(event.id) == []


def test_a_user_who_moves_timezone_while_the_message_waits_is_delivered_at_the_new_time(
    pipeline: Pipeline,
) -> None:
    user = pipeline.user(date(1990, 3, 2), "Europe/London")
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1

    moved = users.change_user(
        pipeline.c.db,
        pipeline.clock,
        pipeline.c.builtins,
        user.id,
        lambda fields: replace(fields, timezone="America/New_York"),
    )
    assert moved.timezone == "America/New_York"
    assert pipeline.drain() == 1  # the message for 09:00 London is stale
    assert pipeline.sink.requests == []
    rescheduled = pipeline.event(event.id)
    new_time = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert (rescheduled.status, rescheduled.target_utc) == (Status.PENDING, new_time)

    pipeline.at(new_time - pipeline.c.settings.sweep_lookahead - timedelta(seconds=1))
    assert pipeline.sweep()["claimed"] == 0  # beyond the look-ahead
    pipeline.at(new_time)
    assert pipeline.sweep()["enqueued"] == 1
    assert pipeline.drain() == 1
    [request] = pipeline.sink.requests
    assert request.json()["scheduledFor"] == "2026-03-02T14:00:00Z"
    assert request.headers["idempotency-key"] == event.idempotency_key  # same occurrence, same key
    done = pipeline.event(event.id)
    assert (done.status, done.late, done.timezone) == (Status.COMPLETED, False, "America/New_York")


def test_the_webhook_carries_the_external_id_and_metadata_as_they_are_at_delivery(pipeline: Pipeline) -> None:
    """Set at creation, changed while the message waits: the receiver gets the new values, and
    the event was neither moved nor re-queued by the change."""
    fields = UserFields("Ada", "Lovelace", date(1990, 3, 2), "UTC", None, "crm-1", {"plan": "free"})
    user = users.create_user(pipeline.c.db, pipeline.clock, pipeline.c.builtins, fields)
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1

    metadata = {"plan": "pro", "channels": ["email", "push"], "locale": "en-GB", "score": 1.5}
    users.change_user(
        pipeline.c.db,
        pipeline.clock,
        pipeline.c.builtins,
        user.id,
        lambda current: replace(current, external_id="crm-42", metadata=metadata),
    )
    assert pipeline.only(user.id, Status.PROCESSING).version == pipeline.event(event.id).version
    assert pipeline.drain() == 1

    [request] = pipeline.sink.requests
    body = request.json()
    assert (body["externalId"], body["metadata"], body["userId"]) == ("crm-42", metadata, str(user.id))
    assert body["message"] == "Hey, Ada Lovelace it's your birthday"
    assert pipeline.event(event.id).status is Status.COMPLETED
