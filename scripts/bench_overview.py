"""What GET /overview's database part costs at 1 million events, with and without its index.

    scripts/bench_overview.py [--events 1000000] [--runs 50] [--plans]

A fresh, migrated database (embedded PostgreSQL unless DATABASE_URL is set) is loaded in SQL
with N/2 users, each with a birthday and an anniversary whose targets fall on the half hours
of the two days either side of "now" (2026-06-15T12:20Z), as 09:00 local times do. Behind now:
mostly COMPLETED (0.3-2.3 s late; 2 % late by 5 to 55 minutes), 1 % FAILED after two hours of
retries, 1 % SKIPPED, 1 % CANCELLED the day before, and still PROCESSING where that end would
come after now; ahead: PENDING, and PROCESSING within the sweep's 150-second look-ahead. Then
VACUUM ANALYZE (as autovacuum leaves a table that is mostly read).

`services.overview.counts` (the route's database work: the four statements of one transaction
through the app's store and pool, prepared after five as in production) runs --runs times after
five warm-up calls; p50/p95 in milliseconds. Each statement's plan comes from EXPLAIN (ANALYZE,
BUFFERS) of what the store sent: the indexes it used and PostgreSQL's own execution time
(`--plans` prints the plans). Then the same without the index migration 0009 added
(events_finished), for the comparison. SQS is not measured: GetQueueAttributes is two calls.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from chalicelib.adapters.postgres import Database, Store
from chalicelib.domain.overview import Window
from chalicelib.services.overview import counts
from scripts.devstack.postgres import fresh_database

NOW = datetime(2026, 6, 15, 12, 20, tzinfo=UTC)
WARM_UP = 5

LOAD = """
WITH u AS (
    INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
    SELECT gen_random_uuid(), 'User', 'Number ' || g, date '1990-01-01' + (g %% 365), 'UTC',
           %(now)s - interval '2 years', %(now)s - interval '2 years'
    FROM generate_series(1, %(users)s) AS g
    RETURNING id
), n AS (
    SELECT id, row_number() OVER () AS g FROM u
), e AS (
    -- 192 half hours from two days before the current hour; each type its own spread.
    SELECT n.id AS user_id, n.g * 2 + t.k AS g, t.event_type,
           date_trunc('hour', %(now)s::timestamptz, 'UTC') - interval '2 days'
               + ((n.g * t.step + t.k * 37) %% 192) * interval '30 minutes' AS target_utc
    FROM n CROSS JOIN (VALUES (0, 'birthday', 7919), (1, 'anniversary', 104729)) AS t (k, event_type, step)
), ended AS (
    -- How each past event ends, and when (before deciding whether that is still ahead).
    SELECT e.*,
           CASE WHEN g %% 100 = 1 THEN 'CANCELLED' WHEN g %% 100 = 2 THEN 'SKIPPED'
                WHEN g %% 100 = 3 THEN 'FAILED' ELSE 'COMPLETED' END AS outcome,
           target_utc + CASE
               WHEN g %% 100 = 1 THEN interval '-1 day'
               WHEN g %% 100 = 2 THEN interval '20 minutes'
               WHEN g %% 100 = 3 THEN interval '2 hours'
               WHEN g %% 100 IN (4, 5) THEN interval '5 minutes' + (g %% 3000) * interval '1 second'
               ELSE interval '300 milliseconds' + (g %% 2000) * interval '1 millisecond'
           END AS ends_at
    FROM e
), s AS (
    SELECT ended.*,
           CASE WHEN target_utc > %(now)s + interval '150 seconds' THEN 'PENDING'
                WHEN target_utc > %(now)s OR ends_at > %(now)s THEN 'PROCESSING'
                ELSE outcome END AS status
    FROM ended
)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, lease_until, delivered_at, late,
                    failure_reason, created_at, updated_at)
