"""GET /overview (issue 24): the hours ahead and behind, lateness, the queues and the last sweep,
through the authorizer; every response held to the OpenAPI document (tests/contract.py).

Events are written in SQL in the states the pipeline leaves them, each at a chosen instant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.overview import QueueCounts
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryQueue
from tests.tokens import bearer, token_for

NOW = datetime(2026, 3, 1, 12, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)


class UnreadableQueue(MemoryQueue):
    def counts(self) -> QueueCounts:
        raise ConnectionError("SQS is unreachable")


@pytest.fixture
def wired(container: bootstrap.Container, clock: ManualClock) -> bootstrap.Container:
    clock.set(NOW)
    container.use(queue=MemoryQueue(clock), dlq=MemoryQueue(clock))
    return container


@pytest.fixture
def api(wired: bootstrap.Container, client: Client) -> Client:
    return client


def write(url: str, *events: dict[str, Any]) -> None:
    """Events of one user, each a dict of the columns that differ from a PENDING one due now."""
    user = uuid.uuid4()
    with psycopg.connect(url) as conn:
        conn.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)"
            b" VALUES (%s, 'Ada', 'Lovelace', '1990-03-01', 'UTC', %s, %s)",
            (user, NOW, NOW),
        )
        for n, given in enumerate(events):
            row = {"status": "PENDING", "target_utc": NOW, "updated_at": NOW - timedelta(days=1)} | given
            row = {
                "delivered_at": None,
                "late": False,
                "lease_until": None,
                "due_utc": row["target_utc"],
            } | row
            if row["status"] == "PROCESSING":
                row["lease_until"] = row["due_utc"] + timedelta(minutes=15)
            conn.execute(
                b"INSERT INTO events (id, user_id, event_type, occurrence_date, timezone, idempotency_key,"
                b" created_at, status, target_utc, due_utc, updated_at, delivered_at, late, lease_until)"
                b" VALUES (gen_random_uuid(), %(user)s, 'birthday', date '2026-01-01' + %(n)s, 'UTC',"
                b" gen_random_uuid()::text, %(created)s, %(status)s, %(target_utc)s, %(due_utc)s,"
                b" %(updated_at)s, %(delivered_at)s, %(late)s, %(lease_until)s)",
                {**row, "user": user, "n": n, "created": NOW - timedelta(days=2)},
            )


def completed(at: datetime, lateness: timedelta) -> dict[str, Any]:
    return {
        "status": "COMPLETED",
        "target_utc": at - lateness,
        "delivered_at": at,
        "updated_at": at,
        "late": lateness > timedelta(minutes=5),
    }


def test_the_hours_ahead_and_behind_lateness_and_the_last_sweep(
    api: Client, wired: bootstrap.Container, database_url: str, clock: ManualClock
) -> None:
    current = datetime(2026, 3, 1, 12, tzinfo=UTC)
    write(
        database_url,
        {"due_utc": NOW - timedelta(hours=3)},  # overdue: counted in the current hour
        {"due_utc": NOW + timedelta(minutes=5)},
        {"status": "PROCESSING", "due_utc": NOW + timedelta(minutes=1)},
        {"due_utc": current + 5 * HOUR},
        {"due_utc": current + 23 * HOUR + timedelta(minutes=59)},  # the last hour ahead
        {"due_utc": current + 24 * HOUR},  # beyond
        {"status": "CANCELLED", "due_utc": NOW + timedelta(minutes=5)},
        completed(NOW - timedelta(minutes=10), timedelta(seconds=1)),
        completed(NOW - timedelta(minutes=15), timedelta(seconds=3)),
        completed(NOW - 2 * HOUR, timedelta(minutes=20)),  # late
        completed(current - 23 * HOUR, timedelta(seconds=2)),  # the first hour behind
        completed(current - 23 * HOUR - timedelta(seconds=1), timedelta(seconds=100)),  # before it
        {"status": "FAILED", "target_utc": NOW - HOUR, "updated_at": NOW - timedelta(minutes=30)},
        {"status": "SKIPPED", "target_utc": NOW - 5 * HOUR, "updated_at": NOW - 5 * HOUR},
    )
    wired.sweeper.run()  # records its end: the clock's now
    clock.advance(timedelta(seconds=75))
    wired.queue.send_batch(["a", "b", "c"], [0, 0, 600])
    wired.queue.receive(1)
    wired.dlq.send("dead")

    body = api.http.get("/overview").json_body

    assert body["generatedAt"] == "2026-03-01T12:21:15Z"
    due = body["due"]
    assert [d["hour"] for d in due][:2] == ["2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z"]
    assert due[-1]["hour"] == "2026-03-02T11:00:00Z"
    counts = {d["hour"]: d["count"] for d in due if d["count"]}
    # The sweep claimed the overdue one (one message, visible); PENDING or PROCESSING, all due.
    assert counts == {"2026-03-01T12:00:00Z": 3, "2026-03-01T17:00:00Z": 1, "2026-03-02T11:00:00Z": 1}

    delivered = body["delivered"]
    assert (delivered[0]["hour"], delivered[-1]["hour"]) == ("2026-02-28T13:00:00Z", "2026-03-01T12:00:00Z")
    assert len(delivered) == 24
    filled = {d["hour"]: {k: v for k, v in d.items() if k != "hour"} for d in delivered if any(
        d[k] for k in ("completed", "failed", "skipped"))}  # fmt: skip
    assert filled == {
        "2026-02-28T13:00:00Z": {"completed": 1, "failed": 0, "skipped": 0, "late": 0},
        "2026-03-01T07:00:00Z": {"completed": 0, "failed": 0, "skipped": 1, "late": 0},
        "2026-03-01T10:00:00Z": {"completed": 1, "failed": 0, "skipped": 0, "late": 1},
        "2026-03-01T11:00:00Z": {"completed": 0, "failed": 1, "skipped": 0, "late": 0},
        "2026-03-01T12:00:00Z": {"completed": 2, "failed": 0, "skipped": 0, "late": 0},
    }
    # Nearest rank over 1, 2, 3 and 1,200 seconds: the 2nd and the 4th.
    assert body["lateness"] == {"count": 4, "p50Seconds": 2.0, "p99Seconds": 1200.0}
    # The sweep's message (received), a and b, and c held for ten minutes.
    assert body["queue"] == {"depth": 2, "inFlight": 1, "delayed": 1, "dlq": 1}
    assert body["queueError"] is None
    assert body["sweep"] == {"lastAt": "2026-03-01T12:20:00Z", "ageSeconds": 75}


def test_an_empty_scheduler_before_its_first_sweep(api: Client) -> None:
    body = api.http.get("/overview").json_body
    assert [d["count"] for d in body["due"]] == [0] * 24
    assert {(d["completed"], d["failed"], d["skipped"], d["late"]) for d in body["delivered"]} == {
        (0, 0, 0, 0)
    }
    assert body["lateness"] == {"count": 0, "p50Seconds": None, "p99Seconds": None}
    assert body["sweep"] == {"lastAt": None, "ageSeconds": None}


def test_a_queue_that_cannot_be_read_leaves_its_counts_null_and_says_why(
    api: Client, wired: bootstrap.Container
) -> None:
    wired.use(queue=UnreadableQueue(wired.clock))
    body = api.http.get("/overview").json_body
    assert body["queue"] == {"depth": None, "inFlight": None, "delayed": None, "dlq": 0}
    assert body["queueError"] == "the delivery queue could not be read: ConnectionError: SQS is unreachable"
    assert len(body["due"]) == 24  # the database's part is all there


def test_a_dead_letter_queue_the_api_is_not_configured_for_is_a_reason_not_a_failure(
    container: bootstrap.Container, clock: ManualClock, client: Client
) -> None:
    container.use(queue=MemoryQueue(clock))  # and no DLQ_URL
    response = client.http.get("/overview")
    assert response.status_code == 200
    assert response.json_body["queue"]["dlq"] is None
    assert response.json_body["queueError"] == (
        "the dead-letter queue could not be read: SettingsError: DLQ_URL is not set"
    )


def test_admin_and_service_tokens_read_it_a_user_token_does_not(api: Client) -> None:
    for role, status in (("service", 200), ("user", 403)):
        headers = bearer(token_for(role, str(uuid.uuid4()) if role == "user" else "svc"))
        assert api.http.get("/overview", headers=headers).status_code == status, role
    assert api.anonymous.get("/overview").status_code == 401


def test_a_sweep_that_finishes_after_a_newer_one_leaves_the_newer_ones_time(
    api: Client, wired: bootstrap.Container
) -> None:
    with wired.db.transaction() as store:
        store.record_sweep(NOW - timedelta(seconds=30), {"claimed": 2})
        store.record_sweep(NOW - timedelta(seconds=90), {"claimed": 1})  # began first, ended last
    assert api.http.get("/overview").json_body["sweep"] == {
        "lastAt": "2026-03-01T12:19:30Z",
        "ageSeconds": 30,
    }
