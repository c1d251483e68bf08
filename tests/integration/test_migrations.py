"""Migrating an empty database gives the expected schema; twice is a no-op; down then up works."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chalicelib.adapters import migrations
from chalicelib.domain.events import audience_key
from scripts.devstack import migrations as schema_tools
from tests.conftest import PostgresServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

EXPECTED_COLUMNS = {
    "users": {
        "id": ("uuid", "NO"),
        "first_name": ("text", "NO"),
        "last_name": ("text", "NO"),
        "date_of_birth": ("date", "NO"),
        "anniversary_date": ("date", "YES"),
        "timezone": ("text", "NO"),
        "created_at": ("timestamp with time zone", "NO"),
        "updated_at": ("timestamp with time zone", "NO"),
        "deleted_at": ("timestamp with time zone", "YES"),
        "external_id": ("text", "YES"),
        "metadata": ("jsonb", "YES"),
        "managed_by_import": ("boolean", "NO"),
    },
    "events": {
        "id": ("uuid", "NO"),
        "user_id": ("uuid", "NO"),
        "event_type": ("text", "NO"),
        "occurrence_date": ("date", "NO"),
        "target_utc": ("timestamp with time zone", "NO"),
        "due_utc": ("timestamp with time zone", "NO"),
        "timezone": ("text", "NO"),
        "idempotency_key": ("text", "NO"),
        "status": ("text", "NO"),
        "version": ("integer", "NO"),
        "attempts": ("integer", "NO"),
        "lease_until": ("timestamp with time zone", "YES"),
        "delivered_at": ("timestamp with time zone", "YES"),
        "late": ("boolean", "NO"),
        "failure_reason": ("text", "YES"),
        "created_at": ("timestamp with time zone", "NO"),
        "updated_at": ("timestamp with time zone", "NO"),
        "schedule_id": ("uuid", "YES"),
        "unsent": ("boolean", "NO"),
    },
    "schedules": {
        "id": ("uuid", "NO"),
        "user_id": ("uuid", "YES"),
        "event_type": ("text", "NO"),
        "payload": ("jsonb", "NO"),
        "start_date": ("date", "NO"),
        "local_time": ("time without time zone", "NO"),
        "timezone": ("text", "YES"),
        "recurrence": ("text", "YES"),
        "invalid_date": ("text", "NO"),
        "dst_gap": ("text", "NO"),
        "dst_overlap": ("text", "NO"),
        "status": ("text", "NO"),
        "paused_at": ("timestamp with time zone", "YES"),
        "version": ("integer", "NO"),
        "created_at": ("timestamp with time zone", "NO"),
        "updated_at": ("timestamp with time zone", "NO"),
        "deleted_at": ("timestamp with time zone", "YES"),
        "audience": ("jsonb", "YES"),
    },
    "audience_progress": {
        "schedule_id": ("uuid", "NO"),
        "timezone": ("text", "NO"),
        "through": ("timestamp with time zone", "NO"),
        "local_date": ("date", "YES"),
        "target_utc": ("timestamp with time zone", "YES"),
        "after_user": ("uuid", "YES"),
        "updated_at": ("timestamp with time zone", "NO"),
    },
    "idempotency_keys": {
        "caller": ("text", "NO"),
        "idempotency_key": ("text", "NO"),
        "fingerprint": ("text", "NO"),
        "created_at": ("timestamp with time zone", "NO"),
        "response_status": ("integer", "YES"),
        "response_headers": ("jsonb", "YES"),
        "response_body": ("text", "YES"),
    },
    "endpoints": {
        "id": ("uuid", "NO"),
        "destination": ("jsonb", "NO"),
        "event_types": ("ARRAY", "YES"),
        "description": ("text", "NO"),
        "rate_limit": ("integer", "YES"),
        "secrets": ("jsonb", "NO"),
        "enabled": ("boolean", "NO"),
        "failing_since": ("timestamp with time zone", "YES"),
        "disabled_at": ("timestamp with time zone", "YES"),
        "version": ("integer", "NO"),
        "created_at": ("timestamp with time zone", "NO"),
        "updated_at": ("timestamp with time zone", "NO"),
        "deleted_at": ("timestamp with time zone", "YES"),
    },
    "endpoint_rates": {
        "endpoint_id": ("uuid", "NO"),
        "tat": ("timestamp with time zone", "NO"),
    },
    "last_sweep": {
        "one": ("boolean", "NO"),
        "finished_at": ("timestamp with time zone", "NO"),
        "summary": ("jsonb", "NO"),
    },
    "schema_migrations": {
        "version": ("integer", "NO"),
        "name": ("text", "NO"),
        "applied_at": ("timestamp with time zone", "NO"),
    },
}


@pytest.fixture
def empty_url(pg_server: PostgresServer) -> Iterator[str]:
    """A database with nothing in it, not even the migrations table."""
    name = f"es_empty_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name)
    pg_server.drop(name)


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode(), params or None).fetchall()


def tables(url: str) -> set[str]:
    return {r[0] for r in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def columns(url: str, table: str) -> dict[str, tuple[str, str]]:
    found = rows(
        url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s",
        table,
    )
    return {name: (kind, nullable) for name, kind, nullable in found}


def constraints(url: str, table: str) -> dict[str, tuple[str, str]]:
    found = rows(
        url,
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
        table,
    )
    return {name: (kind, definition) for name, kind, definition in found}


def indexes(url: str, table: str) -> dict[str, str]:
    found = rows(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", table)
    return dict(found)


def test_migrating_an_empty_database_gives_the_expected_schema(empty_url: str) -> None:
    applied = migrations.upgrade(empty_url)
    assert [(m.version, m.name) for m in applied] == [(m.version, m.name) for m in migrations.available()]
    assert tables(empty_url) == set(EXPECTED_COLUMNS)
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns(empty_url, table) == expected, table

    events = constraints(empty_url, "events")
    unique = indexes(empty_url, "events")
    # One live event per occurrence: a CANCELLED one takes no date (a paused schedule's).
    live = "AND (status <> 'CANCELLED'::text))"
    assert unique["events_one_per_occurrence"].endswith(
        f"(user_id, event_type, occurrence_date) WHERE ((schedule_id IS NULL) {live}"
    )
    assert unique["events_one_per_schedule_occurrence"].endswith(
        f"(schedule_id, user_id, occurrence_date) WHERE ((schedule_id IS NOT NULL) {live}"
    )
    assert unique["events_idempotency_key_key"].endswith(
        "(idempotency_key) WHERE (status <> 'CANCELLED'::text)"
    )
    assert all(unique[n].startswith("CREATE UNIQUE INDEX") for n in ("events_one_per_occurrence",
               "events_one_per_schedule_occurrence", "events_idempotency_key_key"))  # fmt: skip
    kind, status_check = events["events_status_check"]
    assert kind == "c"
    for status in ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED"):
        assert f"'{status}'" in status_check
    assert events["events_lease_check"][0] == "c"
    assert events["events_user_id_fkey"] == ("f", "FOREIGN KEY (user_id) REFERENCES users(id)")
    assert events["events_pkey"] == ("p", "PRIMARY KEY (id)")
    assert constraints(empty_url, "users")["users_pkey"] == ("p", "PRIMARY KEY (id)")

    pending_due = indexes(empty_url, "events")["events_pending_due"]
    assert "(due_utc)" in pending_due
    assert "WHERE (status = 'PENDING'::text)" in pending_due


def test_0002_adds_external_ids_and_the_event_search_indexes_and_its_down_step_removes_them(
    empty_url: str,
) -> None:
    migrations.upgrade(empty_url, target=2)
    external = indexes(empty_url, "users")["users_external_id_live"]
    assert external.startswith(
        "CREATE UNIQUE INDEX users_external_id_live ON public.users USING btree (external_id)"
    )
    assert "WHERE ((deleted_at IS NULL) AND (external_id IS NOT NULL))" in external
    found = indexes(empty_url, "events")
    assert "(target_utc, id)" in found["events_target"]
    assert "(status, target_utc, id)" in found["events_status_target"]
    assert "WHERE late" in found["events_late_target"]
    users = constraints(empty_url, "users")
    assert "char_length(external_id)" in users["users_external_id_check"][1]
    assert "jsonb_typeof(metadata)" in users["users_metadata_check"][1]

    [reverted] = schema_tools.downgrade(empty_url)
    assert (reverted.version, reverted.name) == (2, "external_ids_and_event_search")
    columns_then = {
        k: v
        for k, v in EXPECTED_COLUMNS["users"].items()
        if k not in ("external_id", "metadata", "managed_by_import")
    }
    assert columns(empty_url, "users") == columns_then
    assert "users_external_id_live" not in indexes(empty_url, "users")
    assert set(indexes(empty_url, "events")) == {
        "events_pkey",
        "events_one_per_occurrence",
        "events_idempotency_key_key",
        "events_pending_due",
        "events_processing_lease",
        "events_user",
    }
    migrations.upgrade(empty_url)
    assert columns(empty_url, "users") == EXPECTED_COLUMNS["users"]


def test_0003_marks_no_existing_user_as_the_imports_and_its_down_step_drops_the_mark(empty_url: str) -> None:
    """Users from before it may have set their own externalId: none is the import's to update."""
    migrations.upgrade(empty_url, target=2)
    with psycopg.connect(empty_url) as conn:
        conn.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, external_id,"
            b" created_at, updated_at) VALUES (gen_random_uuid(), 'Ada', 'Lovelace', '1990-12-10',"
            b" 'UTC', 'crm-1', now(), now())"
        )
    [applied] = migrations.upgrade(empty_url, target=3)
    assert (applied.version, applied.name) == (3, "import_provenance")
    assert rows(empty_url, "SELECT external_id, managed_by_import FROM users") == [("crm-1", False)]

    [reverted] = schema_tools.downgrade(empty_url)
    assert reverted.version == 3
    assert "managed_by_import" not in columns(empty_url, "users")
    assert rows(empty_url, "SELECT external_id FROM users") == [("crm-1",)]
    migrations.upgrade(empty_url)
    assert columns(empty_url, "users") == EXPECTED_COLUMNS["users"]