SELECT gen_random_uuid(), user_id, event_type, (target_utc AT TIME ZONE 'UTC')::date, target_utc,
       target_utc, 'UTC', gen_random_uuid()::text, status,
       CASE WHEN status = 'PENDING' THEN 1 ELSE 3 END,
       CASE WHEN status IN ('PENDING', 'CANCELLED') THEN 0 WHEN status = 'FAILED' THEN 8 ELSE 1 END,
       CASE WHEN status = 'PROCESSING' THEN greatest(target_utc, %(now)s) + interval '15 minutes' END,
       CASE WHEN status = 'COMPLETED' THEN ends_at END,
       status = 'COMPLETED' AND ends_at - target_utc > interval '5 minutes',
       CASE WHEN status = 'FAILED' THEN 'HTTP 410: Gone'
            WHEN status = 'SKIPPED' THEN 'older than MAX_EVENT_AGE' END,
       target_utc - interval '30 days',
       CASE WHEN status IN ('PENDING', 'PROCESSING') THEN target_utc - interval '30 days' ELSE ends_at END
FROM s
"""


def load(url: str, events: int) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        conn.execute(LOAD.encode(), {"users": events // 2, "now": NOW})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"VACUUM ANALYZE")
        rows = conn.execute(b"SELECT status, count(*) FROM events GROUP BY status ORDER BY status").fetchall()
    return {str(status): int(n) for status, n in rows}


class Explaining:
    """A connection for the app's store that first runs each statement under EXPLAIN
    (ANALYZE, BUFFERS), keeps the plan, then runs it for its rows."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn
        self.plans: list[list[str]] = []

    def execute(self, query: bytes, params: dict[str, Any]) -> psycopg.Cursor[dict[str, Any]]:
        plan = self.conn.execute(b"EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
        self.plans.append([r["QUERY PLAN"] for r in plan])
        return self.conn.execute(query, params)


class ExplainingDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self.plans: list[list[str]] = []

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            explaining = Explaining(conn)
            yield Store(explaining)  # type: ignore[arg-type]
            self.plans = explaining.plans


def plans(url: str, window: Window, show: bool) -> list[dict[str, Any]]:
    db = ExplainingDatabase(url)
    counts(db, window)  # type: ignore[arg-type]
    out = []
    for plan in db.plans:
        summary = {
            "indexes": sorted({m for line in plan for m in re.findall(r"using (\w+)", line)}),
            "indexOnly": any("Index Only Scan" in line for line in plan),
            "pgExecutionMs": float(plan[-1].split()[-2]),
        }
        out.append(summary)
        if show:
            print(f"-- {json.dumps(summary)}\n" + "\n".join(plan) + "\n", file=sys.stderr)
    return out


def measure(url: str, runs: int, show: bool) -> dict[str, Any]:
    window = Window(NOW)
    db = Database(url)
    try:
        for _ in range(WARM_UP):
            counts(db, window)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            found = counts(db, window)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    times.sort()
    return {
        "p50": round(statistics.median(times), 1),
        "p95": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max": round(times[-1], 1),
        "statements": plans(url, window, show),
        "dueNext24h": sum(n for _, n in found.due),
        "finishedLast24h": sum(f.completed + f.failed + f.skipped for f in found.finished),
        "lateness": {"count": found.lateness.count, "p50": found.lateness.p50_seconds,
                     "p99": found.lateness.p99_seconds},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args(argv)
    with fresh_database("bench_overview") as url:
        started = time.perf_counter()
        statuses = load(url, args.events)
        loaded = time.perf_counter() - started
        with_index = measure(url, args.runs, args.plans)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(b"DROP INDEX events_finished")
            conn.execute(b"ANALYZE events")
        without = measure(url, args.runs, args.plans)
    figures = {
        "events": sum(statuses.values()),
        "statuses": statuses,
        "loadSeconds": round(loaded, 1),
        "runs": args.runs,
        "ms": with_index,
        "withoutEventsFinished": without,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
