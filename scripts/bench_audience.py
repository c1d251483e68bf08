"""What an audience schedule costs at scale: creating one for --users users in --zones zones,
and the sweeps that write, claim and send its members' events when their instant comes.

    scripts/bench_audience.py [--users 1000000] [--zones 40] [--budget 20]

1. seed: --users live users spread evenly over --zones zones that share one UTC offset (the
   worst case: every member due at the same instant), half of them {"plan": "pro"}, by SQL (not
   measured).
2. create: `services.schedules.create_audience_schedule` of a one-time 09:00 schedule for
   {"all": true}: its time, and the event rows written at creation (the target is none).
3. sweeps: the sweeper (`services.sweeper.sweep`, default policy: 50 s budget, --budget of it
   for audiences, 10 minutes' audience look-ahead; an in-memory queue) run once a minute from
   ten minutes before the instant until every member has their event, written claimed and its
   message sent; each run's duration against its budget, the members written per run, and
   members written, claimed and sent per second of sweeping (the issue's target: 50,000).

The figures are for this machine, in a fresh, migrated database (embedded PostgreSQL unless
DATABASE_URL is set). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from chalicelib.adapters.postgres import Database
from chalicelib.domain.audience import Audience
from chalicelib.domain.planner import Rule
from chalicelib.domain.schedules import ScheduleFields
from chalicelib.domain.zones import known_zones, zone
from chalicelib.services import schedules
from chalicelib.services.materialiser import AudiencePolicy
from chalicelib.services.sweeper import SweepPolicy, sweep
from scripts.devstack.clock import ManualClock
from scripts.devstack.postgres import fresh_database
from scripts.devstack.store import tool_transaction
from scripts.devstack.twins import MemoryQueue

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

SEED = """
INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at, metadata)
SELECT gen_random_uuid(), 'User', 'Number ' || g, date '1990-01-01' + (g %% 365),
       (%(zones)s::text[])[1 + g %% %(zone_count)s], %(now)s - interval '1 year', %(now)s - interval '1 year',
       CASE WHEN g %% 2 = 0 THEN '{"plan": "pro"}'::jsonb ELSE '{"plan": "free"}'::jsonb END
FROM generate_series(1, %(users)s) AS g;
"""


def same_offset_zones(count: int) -> list[str]:
    """`count` zones on the UTC offset most zones share at NOW (Europe's and Africa's +02:00)."""
    by_offset: dict[timedelta, list[str]] = {}
    for name in sorted(known_zones()):
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            offset = NOW.astimezone(zone(name)).utcoffset()
            assert offset is not None
            by_offset.setdefault(offset, []).append(name)
    return max(by_offset.values(), key=len)[:count]


def seed(db: Database, users: int, zones: list[str]) -> None:
    with db.transaction() as store:
        store.conn.execute(
            SEED.encode(), {"users": users, "zones": zones, "zone_count": len(zones), "now": NOW}
        )
    with db.transaction() as store:
        store.conn.execute(b"ANALYZE users")


def count(db: Database, sql: str) -> int:
    with tool_transaction(db) as store:
        row = store.one(sql)
    assert row is not None
    return int(row["n"])


def run(users: int, zone_count: int, budget: float) -> dict[str, object]:
    zones = same_offset_zones(zone_count)
    with fresh_database("bench_audience") as url:
        db = Database(url, max_size=4)
        clock = ManualClock(NOW)
        started = time.perf_counter()
        seed(db, users, zones)
        seeded = time.perf_counter() - started

        fields = ScheduleFields("news", Rule(date(2026, 6, 16), clock_time(9, 0)), {}, None, Audience())
        started = time.perf_counter()
        view = schedules.create_audience_schedule(db, clock, fields)
        create_ms = (time.perf_counter() - started) * 1000
        sid = view.schedule.id
        assert view.next is not None
        instant = view.next.target_utc
        rows_at_creation = count(db, f"SELECT count(*) AS n FROM events WHERE schedule_id = '{sid}'")  # noqa: S608

        policy = SweepPolicy(
            lease=timedelta(minutes=15),
            time_budget=timedelta(seconds=50),
            send_concurrency=8,
            audiences=AudiencePolicy(time_budget=timedelta(seconds=budget)),
        )
        queue = MemoryQueue(clock)
        clock.set(instant - timedelta(minutes=10))
        runs = []
        while True:
            started = time.perf_counter()
            summary = sweep(db, clock, queue, policy)
            runs.append(
                {"seconds": round(time.perf_counter() - started, 3), "written": summary.audience_written}
            )
            if not summary.audience_budget_spent:
                break
            clock.set(clock.now() + timedelta(minutes=1))
        written = sum(int(r["written"]) for r in runs)
        sweeping = sum(float(r["seconds"]) for r in runs)
        events = count(db, f"SELECT count(*) AS n FROM events WHERE schedule_id = '{sid}'")  # noqa: S608
        db.close()
    return {
        "users": users,
        "zones": len(zones),
        "seedSeconds": round(seeded, 1),
        "createMs": round(create_ms, 1),
        "rowsWrittenAtCreation": rows_at_creation,
        "sweepRuns": len(runs),
        "sweepBudgetSeconds": policy.time_budget.total_seconds(),
        "audienceBudgetSeconds": budget,
        "sweepSeconds": [r["seconds"] for r in runs],
        "writtenPerRun": [r["written"] for r in runs],
        "lastWrittenMinutesBeforeInstant": round((instant - clock.now()).total_seconds() / 60, 1),
        "membersWritten": written,
        "eventsInDatabase": events,
        "messagesSent": queue.sent,
        "writtenClaimedSentPerSecond": round(written / sweeping),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--zones", type=int, default=40)
    parser.add_argument("--budget", type=float, default=20.0, help="the audiences' part of a sweep, seconds")
    args = parser.parse_args()
    print(json.dumps(run(args.users, args.zones, args.budget)))


if __name__ == "__main__":
    main()