def test_0004_keeps_every_event_and_key_and_its_down_step_removes_schedules_and_their_events(
    empty_url: str,
) -> None:
    migrations.upgrade(empty_url, target=3)
    with psycopg.connect(empty_url) as conn:
        conn.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)"
            b" VALUES ('00000000-0000-0000-0000-000000000001', 'Ada', 'Lovelace', '1990-12-10', 'UTC',"
            b" now(), now())"
        )
        for day, status in (("2025-12-10", "COMPLETED"), ("2026-12-10", "PENDING")):
            conn.execute(
                b"INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc,"
                b" timezone, idempotency_key, status, created_at, updated_at) VALUES (gen_random_uuid(),"
                b" '00000000-0000-0000-0000-000000000001', 'birthday', %s, %s::date + time '09:00',"
                b" %s::date + time '09:00', 'UTC', 'key-' || %s, %s, now(), now())",
                (day, day, day, day, status),
            )
    before = rows(empty_url, "SELECT id, idempotency_key, status FROM events ORDER BY occurrence_date")
    [applied] = migrations.upgrade(empty_url, target=4)
    assert (applied.version, applied.name) == (4, "schedules")
    assert (
        rows(empty_url, "SELECT id, idempotency_key, status FROM events ORDER BY occurrence_date") == before
    )
    with psycopg.connect(empty_url) as conn:  # a schedule's event, and a cancelled twin of a key
        conn.execute(
            b"INSERT INTO schedules (id, user_id, event_type, payload, start_date, local_time,"
            b" invalid_date, dst_gap, dst_overlap, status, version, created_at, updated_at) VALUES"
            b" ('00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-000000000001', 'digest',"
            b" '{}', '2026-01-01', '08:00', 'omit', 'shift', 'first', 'active', 1, now(), now())"
        )
        conn.execute(
            b"INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,"
            b" idempotency_key, status, created_at, updated_at, schedule_id) SELECT gen_random_uuid(),"
            b" user_id, 'digest', occurrence_date, target_utc, due_utc, timezone, 'digest-key', 'PENDING',"
            b" now(), now(), '00000000-0000-0000-0000-0000000000aa' FROM events LIMIT 1"
        )
        conn.execute(
            b"INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,"
            b" idempotency_key, status, created_at, updated_at) SELECT gen_random_uuid(), user_id,"
            b" event_type, occurrence_date, target_utc, due_utc, timezone, idempotency_key, 'CANCELLED',"
            b" now(), now() FROM events WHERE status = 'PENDING' AND schedule_id IS NULL"
        )
    [reverted] = schema_tools.downgrade(empty_url)
    assert reverted.version == 4
    assert "schedules" not in tables(empty_url)
    assert (
        rows(empty_url, "SELECT id, idempotency_key, status FROM events ORDER BY occurrence_date") == before
    )
    assert constraints(empty_url, "events")["events_idempotency_key_key"] == ("u", "UNIQUE (idempotency_key)")
    migrations.upgrade(empty_url)
    assert columns(empty_url, "events") == EXPECTED_COLUMNS["events"]


