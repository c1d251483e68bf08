"""What GET /events costs at 1 million events: p50/p95 of typical queries, and their plans.

    scripts/bench_events.py [--events 1000000] [--runs 200] [--plans]

A fresh, migrated database (embedded PostgreSQL unless DATABASE_URL is set) is loaded in SQL
with N/2 users, each with two events (the day "now" is 2026-06-15T12:00Z): last year's
occurrence, terminal (mostly COMPLETED, 1 % FAILED, 0.5 % SKIPPED, 2 % delivered late), and
this year's, COMPLETED before now and PENDING after (one user in ten's is an anniversary),
targets spread over the year on the hour and half hour as 09:00 local times fall. Then
ANALYZE, and each query below runs --runs times through the app's own statement
(`postgres.list_events_statement`, one page of 100, rows decoded into events: what the API
waits for), in one connection that prepares statements as the API does. `pgExecutionMs` is
PostgreSQL's own "Execution Time" from EXPLAIN (ANALYZE, BUFFERS), which `--plans` prints.

The last line is one JSON object with the figures (milliseconds).
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from chalicelib.adapters.postgres import event_from_row, list_events_statement
from chalicelib.domain.events import EventFilter
from scripts.devstack.postgres import fresh_database

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PAGE = 100

LOAD = """
WITH u AS (
    INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
    SELECT gen_random_uuid(), 'User', 'Number ' || g, date '1990-01-01' + (g %% 365), 'UTC',
           %(now)s - interval '2 years', %(now)s - interval '2 years'
    FROM generate_series(1, %(users)s) AS g
    RETURNING id, date_of_birth
), n AS (
    SELECT id, date_of_birth, row_number() OVER () AS g FROM u
), e AS (
    SELECT n.id AS user_id, n.g, y.year,
           CASE WHEN y.year = 2026 AND n.g %% 10 = 0 THEN 'anniversary' ELSE 'birthday' END AS event_type,
           make_date(y.year, extract(month FROM n.date_of_birth)::int, extract(day FROM n.date_of_birth)::int)
               AS occurrence_date,
           (make_date(y.year, extract(month FROM n.date_of_birth)::int,
                      extract(day FROM n.date_of_birth)::int) + time '09:00')
               - (n.g %% 48) * interval '30 minutes' + interval '12 hours' AS target_local
    FROM n CROSS JOIN (VALUES (2025), (2026)) AS y (year)
), s AS (
    SELECT e.*, e.target_local AT TIME ZONE 'UTC' AS target_utc,
           CASE
               WHEN e.year = 2026 AND e.target_local AT TIME ZONE 'UTC' > %(now)s THEN 'PENDING'
               WHEN e.g %% 97 = 7 THEN 'FAILED'
               WHEN e.g %% 199 = 11 THEN 'SKIPPED'
               ELSE 'COMPLETED'
           END AS status
    FROM e
)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, delivered_at, late, failure_reason,
                    created_at, updated_at)
SELECT gen_random_uuid(), user_id, event_type, occurrence_date, target_utc, target_utc, 'UTC',
       gen_random_uuid()::text, status, CASE WHEN status = 'PENDING' THEN 1 ELSE 3 END,
       CASE WHEN status = 'PENDING' THEN 0 WHEN status = 'FAILED' THEN 10 ELSE 1 END,
       CASE WHEN status = 'COMPLETED'
            THEN target_utc + CASE WHEN g %% 50 = 3 THEN interval '20 minutes' ELSE interval '2 seconds' END
       END,
       status = 'COMPLETED' AND g %% 50 = 3,
       CASE WHEN status = 'FAILED' THEN 'HTTP 410'
            WHEN status = 'SKIPPED' THEN 'older than MAX_EVENT_AGE' END,
       %(now)s - interval '1 year', %(now)s
FROM s
"""


def load(url: str, events: int) -> int:
    with psycopg.connect(url) as conn:
        conn.execute(LOAD.encode(), {"users": events // 2, "now": NOW})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"VACUUM ANALYZE")
        row = conn.execute(b"SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def typical_queries(url: str) -> dict[str, EventFilter]:
    with psycopg.connect(url) as conn:
        row = conn.execute(b"SELECT user_id FROM events OFFSET 123456 LIMIT 1").fetchone()
        middle = conn.execute(
            b"SELECT target_utc, id FROM events ORDER BY target_utc, id OFFSET 500000 LIMIT 1"
        ).fetchone()
    assert row is not None
    assert middle is not None
    day = NOW.replace(hour=0)
    return {
        "failed": EventFilter(status="FAILED"),
        "failedYesterday": EventFilter(status="FAILED", target_from=day - timedelta(days=1), target_to=day),
        "dueNextHour": EventFilter(status="PENDING", target_from=NOW, target_to=NOW + timedelta(hours=1)),
        "pending": EventFilter(status="PENDING"),
        "lateLastWeek": EventFilter(late=True, target_from=day - timedelta(days=7), target_to=day),
        "oneUser": EventFilter(user_id=row[0]),
        "pendingAnniversaries": EventFilter(status="PENDING", event_type="anniversary"),
        "everythingMidway": EventFilter(after=(middle[0], middle[1])),
        "onTimeCompletedLastMonth": EventFilter(
            status="COMPLETED", late=False, target_from=day - timedelta(days=30), target_to=day
        ),
    }


def measure(url: str, named: dict[str, EventFilter], runs: int, plans: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with psycopg.connect(url, row_factory=dict_row, prepare_threshold=5) as conn:
        for name, where in named.items():
            statement, params = list_events_statement(where, PAGE)
            times = []
            rows = 0
            for _ in range(runs):
                started = time.perf_counter()
                rows = len([event_from_row(r) for r in conn.execute(statement, params).fetchall()])
                times.append((time.perf_counter() - started) * 1000)
            plan = [
                r["QUERY PLAN"]
                for r in conn.execute(
                    psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement, params, prepare=False
                )
            ]
            times.sort()
            out[name] = {
                "rows": rows,
                "p50": round(statistics.median(times), 3),
                "p95": round(times[int(len(times) * 0.95) - 1], 3),
                "index": sorted({w for line in plan for w in line.split() if w.startswith("events_")}),
                "pgExecutionMs": float(plan[-1].split()[-2]),
            }
            if plans:
                print(f"-- {name}: {json.dumps(out[name])}\n" + "\n".join(plan) + "\n", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args(argv)
    with fresh_database("bench_events") as url:
        started = time.perf_counter()
        count = load(url, args.events)
        loaded = time.perf_counter() - started
        figures = measure(url, typical_queries(url), args.runs, args.plans)
    print(
        json.dumps({"events": count, "loadSeconds": round(loaded, 1), "pageSize": PAGE, "queries": figures})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
