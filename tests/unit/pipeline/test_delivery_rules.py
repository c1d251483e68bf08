from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.delivery import (
    SQS_MAX_VISIBILITY,
    Backoff,
    MalformedMessage,
    Message,
    Verdict,
    parse_retry_after,
    verdict_for_status,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.SUCCESS),
        (201, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (299, Verdict.SUCCESS),
        (408, Verdict.TRANSIENT),
        (425, Verdict.TRANSIENT),
        (429, Verdict.TRANSIENT),
        (500, Verdict.TRANSIENT),
        (502, Verdict.TRANSIENT),
        (503, Verdict.TRANSIENT),
        (599, Verdict.TRANSIENT),
        (301, Verdict.PERMANENT),
        (400, Verdict.PERMANENT),
        (401, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (410, Verdict.PERMANENT),
        (422, Verdict.PERMANENT),
    ],
)
def test_statuses_are_success_transient_or_permanent(status: int, verdict: Verdict) -> None:
    assert verdict_for_status(status) is verdict


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Mon, 02 Mar 2026 09:05:00 GMT", timedelta(minutes=5)),
        ("Mon, 02 Mar 2026 08:00:00 GMT", timedelta(0)),  # already past
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("1.5", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_backoff_doubles_from_the_base_with_equal_jitter_and_stops_at_the_cap() -> None:
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=15))
    rng = random.Random(7)
    for attempt, step in [(1, 10), (2, 20), (3, 40), (4, 80), (7, 640), (8, 900), (30, 900), (200, 900)]:
        for _ in range(50):
            delay = backoff.delay(attempt, rng=rng).total_seconds()
            assert step / 2 <= delay <= step


def test_backoff_honours_retry_after_but_never_beyond_what_sqs_allows() -> None:
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=15))
    assert backoff.delay(1, timedelta(minutes=5)) == timedelta(minutes=5)
    assert backoff.delay(1, timedelta(days=2)) == SQS_MAX_VISIBILITY
    assert backoff.delay(8, timedelta(seconds=1)) >= timedelta(seconds=450)  # the backoff wins


def test_a_zero_base_retries_at_once() -> None:
    assert Backoff(timedelta(0), timedelta(minutes=15)).delay(5) == timedelta(0)


def test_a_message_names_an_event_at_a_version_and_round_trips() -> None:
    message = Message(uuid.uuid4(), 3, "key-1")
    assert Message.decode(message.encode()) == message


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '{"eventId": "x", "version": 1, "idempotencyKey": "k"}',
        '{"eventId": "6f1c2d1e-4b7a-4f55-9f0e-5e7d3c9a1b20", "version": "1", "idempotencyKey": "k"}',
        '{"eventId": "6f1c2d1e-4b7a-4f55-9f0e-5e7d3c9a1b20", "version": true, "idempotencyKey": "k"}',
        '{"eventId": "6f1c2d1e-4b7a-4f55-9f0e-5e7d3c9a1b20", "version": 1}',
    ],
)
def test_anything_else_is_malformed(body: str) -> None:
    with pytest.raises(MalformedMessage):
        Message.decode(body)