def test_0005_adds_the_idempotency_keys_and_its_down_step_drops_them(empty_url: str) -> None:
    migrations.upgrade(empty_url, target=5)
    keys = constraints(empty_url, "idempotency_keys")
    assert keys["idempotency_keys_pkey"] == ("p", "PRIMARY KEY (caller, idempotency_key)")
    assert "char_length(idempotency_key)" in keys["idempotency_keys_idempotency_key_check"][1]
    assert keys["idempotency_keys_response_whole"][0] == "c"
    assert "(created_at)" in indexes(empty_url, "idempotency_keys")["idempotency_keys_created"]
    with psycopg.connect(empty_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(  # an answer is kept whole or not at all
            b"INSERT INTO idempotency_keys VALUES ('sub', 'k', 'f', now(), 201, NULL, '{}')"
        )

    [reverted] = schema_tools.downgrade(empty_url)
    assert (reverted.version, reverted.name) == (5, "idempotency_keys")
    assert "idempotency_keys" not in tables(empty_url)
    migrations.upgrade(empty_url)
    assert columns(empty_url, "idempotency_keys") == EXPECTED_COLUMNS["idempotency_keys"]


def test_0007_adds_audience_schedules_and_its_down_step_drops_them_and_their_events(empty_url: str) -> None:
    migrations.upgrade(empty_url, target=7)
    with psycopg.connect(empty_url) as conn:
        conn.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)"
            b" VALUES ('00000000-0000-4000-8000-000000000001', 'A', 'B', '1990-01-01', 'UTC', now(), now())"
        )
        conn.execute(
            b"INSERT INTO schedules (id, user_id, event_type, payload, start_date, local_time, invalid_date,"
            b" dst_gap, dst_overlap, status, version, created_at, updated_at, audience)"
            b" VALUES ('00000000-0000-4000-8000-00000000000a', NULL, 'news', '{}', '2026-01-01', '09:00',"
            b" 'omit', 'shift', 'first', 'active', 1, now(), now(), '{\"all\": true}')"
        )
        conn.execute(
            b"INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,"
            b" idempotency_key, status, created_at, updated_at, schedule_id)"
            b" VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'news', '2026-01-02',"
            b" now(), now(), 'UTC', 'k', 'PENDING', now(), now(), '00000000-0000-4000-8000-00000000000a')"
        )
        with pytest.raises(psycopg.errors.CheckViolation):  # a schedule has a user or an audience
            conn.execute(
                b"INSERT INTO schedules (id, user_id, event_type, payload, start_date, local_time,"
                b" invalid_date, dst_gap, dst_overlap, status, version, created_at, updated_at)"
                b" VALUES (gen_random_uuid(), NULL, 'news', '{}', '2026-01-01', '09:00', 'omit', 'shift',"
                b" 'first', 'active', 1, now(), now())"
            )
    assert "users_zone" in indexes(empty_url, "users")
    assert "jsonb_path_ops" in indexes(empty_url, "users")["users_metadata"]

    [reverted] = schema_tools.downgrade(empty_url)
    assert (reverted.version, reverted.name) == (7, "audience_schedules")
    assert "audience_progress" not in tables(empty_url)
    assert rows(empty_url, "SELECT count(*) FROM events") == [(0,)]
    assert columns(empty_url, "schedules")["user_id"] == ("uuid", "NO")
    migrations.upgrade(empty_url)
    assert columns(empty_url, "schedules") == EXPECTED_COLUMNS["schedules"]


