"""What schedules cost: the preview of 1,000 occurrences, planning the next occurrence after a
batch completes, and the sweeper's claim beside a million active schedules.

    scripts/bench_schedules.py [--users 1000000] [--baseline-users 20000] [--runs 200]

1. preview: `services.schedules.preview` (the route's work without HTTP: the schedule, its
   user and its recent events read from PostgreSQL, then the planner) for 1,000 occurrences of
   five typical rules in a DST zone; p50/p95 in milliseconds, and the planner alone.
2. planning: what planning adds to the worker's write of a batch of 10 completed events
   (`Store.finish_batch` locks the users, finishes the events and reads the schedules and recent
   events in one round trip; `scheduling.plan_following` plans and inserts the next
   occurrences; commit): batches of 10 users' weekly schedules written alternately with and
   without planning; occurrences per second of the difference of the medians, the whole
   write's rate, and the domain alone.
3. claim: `Store.claim_due` of 1,000 due events (what each sweep batch runs, rolled back after
   each run) in a database of --baseline-users users with a birthday each, and again in one of
   --users users with a birthday each and as many active schedules with a pending event each;
   the median of each and their ratio (target: at most 2).

Each part runs in a fresh, migrated database (embedded PostgreSQL unless DATABASE_URL is set).
The last line is one JSON object with the figures.
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
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from chalicelib.adapters.clock import ManualClock
from chalicelib.adapters.postgres import Database
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.events import Event
from chalicelib.domain.planner import Rule, occurrences
from chalicelib.domain.recurrence import InvalidDate, parse
from chalicelib.domain.schedules import ScheduleFields
from chalicelib.domain.series import PLANNING_MARGIN, Series, following
from chalicelib.domain.users import User, UserFields
from chalicelib.services import schedules, users
from chalicelib.services.scheduling import plan_following, planning_asks
from scripts.devstack.postgres import fresh_database

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ZONE = "America/New_York"
RULES = {
    "daily": ("FREQ=DAILY", InvalidDate.OMIT),
    "weekly": ("FREQ=WEEKLY;BYDAY=MO,WE,FR", InvalidDate.OMIT),
    "lastWeekday": ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", InvalidDate.OMIT),
    "monthly31": ("FREQ=MONTHLY;BYMONTHDAY=31", InvalidDate.BACKWARD),
    "yearly29Feb": ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", InvalidDate.FORWARD),
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered) * 1000, 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


def timed(run: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return samples


def preview(runs: int) -> dict[str, object]:
    with fresh_database("bench_schedules") as url:
        db = Database(url)
        clock = ManualClock(NOW - timedelta(days=400))
        user = users.create_user(db, clock, BuiltIns(), UserFields("Ada", "Lovelace", date(1990, 1, 1), ZONE))
        found: dict[str, object] = {}
        for name, (text, invalid) in RULES.items():
            rule = Rule(date(2025, 1, 1), clock_time(9, 30), parse(text), invalid)
            fields = ScheduleFields(name.lower(), rule, {})
            view = schedules.create_schedule(db, clock, BuiltIns(), user.id, fields)
            service = timed(lambda v=view: schedules.preview(db, v.schedule.id, NOW, 1000), runs)
            planner = timed(lambda r=rule: occurrences(r, ZONE, NOW, limit=1000), runs)
            found[name] = {"service": percentiles(service), "planner": percentiles(planner)}
        db.close()
    worst = max(v["service"]["p95"] for v in found.values())  # type: ignore[index]
    return {"rules": found, "worstP95Ms": worst, "targetP95Ms": 20, "met": worst <= 20}


def planning(users_n: int) -> dict[str, object]:
    with fresh_database("bench_schedules") as url:
        db = Database(url, max_size=2)
        clock = ManualClock(NOW - timedelta(days=1))
        builtins = BuiltIns()
        made: list[User] = []
        for i in range(users_n):
            fields = UserFields("User", f"Number {i}", date(1990, 1, 1) + timedelta(days=i % 365), ZONE)
            made.append(users.create_user(db, clock, builtins, fields))
            rule = Rule(date(2026, 1, 1), clock_time(9, 30), parse(RULES["weekly"][0]))
            schedules.create_schedule(db, clock, builtins, made[-1].id, ScheduleFields("digest", rule, {}))
        # Each user's next schedule event was claimed; a worker batch of 10 now completes them.
        with db.transaction() as store:
            claimed = [e for u in made for e in store.active_events_for_user(u.id) if e.schedule_id]
            claimed = [e.claim(NOW, NOW + timedelta(minutes=5)) for e in claimed]
            for event in claimed:
                store.save_event(event, event.version - 1)
        batches = [claimed[i : i + 10] for i in range(0, len(claimed), 10)]
        # Alternate batches write with and without planning, so that both see the same noise.
        timings: dict[bool, list[float]] = {True: [], False: []}
        for n, batch in enumerate(batches):
            plans = n % 2 == 0
            started = time.perf_counter()
            worker_write(db, builtins, batch, plans)
            timings[plans].append(time.perf_counter() - started)
        with_planning = statistics.median(timings[True])
        planning_share = with_planning - statistics.median(timings[False])
        # The domain alone: the same decisions without the reads and writes.
        series = {s.key: s for s in (schedule_series(db, u) for u in made)}
        finished = [[e.complete(NOW, 1) for e in batch] for batch in batches]
        with db.transaction() as store:
            known = [store.known_events({e.user_id for e in b}, NOW - PLANNING_MARGIN) for b in finished]
        started = time.perf_counter()
        for batch, batch_known in zip(finished, known, strict=True):
            following(batch, series, batch_known, NOW)
        domain = len(claimed) / (time.perf_counter() - started)
        db.close()
    rate = 10 / planning_share
    return {
        "occurrencesPerSecond": round(rate),
        "batchWriteMs": {
            "withPlanning": round(with_planning * 1000, 3),
            "withoutPlanning": round((with_planning - planning_share) * 1000, 3),
        },
        "wholeWriteOccurrencesPerSecond": round(10 / with_planning),
        "domainOccurrencesPerSecond": round(domain),
        "target": 5000,
        "met": rate >= 5000,
    }


def worker_write(db: Database, builtins: BuiltIns, batch: list[Event], plans: bool) -> None:
    """The worker's write of a batch (`Worker._write_together`): lock, finish and read what
    planning needs in one round trip, plan and insert the next occurrences, commit. Without
    planning: the same write of the same kind of batch, asking for nothing."""
    with db.transaction() as store:
        done = [e.complete(NOW, 1) for e in batch]
        schedule_ids, since = planning_asks(done) if plans else (set(), None)
        changes = [(d, e.version) for d, e in zip(done, batch, strict=True)]
        written = store.finish_batch([e.user_id for e in batch], changes, schedule_ids, since)
        if plans:
            plan_following(store, builtins, done, written.users, NOW, written.reads)


def schedule_series(db: Database, user: User) -> Series:
    with db.transaction() as store:
        [schedule] = store.schedules_for_users([user.id])[user.id]
    return schedule.series(user)


SEED = """
WITH u AS (
    INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
    SELECT gen_random_uuid(), 'User', 'Number ' || g, date '1990-01-01' + (g %% 365), 'UTC',
           %(now)s - interval '1 year', %(now)s - interval '1 year'
    FROM generate_series(1, %(users)s) AS g
    RETURNING id
), n AS (SELECT id, row_number() OVER () AS g FROM u)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, created_at, updated_at)
SELECT gen_random_uuid(), id, 'birthday', date '2026-06-15' + (g %% 300)::int, target, target, 'UTC',
       gen_random_uuid()::text, 'PENDING', 1, 0, %(now)s, %(now)s
