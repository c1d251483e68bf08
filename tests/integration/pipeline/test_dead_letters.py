"""A permanent failure reaches the DLQ once, and only after FAILED is stored: neither a failing
PostgreSQL write nor a failing DLQ send leaves copies behind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.events import Event, Status
from chalicelib.ports import Queue, Received
from scripts.devstack.webhook_sink import Reply
from tests.integration.pipeline.conftest import attributes
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

REFUSE_FAILURE = """
CREATE FUNCTION refuse_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected fault: the update to FAILED fails'; END $$;
CREATE TRIGGER refuse_failure BEFORE UPDATE ON events
FOR EACH ROW WHEN (NEW.status = 'FAILED') EXECUTE FUNCTION refuse_failure();
"""


def due_birthday(pipeline: Pipeline) -> Event:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1
    return event


def dlq_depth(pipeline: Pipeline) -> int:
    settings = pipeline.c.settings
    found = attributes(settings.aws_endpoint_url or "", settings.dlq_url or "")
    return int(found["ApproximateNumberOfMessages"]) + int(found["ApproximateNumberOfMessagesNotVisible"])


def test_a_failure_whose_write_fails_sends_nothing_to_the_dlq_until_the_write_lands(
    pipeline: Pipeline,
) -> None:
    event = due_birthday(pipeline)
    with pipeline.c.db.transaction() as store:
        store.conn.execute(REFUSE_FAILURE.encode())
    pipeline.sink.script(Reply(400), Reply(400))

    assert pipeline.poll() == 1
    assert pipeline.event(event.id).status is Status.PROCESSING
    assert dlq_depth(pipeline) == 0  # nothing there while PostgreSQL does not say FAILED

    with pipeline.c.db.transaction() as store:
        store.conn.execute(b"DROP TRIGGER refuse_failure ON events")
    assert pipeline.poll() == 1  # the same message, back after its backoff
    assert pipeline.poll() == 0
    failed = pipeline.event(event.id)
    assert (failed.status, failed.failure_reason) == (Status.FAILED, "HTTP 400: Bad Request")
    assert dlq_depth(pipeline) == 1


@dataclass
class DlqFailingOnce:
    """The DLQ refuses its first send, then behaves."""

    inner: Queue
    refused: list[str] = field(default_factory=list)

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        return self.inner.send_batch(bodies)

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        if not self.refused:
            self.refused.append(body)
            raise ConnectionError("injected fault: the DLQ is unreachable")
        self.inner.send(body, attributes)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.inner.change_visibility(receipt_handle, seconds)

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        return self.inner.receive(max_messages, visibility_timeout)

    def delete(self, receipt_handle: str) -> None:
        self.inner.delete(receipt_handle)


def test_a_failure_whose_dlq_send_fails_comes_back_and_reaches_the_dlq_without_a_second_post(
    pipeline: Pipeline,
) -> None:
    pipeline.c.use(dlq=DlqFailingOnce(pipeline.c.dlq))
    event = due_birthday(pipeline)
    pipeline.sink.script(Reply(400))

    assert pipeline.poll() == 1
    assert pipeline.event(event.id).status is Status.FAILED  # stored before the DLQ was tried
    assert dlq_depth(pipeline) == 0

    pipeline.at(BIRTHDAY + timedelta(minutes=1))
    assert pipeline.poll() == 1  # back: its event is FAILED by this very message
    assert pipeline.poll() == 0
    assert dlq_depth(pipeline) == 1
    assert len(pipeline.sink.requests) == 1  # the 400-causing POST was not sent again
    assert pipeline.event(event.id).status is Status.FAILED