def processing_events_under_0005(url: str, leases: dict[str, str]) -> None:
    """A user and one PROCESSING birthday per date, with the lease given (0005's schema)."""
    migrations.upgrade(url, target=5)
    with psycopg.connect(url) as conn:
        conn.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)"
            b" VALUES ('00000000-0000-0000-0000-000000000001', 'Ada', 'Lovelace', '1990-12-10', 'UTC',"
            b" now(), now())"
        )
        for day, lease in leases.items():
            conn.execute(
                b"INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc,"
                b" timezone, idempotency_key, status, lease_until, created_at, updated_at) VALUES"
                b" (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'birthday', %s,"
                b" %s::date + time '09:00', %s::date + time '09:00', 'UTC', 'key-' || %s, 'PROCESSING',"
                b" %s, now(), now())",
                (day, day, day, day, lease),
            )


def test_0006_makes_the_unsent_marker_a_column_and_its_down_step_restores_the_marker(
    empty_url: str,
) -> None:
    """Claims that a lease of 1970-01-01 marked unsent stay unsent, with a real lease; the others
    keep theirs. Down, the marker comes back for the code before it."""
    processing_events_under_0005(
        empty_url, {"2026-12-10": "1970-01-01 00:00Z", "2026-12-11": "2026-12-11 09:15Z"}
    )
    query = "SELECT occurrence_date::text, unsent, lease_until FROM events ORDER BY occurrence_date"
    before = "SELECT occurrence_date::text, lease_until FROM events ORDER BY occurrence_date"
    marked = rows(empty_url, before)
    [applied] = migrations.upgrade(empty_url, target=6)
    assert (applied.version, applied.name) == (6, "unsent_claims")
    [(_, unsent, due), (_, sent, lease)] = rows(empty_url, query)
    assert (unsent, due.isoformat(), sent, lease) == (True, "2026-12-10T09:00:00+00:00", False, marked[1][1])
    assert "WHERE unsent" in indexes(empty_url, "events")["events_unsent_due"]

    [reverted] = schema_tools.downgrade(empty_url)
    assert (reverted.version, reverted.name) == (6, "unsent_claims")
    assert "unsent" not in columns(empty_url, "events")
    assert rows(empty_url, before) == marked
    migrations.upgrade(empty_url)
    assert columns(empty_url, "events") == EXPECTED_COLUMNS["events"]


