"""What an audience schedule costs at scale: creating one for --users users in --zones zones,
and the sweeps that write its members' events as the zones' instants approach.

    scripts/bench_audience.py [--users 1000000] [--zones 40] [--budget 20]

1. seed: --users live users spread evenly over --zones zones (half of them {"plan": "pro"}),
   with a birthday event each, by SQL (not measured).
2. create: `services.schedules.create_audience_schedule` of a daily 09:00 schedule for
   {"all": true}: its time, and the event rows written at creation (the target is none).
3. sweeps: the sweeper (`services.sweeper.sweep`, an in-memory queue) run again and again with
   an audience look-ahead that covers every zone's next 09:00 (the worst case: a million
   members due within one look-ahead), until every member has their event; each run's
   duration against its budget, the users written per run and per second of materialising.
4. claim: the members' events claimed as the sweeper claims them (`Store.claim_due`, batches
   of 500) once their instants have come; users per second, and materialised-and-claimed per
   second over both steps (the issue's target: at least 50,000).

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

from chalicelib.adapters.clock import ManualClock
from chalicelib.adapters.memory import MemoryQueue
from chalicelib.adapters.postgres import Database
from chalicelib.domain.audience import Audience
from chalicelib.domain.planner import Rule
from chalicelib.domain.recurrence import parse
from chalicelib.domain.schedules import ScheduleFields
from chalicelib.domain.zones import known_zones, zone
from chalicelib.services import schedules
from chalicelib.services.materialiser import AudiencePolicy
from chalicelib.services.sweeper import SweepPolicy, sweep
from scripts.devstack.postgres import fresh_database

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

SEED = """
INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at, metadata)
SELECT gen_random_uuid(), 'User', 'Number ' || g, date '1990-01-01' + (g %% 365),
       (%(zones)s::text[])[1 + g %% %(zone_count)s], %(now)s - interval '1 year', %(now)s - interval '1 year',
       CASE WHEN g %% 2 = 0 THEN '{"plan": "pro"}'::jsonb ELSE '{"plan": "free"}'::jsonb END
FROM generate_series(1, %(users)s) AS g;
"""


def spread_zones(count: int) -> list[str]:
    """`count` zones with as many different offsets as there are, east to west."""
    by_offset: dict[timedelta, str] = {}
    for name in sorted(known_zones()):
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "US/")):
            continue
        offset = NOW.astimezone(zone(name)).utcoffset()
        if offset is not None:
            by_offset.setdefault(offset, name)
    chosen = [by_offset[o] for o in sorted(by_offset)]
    extra = [z for z in sorted(known_zones()) if z.startswith("Europe/") and z not in chosen]
    return (chosen + extra)[:count]


def seed(db: Database, users: int, zones: list[str]) -> None:
    with db.transaction() as store:
        store.conn.execute(
            SEED.encode(), {"users": users, "zones": zones, "zone_count": len(zones), "now": NOW}
        )
    with db.transaction() as store:
        store.conn.execute(b"ANALYZE users")


def count(db: Database, sql: str) -> int:
    with db.transaction() as store:
        row = store.one(sql)
    assert row is not None
    return int(row["n"])


def run(users: int, zone_count: int, budget: float) -> dict[str, object]:
    zones = spread_zones(zone_count)
    with fresh_database("bench_audience") as url:
        db = Database(url, max_size=4)
        clock = ManualClock(NOW)
        started = time.perf_counter()
        seed(db, users, zones)
        seeded = time.perf_counter() - started

        fields = ScheduleFields(
            "digest.daily",
            Rule(date(2026, 6, 16), clock_time(9, 0), parse("FREQ=DAILY")),
            {},
            None,
            Audience(),
        )
        started = time.perf_counter()
        view = schedules.create_audience_schedule(db, clock, fields)
        create_ms = (time.perf_counter() - started) * 1000
        sid = view.schedule.id
        rows_at_creation = count(db, f"SELECT count(*) AS n FROM events WHERE schedule_id = '{sid}'")  # noqa: S608

        policy = SweepPolicy(
            lease=timedelta(minutes=15),
            time_budget=timedelta(seconds=50),
            audiences=AudiencePolicy(lookahead=timedelta(days=2), time_budget=timedelta(seconds=budget)),
        )
        queue = MemoryQueue(clock)
        runs = []
        while True:
            started = time.perf_counter()
            summary = sweep(db, clock, queue, policy)
            runs.append(
                {"seconds": round(time.perf_counter() - started, 3), "written": summary.audience_written}
            )
            if not summary.audience_budget_spent:
                break
        written = sum(r["written"] for r in runs)
        materialise_seconds = sum(float(r["seconds"]) for r in runs)

        clock.set(NOW + timedelta(days=2))  # every member's 09:00 has come
        claimed, started = 0, time.perf_counter()
        while True:
            with db.transaction() as store:
                batch = store.claim_due(clock.now(), clock.now(), timedelta(minutes=15), 500)
            claimed += len(batch)
            if len(batch) < 500:
                break
        claim_seconds = time.perf_counter() - started
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
        "longestSweepSeconds": max(float(r["seconds"]) for r in runs),
        "writtenPerRun": [r["written"] for r in runs],
        "membersWritten": written,
        "materialisedPerSecond": round(written / materialise_seconds),
        "claimed": claimed,
        "claimedPerSecond": round(claimed / claim_seconds),
        "materialisedAndClaimedPerSecond": round(written / (materialise_seconds + claim_seconds)),
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