FROM n, LATERAL (SELECT CASE WHEN g <= 1000 THEN %(due)s ELSE %(due)s + (g %% 300 + 1) * interval '1 day' END
                 AS target) AS t;
"""

SEED_SCHEDULES = """
WITH s AS (
    INSERT INTO schedules (id, user_id, event_type, payload, start_date, local_time, timezone,
                           recurrence, invalid_date, dst_gap, dst_overlap, status, version,
                           created_at, updated_at)
    SELECT gen_random_uuid(), id, 'digest', '{}', date '2026-01-01', time '09:30', NULL,
           'FREQ=WEEKLY;BYDAY=MO', 'omit', 'shift', 'first', 'active', 1, %(now)s, %(now)s
    FROM users
    RETURNING id, user_id
)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, created_at, updated_at, schedule_id)
SELECT gen_random_uuid(), user_id, 'digest', date '2026-06-22', timestamptz '2026-06-22 09:30Z',
       timestamptz '2026-06-22 09:30Z', 'UTC', gen_random_uuid()::text, 'PENDING', 1, 0, %(now)s,
       %(now)s, id
FROM s;
"""


class _RolledBack(Exception):
    pass


def claim(users_n: int, with_schedules: bool, runs: int) -> dict[str, object]:
    """1,000 of the users' birthdays are due now; everything else is later."""
    with fresh_database("bench_schedules") as url:
        db = Database(url, max_size=1)
        with db.transaction() as store:
            store.conn.execute(
                SEED.encode(), {"users": users_n, "now": NOW, "due": NOW - timedelta(seconds=1)}
            )
            if with_schedules:
                store.conn.execute(SEED_SCHEDULES.encode(), {"now": NOW})
        with db.transaction() as store:
            store.conn.execute(b"ANALYZE")
        samples = []
        for _ in range(runs):
            try:
                with db.transaction() as store:
                    started = time.perf_counter()
                    claimed = store.claim_due(NOW, NOW + timedelta(seconds=150), timedelta(minutes=5), 1000)
                    samples.append(time.perf_counter() - started)
                    assert len(claimed) == 1000, len(claimed)
                    raise _RolledBack  # the same 1,000 are due again for the next run
            except _RolledBack:
                pass
        db.close()
    return {"users": users_n, "schedules": users_n if with_schedules else 0, **percentiles(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--baseline-users", type=int, default=20_000)
    parser.add_argument("--planning-users", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--claim-runs", type=int, default=30)
    args = parser.parse_args()
    result: dict[str, object] = {"preview": preview(args.runs)}
    print(json.dumps({"preview": result["preview"]}), flush=True)
    result["planning"] = planning(args.planning_users)
    print(json.dumps({"planning": result["planning"]}), flush=True)
    baseline = claim(args.baseline_users, False, args.claim_runs)
    loaded = claim(args.users, True, args.claim_runs)
    ratio = loaded["p50"] / baseline["p50"]  # type: ignore[operator]
    result["claim"] = {
        "baseline": baseline,
        "withSchedules": loaded,
        "ratio": round(ratio, 2),
        "met": ratio <= 2,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
