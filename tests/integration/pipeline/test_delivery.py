"""The happy path and its contract: one signed POST at the right minute, the next year queued."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from chalicelib.domain.events import Status
from tests.integration.pipeline.conftest import SECRET
from tests.integration.pipeline.support import Pipeline, verify_standard_webhook

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_due_birthday_is_delivered_once_signed_and_the_next_one_scheduled(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)

    pipeline.at(BIRTHDAY.replace(minute=0, second=59).replace(hour=8))
    assert pipeline.sweep()["claimed"] == 0
    pipeline.at(BIRTHDAY)
    summary = pipeline.sweep()
    assert (summary["found"], summary["claimed"], summary["enqueued"]) == (1, 1, 1)
    sent_after = int(time.time())
    assert pipeline.drain() == 1
    sent_before = time.time()

    [request] = pipeline.sink.requests
    assert request.json() == {
        "message": "Hey, Ada Lovelace it's your birthday",
        "eventId": str(event.id),
        "eventType": "birthday",
        "userId": str(user.id),
        "scheduledFor": "2026-03-02T09:00:00Z",
        "externalId": None,
        "metadata": None,
    }
    headers = request.headers
    assert headers["idempotency-key"] == headers["x-idempotency-key"] == headers["webhook-id"]
    assert headers["webhook-id"] == event.idempotency_key
    # Real time, not the pipeline's clock (BIRTHDAY): receivers judge it against their own.
    assert sent_after <= int(headers["webhook-timestamp"]) <= sent_before
    assert verify_standard_webhook(SECRET, headers, request.body)
    assert not verify_standard_webhook(SECRET, headers, request.body.replace(b"Ada", b"Bob"))

    done = pipeline.event(event.id)
    assert (done.status, done.delivered_at, done.late, done.attempts) == (
        Status.COMPLETED,
        BIRTHDAY,
        False,
        1,
    )
    following = pipeline.only(user.id, Status.PENDING)
    assert following.target_utc == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    [attempt] = pipeline.c.ledger.attempts_for_event(event.id)
    assert (attempt.outcome, attempt.status_code, attempt.attempt) == ("success", 200, 1)
    assert pipeline.c.ledger.find_successes([event.idempotency_key]).keys() == {event.idempotency_key}
