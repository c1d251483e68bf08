"""The sweeper's claims keep an index path on a table with history, once it is analysed.

The planner guesses the rows due from `due_utc` alone (it cannot know that every past event is
COMPLETED, not PENDING), so on an analysed table with a year behind it `id IN (SELECT … LIMIT n)`
hashed the claimed ids against a scan of every event, at every sweep that had work: the
simulator's sweeps grew with its table, and a production table with years of history would
too. `id = ANY(ARRAY(…))` takes the ids first, then the rows by primary key. The other two claims
select PROCESSING rows (the only ones with a lease), are estimated right, and are held here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from chalicelib.adapters.sql_files import queries
from chalicelib.domain.events import LATE_AFTER

pytestmark = pytest.mark.integration

NOW = datetime(2026, 7, 1, 8, 58, 30, tzinfo=UTC)
USERS = 5000

# Each user has a COMPLETED birthday in the past year and a PENDING one in the next; 20 are
# due within the sweep's look-ahead, a few are claimed and sent, a few claimed and never sent.
HISTORY = """
WITH s AS (SELECT g, gen_random_uuid() AS user_id FROM generate_series(1, %(users)s) AS g),
u AS (
    INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
    SELECT user_id, 'User', 'Number ' || g, date '1990-01-01', 'UTC', %(now)s, %(now)s FROM s
), timed AS (
    SELECT g, user_id, %(now)s + CASE WHEN g <= 20 THEN interval '60 seconds'
                                      WHEN g <= 30 THEN interval '-10 minutes'
                                      ELSE (g * 7919 %% 525600) * interval '1 minute' END AS target
    FROM s
)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, lease_until, unsent, delivered_at,
                    created_at, updated_at)
SELECT gen_random_uuid(), user_id, 'birthday', (target - shift)::date, target - shift,
       target - shift, 'UTC', gen_random_uuid()::text, status, 1, attempts,
       CASE WHEN status = 'PROCESSING' THEN target + interval '5 minutes' END,
       status = 'PROCESSING' AND g %% 2 = 0,
       CASE WHEN status = 'COMPLETED' THEN target - shift END, %(now)s, %(now)s
FROM timed, LATERAL (VALUES
    (interval '365 days', 'COMPLETED', 1),
    (interval '0 days', CASE WHEN g BETWEEN 21 AND 30 THEN 'PROCESSING' ELSE 'PENDING' END, 0)
) AS o (shift, status, attempts);
"""


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as c:
        c.execute(HISTORY.encode(), {"users": USERS, "now": NOW})
        c.execute(b"VACUUM ANALYZE events")
        yield c


def claim_statement(name: str) -> sql.Composed:
    """As the store sends it (Store._claim)."""
    q = queries()
    return sql.SQL(q[name]).format(lease_until=sql.SQL(q["lease_until"]))


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    yield plan["Node Type"], plan.get("Relation Name")
    for child in plan.get("Plans", []):
        yield from scans(child)


@pytest.mark.parametrize("name", ["claim_due", "resend_unsent", "requeue_expired"])
def test_a_claim_reads_events_by_index_on_a_table_with_history(
    conn: psycopg.Connection[dict[str, Any]], name: str
) -> None:
    params = {
        "now": NOW + timedelta(hours=1),
        "horizon": NOW + timedelta(seconds=150),
        "lease": timedelta(minutes=5),
        "late_after": LATE_AFTER,
        "limit": 500,
    }
    if name == "claim_due":
        params["now"] = NOW
    with conn.transaction(force_rollback=True):
        explained = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + claim_statement(name), params
        ).fetchone()
    assert explained is not None
    plan = explained["QUERY PLAN"][0]["Plan"]
    claimed = plan["Actual Rows"]
    assert claimed == {"claim_due": 20, "resend_unsent": 5, "requeue_expired": 5}[name]
    assert ("Seq Scan", "events") not in set(scans(plan)), plan
