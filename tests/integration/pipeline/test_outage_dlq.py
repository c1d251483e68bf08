"""A database outage during delivery sends nothing to the DLQ, and costs no delivery attempt.

Through the app's own handlers and container (behaviour, not the worker's insides): with the
event's database refusing connections (ALLOW_CONNECTIONS false, its sessions terminated: a real
outage of PostgreSQL for this database), the worker receives the same message from moto's SQS
MAX_ATTEMPTS + 2 times; the queue's redrive count (DLQ_MAX_RECEIVE_COUNT, what the CDK and
the local stack set) is above that, so nothing is dead-lettered. When the database is back,
the event is delivered once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from uuid import UUID

import psycopg
import pytest
from psycopg import conninfo, sql

from chalicelib.adapters.postgres import Database
from chalicelib.domain.events import Status
from chalicelib.settings import DLQ_MAX_RECEIVE_COUNT
from scripts.devstack.webhook_sink import Reply
from tests.conftest import PostgresServer
from tests.integration.pipeline.conftest import attributes, sqs_queue
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """Overrides conftest's: a short wait for a connection, so each receive during the outage
    gives up in half a second rather than the default five."""
    database = Database(database_url, max_size=4, timeout=0.5)
    yield database
    database.close()


class Outage:
    def __init__(self, pg_server: PostgresServer, database_url: str) -> None:
        self.admin_url = pg_server.admin_url
        self.name = conninfo.conninfo_to_dict(database_url)["dbname"]

    def _run(self, *statements: sql.Composable) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def start(self) -> None:
        self._run(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(self.name)),
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}"
                " AND pid <> pg_backend_pid()"
            ).format(sql.Literal(self.name)),
        )

    def end(self) -> None:
        self._run(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(self.name)))


@pytest.fixture
def outage(pg_server: PostgresServer, database_url: str) -> Iterator[Outage]:
    down = Outage(pg_server, database_url)
    yield down
    down.end()


def redrive_count(pipeline: Pipeline) -> int:
    s = pipeline.c.settings
    policy = attributes(str(s.aws_endpoint_url), str(s.queue_url))["RedrivePolicy"]
    return int(json.loads(policy)["maxReceiveCount"])


def dead_letters(pipeline: Pipeline) -> int:
    s = pipeline.c.settings
    return len(sqs_queue(str(s.aws_endpoint_url), str(s.dlq_url)).receive(10, 0))


def sweep_one(pipeline: Pipeline) -> tuple[str, str]:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    assert pipeline.sweep()["enqueued"] == 1
    return str(user.id), str(event.id)


def ride_out(pipeline: Pipeline, outage: Outage) -> int:
    """The database goes down; the worker handles the message MAX_ATTEMPTS + 2 times; the
    database comes back. Returns how many times it was handled."""
    receives = pipeline.c.settings.max_attempts + 2
    assert receives < DLQ_MAX_RECEIVE_COUNT == redrive_count(pipeline)
    outage.start()
    handled = 0
    while handled < receives:
        got = pipeline.poll()
        assert got == 1, f"the message left the queue after {handled} receives"
        handled += 1
    outage.end()
    return handled


def test_a_database_outage_sends_nothing_to_the_dlq_and_the_event_is_delivered_once_after(
    pipeline: Pipeline, outage: Outage
) -> None:
    user_id, event_id = sweep_one(pipeline)
    assert ride_out(pipeline, outage) > pipeline.c.settings.max_attempts
    assert pipeline.sink.requests == []  # nothing was posted while the event could not be read
    assert dead_letters(pipeline) == 0

    pipeline.drain()
    assert [r.json()["eventId"] for r in pipeline.sink.accepted()] == [event_id]
    assert len(pipeline.sink.requests) == 1
    done = pipeline.event(UUID(event_id))
    assert done.status is Status.COMPLETED
    assert dead_letters(pipeline) == 0
    assert pipeline.only(UUID(user_id), Status.PENDING).target_utc.year == 2027


def test_an_outage_spends_no_delivery_attempt(pipeline: Pipeline, outage: Outage) -> None:
    _, event_id = sweep_one(pipeline)
    ride_out(pipeline, outage)
    pipeline.sink.script(Reply(503))  # the first POST after the outage fails transiently
    pipeline.drain()
    done = pipeline.event(UUID(event_id))
    assert dead_letters(pipeline) == 0
    assert (done.status, done.attempts) == (Status.COMPLETED, 2)
