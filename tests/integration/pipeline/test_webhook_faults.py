"""The webhook misbehaves: transient failures and recovery, permanent failures, the DLQ, and a
2xx whose PostgreSQL update fails."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User
from scripts import dlq as dlq_script
from scripts.devstack.webhook_sink import Reply
from tests.integration.pipeline.conftest import attributes
from tests.integration.pipeline.support import Pipeline, RecordingQueue

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)


def due_birthday(pipeline: Pipeline) -> tuple[User, Event]:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1
    return user, event


def test_transient_failures_are_retried_with_one_key_until_one_delivery_succeeds(pipeline: Pipeline) -> None:
    recording = RecordingQueue(pipeline.c.queue)
    pipeline.c.use(queue=recording)
    user, event = due_birthday(pipeline)
    sink = pipeline.sink
    sink.script(
        Reply(500),
        Reply(503),
        Reply(429, headers={"Retry-After": "120"}),
        Reply(200, delay=1.5),  # answers after the sender's 0.5 s read timeout
    )
    for _ in range(3):
        assert pipeline.poll() == 1
    receipt, seconds = recording.visibility_changes[-1]
    assert seconds == 120  # Retry-After, over the (zero, in this test) backoff
    assert pipeline.poll() == 0  # SQS keeps it hidden meanwhile
    waiting = pipeline.event(event.id)
    assert waiting.status is Status.PROCESSING
    assert waiting.lease_until >= pipeline.clock.now() + timedelta(seconds=120) + pipeline.c.settings.lease
    recording.change_visibility(receipt, 0)  # as if the two minutes had passed

    assert pipeline.poll() == 1  # times out
    sink.stop()
    assert pipeline.poll() == 1  # connection refused
    sink.start()
    assert pipeline.poll() == 1  # 200
    assert pipeline.poll() == 0

    keys = {r.headers["idempotency-key"] for r in sink.requests}
    webhook_ids = {r.headers["webhook-id"] for r in sink.requests}
    assert len(sink.requests) == 5  # the refused attempt never arrived
    assert keys == webhook_ids == {event.idempotency_key}
    attempts = pipeline.c.ledger.attempts_for_event(event.id)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4, 5, 6]
    assert [a.outcome for a in attempts] == ["transient"] * 5 + ["success"]
    assert [a.status_code for a in attempts] == [500, 503, 429, None, None, 200]
    assert attempts[3].error is not None
    assert attempts[3].error.startswith("timeout")
    assert attempts[4].error is not None
    assert attempts[4].error.startswith("ConnectionRefusedError")
    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 6)
    assert pipeline.only(user.id, Status.PENDING).target_utc == NEXT_YEAR


def test_exhausted_attempts_fail_the_event_into_the_dlq_and_schedule_next_year(pipeline: Pipeline) -> None:
    pipeline.c.settings = replace(pipeline.c.settings, max_attempts=3)
    user, event = due_birthday(pipeline)
    pipeline.sink.script(Reply(500), Reply(502), Reply(504))
    assert pipeline.drain() == 3
    failed = pipeline.event(event.id)
    assert (failed.status, failed.attempts) == (Status.FAILED, 3)
    assert failed.failure_reason == "gave up after 3 attempts: HTTP 504: Gateway Timeout"
    dlq = attributes(pipeline.c.settings.aws_endpoint_url or "", pipeline.c.settings.dlq_url or "")
    assert dlq["ApproximateNumberOfMessages"] == "1"
    assert pipeline.only(user.id, Status.PENDING).target_utc == NEXT_YEAR


def test_a_400_fails_at_once_and_dlq_redrive_delivers_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user, event = due_birthday(pipeline)
    pipeline.sink.script(Reply(400))
    assert pipeline.drain() == 1
    failed = pipeline.event(event.id)
    assert (failed.status, failed.failure_reason) == (Status.FAILED, "HTTP 400: Bad Request")
    settings = pipeline.c.settings
    assert (
        attributes(settings.aws_endpoint_url or "", settings.queue_url or "")["ApproximateNumberOfMessages"]
        == "0"
    )
    assert pipeline.only(user.id, Status.PENDING).target_utc == NEXT_YEAR

    for name, value in {
        "DATABASE_URL": settings.database_url,
        "DLQ_URL": settings.dlq_url,
        "LEDGER_TABLE": settings.ledger_table,
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
    }.items():
        monkeypatch.setenv(name, value or "")
    capsys.readouterr()  # forget the worker's log lines
    assert dlq_script.main(["inspect"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    shown = json.loads(line)
    assert (shown["eventId"], shown["status"], shown["attempts"], shown["lastError"]) == (
        str(event.id),
        "FAILED",
        1,
        "HTTP 400",
    )
    assert shown["user"].startswith("Ada Lovelace")

    pipeline.at(BIRTHDAY + timedelta(hours=2))
    assert dlq_script.main(["redrive", "--event", str(event.id)], pipeline.clock) == 0
    assert "redriven" in capsys.readouterr().out
    assert (
        attributes(settings.aws_endpoint_url or "", settings.dlq_url or "")["ApproximateNumberOfMessages"]
        == "0"
    )
    again = pipeline.event(event.id)
    assert (again.status, again.due_utc) == (Status.PENDING, BIRTHDAY + timedelta(hours=2))

    assert pipeline.sweep()["claimed"] == 1
    assert pipeline.drain() == 1
    done = pipeline.event(event.id)
    assert (done.status, done.late) == (Status.COMPLETED, True)
    assert [r.headers["idempotency-key"] for r in pipeline.sink.requests] == [event.idempotency_key] * 2
    statuses = [(e.status, e.target_utc) for e in pipeline.events(user.id)]
    assert statuses == [(Status.COMPLETED, BIRTHDAY), (Status.PENDING, NEXT_YEAR)]


REFUSE_COMPLETION = """
CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected fault: the update to COMPLETED fails'; END $$;
CREATE TRIGGER refuse_completion BEFORE UPDATE ON events
FOR EACH ROW WHEN (NEW.status = 'COMPLETED') EXECUTE FUNCTION refuse_completion();
"""


def test_a_2xx_whose_database_update_fails_is_finalised_from_the_ledger_without_a_second_post(
    pipeline: Pipeline,
) -> None:
    user, event = due_birthday(pipeline)
    with pipeline.c.db.transaction() as store:
        store.conn.execute(REFUSE_COMPLETION.encode())

    assert pipeline.poll() == 1
    assert len(pipeline.sink.requests) == 1
    assert pipeline.event(event.id).status is Status.PROCESSING
    assert pipeline.c.ledger.find_successes([event.idempotency_key])

    with pipeline.c.db.transaction() as store:
        store.conn.execute(b"DROP TRIGGER refuse_completion ON events")
    pipeline.at(BIRTHDAY + timedelta(minutes=10))
    assert pipeline.poll() == 1  # the same message, back
    assert pipeline.poll() == 0
    assert len(pipeline.sink.requests) == 1
    done = pipeline.event(event.id)
    assert (done.status, done.delivered_at, done.late) == (Status.COMPLETED, BIRTHDAY, False)
    assert pipeline.only(user.id, Status.PENDING).target_utc == NEXT_YEAR