def test_0006_lets_the_code_before_it_finish_an_unsent_claim_and_go_back(empty_url: str) -> None:
    """During a canary, or after a rollback, the code before 0006 writes rows without knowing
    the column: finishing an unsent claim must not fail, nor must the down step after it."""
    processing_events_under_0005(empty_url, {"2026-12-10": "1970-01-01 00:00Z"})
    migrations.upgrade(empty_url, target=6)
    with psycopg.connect(empty_url) as conn:  # finish_events as it was before 0006
        conn.execute(b"UPDATE events SET status = 'COMPLETED', lease_until = NULL, delivered_at = now()")
    assert rows(empty_url, "SELECT status, unsent FROM events") == [("COMPLETED", True)]
    schema_tools.downgrade(empty_url)
    assert rows(empty_url, "SELECT status, lease_until FROM events") == [("COMPLETED", None)]


def test_0008_adds_the_endpoints_and_its_down_step_drops_them(empty_url: str) -> None:
    migrations.upgrade(empty_url, target=8)  # 0009 sits above it
    assert "rate_limit" in constraints(empty_url, "endpoints")["endpoints_rate_limit_check"][1]
    assert "WHERE (deleted_at IS NULL)" in indexes(empty_url, "endpoints")["endpoints_live"]
    with psycopg.connect(empty_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(  # a rate limit is 1 to 10,000 a second
            b"INSERT INTO endpoints (id, destination, rate_limit, secrets, version, created_at, updated_at)"
            b" VALUES (gen_random_uuid(), '{}', 0, '[]', 1, now(), now())"
        )
    reverted = schema_tools.downgrade(empty_url)
    assert [(m.version, m.name) for m in reverted] == [(8, "endpoints")]
    assert {"endpoints", "endpoint_rates"} & tables(empty_url) == set()
    migrations.upgrade(empty_url)
    assert columns(empty_url, "endpoints") == EXPECTED_COLUMNS["endpoints"]
    assert constraints(empty_url, "endpoint_rates")["endpoint_rates_endpoint_id_fkey"][1].endswith(
        "REFERENCES endpoints(id) ON DELETE CASCADE"
    )


def test_0009_adds_the_overviews_index_and_the_last_sweep_and_its_down_step_drops_them(
    empty_url: str,
) -> None:
    migrations.upgrade(empty_url, target=9)  # 0010 sits above it
    finished = indexes(empty_url, "events")["events_finished"]
    assert finished.endswith(
        "(updated_at) INCLUDE (status, late, target_utc, delivered_at)"
        " WHERE (status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'SKIPPED'::text]))"
    )
    with psycopg.connect(empty_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(b"INSERT INTO last_sweep (one, finished_at, summary) VALUES (false, now(), '{}')")
    reverted = schema_tools.downgrade(empty_url)
    assert [(m.version, m.name) for m in reverted] == [(9, "overview")]
    assert "last_sweep" not in tables(empty_url)
    assert "events_finished" not in indexes(empty_url, "events")
    migrations.upgrade(empty_url)
    assert columns(empty_url, "last_sweep") == EXPECTED_COLUMNS["last_sweep"]


def functions(url: str) -> set[str]:
    return {
        name
        for (name,) in rows(url, "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
    }


def test_0010_drops_audience_event_key_and_its_down_step_brings_it_back_as_it_was(empty_url: str) -> None:
    """The sweep computes the key in its statement (the pipeline tests compare each key it
    writes with `audience_key`); the function the down step restores still computes it too."""
    migrations.upgrade(empty_url)
    assert "audience_event_key" not in functions(empty_url)
    reverted = schema_tools.downgrade(empty_url)
    assert [(m.version, m.name) for m in reverted] == [(10, "audience_key_in_the_sweep")]
    for n in range(20):
        user, schedule = uuid.uuid4(), uuid.uuid4()
        day = dt.date(2026, 1, 1) + dt.timedelta(days=int(user.int % 4000) - n)
        [(key,)] = rows(empty_url, "SELECT audience_event_key(%s, %s, %s)", user, schedule, day)
        assert key == audience_key(user, schedule, day)
    migrations.upgrade(empty_url)
    assert "audience_event_key" not in functions(empty_url)


class Explaining:
    """A connection for the store that answers each statement with its plan, as rows."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.plans: list[str] = []

    def execute(self, query: bytes, params: dict[str, Any]) -> Any:
        plan = self.conn.execute(b"EXPLAIN " + query, params).fetchall()
        self.plans.append("\n".join(r["QUERY PLAN"] for r in plan))
        return self.conn.execute(query, params)


def test_the_overviews_queries_read_their_indexes_alone(empty_url: str) -> None:
    """What GET /overview counts comes from partial indexes, never from the table (an index-only
    scan): scripts/bench_overview.py measures what that is worth at a million events."""
    from psycopg.rows import dict_row

    from chalicelib.adapters.postgres import Store

    migrations.upgrade(empty_url)
    now = dt.datetime(2026, 6, 15, 12, 20, tzinfo=dt.UTC)
    with psycopg.connect(empty_url, row_factory=dict_row) as conn:
        conn.execute(b"SET enable_seqscan = off")
        explaining = Explaining(conn)
        store = Store(explaining)  # type: ignore[arg-type]
        store.due_by_hour([now + dt.timedelta(hours=i) for i in range(24)], now + dt.timedelta(hours=24))
        store.finished_by_hour([now - dt.timedelta(hours=24 - i) for i in range(24)], now)
        store.lateness(now - dt.timedelta(hours=24), now)
    due, finished, lateness = explaining.plans
    assert "Index Only Scan using events_pending_due" in due
    assert "using events_processing_lease" in due
    for plan in (finished, lateness):
        assert "Index Only Scan using events_finished" in plan


def test_a_migration_numbered_below_one_already_applied_is_still_applied(empty_url: str) -> None:
    """Branches number their migrations apart (the schedules branch takes 0004, this one 0005):
    a database that has 0005 gets the lower ones when they arrive. Here 0003 plays 0004's part."""
    migrations.upgrade(empty_url, target=2)
    [keys] = [m for m in migrations.available() if m.name == "idempotency_keys"]
    with psycopg.connect(empty_url) as conn:  # 0005 alone, as the merge finds it
        conn.execute(keys.up.read_bytes())
        conn.execute(
            b"INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (keys.version, keys.name)
        )
    missing = [m.version for m in migrations.available() if 2 < m.version != keys.version]
    assert [m.version for m in migrations.upgrade(empty_url)] == missing
    assert [r[0] for r in rows(empty_url, "SELECT version FROM schema_migrations ORDER BY version")] == [
        m.version for m in migrations.available()
    ]
    assert schema_tools.downgrade(empty_url)[0].version == migrations.available()[-1].version  # highest first


def test_the_sweepers_query_uses_the_partial_index(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        conn.execute(b"SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                b"EXPLAIN SELECT id FROM events WHERE status = 'PENDING' AND due_utc <= now()"
                b" ORDER BY due_utc LIMIT 100"
            )
        )
    assert "events_pending_due" in plan


def test_running_twice_is_a_no_op(empty_url: str) -> None:
    assert migrations.upgrade(empty_url)
    before = rows(empty_url, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert migrations.upgrade(empty_url) == []
    after = rows(empty_url, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert before == after


def test_down_then_up(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    newest = migrations.available()[-1]
    assert schema_tools.downgrade(empty_url) == [newest]
    versions = [r[0] for r in rows(empty_url, "SELECT version FROM schema_migrations")]
    assert newest.version not in versions

    everything = len(migrations.available())
    schema_tools.downgrade(empty_url, steps=everything)
    assert tables(empty_url) == {"schema_migrations"}
    assert schema_tools.downgrade(empty_url) == []  # nothing left to revert

    assert len(migrations.upgrade(empty_url)) == everything
    assert tables(empty_url) == set(EXPECTED_COLUMNS)
    assert columns(empty_url, "events") == EXPECTED_COLUMNS["events"]


def test_every_migration_has_a_down_step() -> None:
    for migration in migrations.available():
        assert migration.down.read_text().strip(), migration.up.name


def migrate_script(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "migrate.py"), *args],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def test_the_migrate_script_up_status_down(empty_url: str) -> None:
    first = migrations.available()[0]
    label = f"{first.version:04d}_{first.name}"
    assert f"applied {label}" in migrate_script(empty_url, "up")
    assert migrate_script(empty_url, "up") == ""
    assert f"{label}: applied" in migrate_script(empty_url, "status")
    everything = str(len(migrations.available()))
    assert f"reverted {label}" in migrate_script(empty_url, "down", "--steps", everything)
    assert f"{label}: pending" in migrate_script(empty_url, "status")
    assert tables(empty_url) == {"schema_migrations"}
    assert f"applied {label}" in migrate_script(empty_url, "up")
    assert "users" in tables(empty_url)


def test_two_migrators_at_once_apply_each_migration_once(empty_url: str) -> None:
    # Two deploys (or test workers) racing: the advisory lock, taken per migration, makes each
    # wait for the other's migration in flight; between migrations they may take turns.
    start = threading.Barrier(2)
    results: list[list[migrations.Migration]] = []

    def migrate() -> None:
        start.wait()
        results.append(migrations.upgrade(empty_url))

    workers = [threading.Thread(target=migrate) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    # The lock is taken per migration, so the two may share the work: each is applied once.
    assert len(results) == 2
    assert sorted(m.version for r in results for m in r) == [m.version for m in migrations.available()]
    assert len(rows(empty_url, "SELECT version FROM schema_migrations")) == len(migrations.available())
