"""What an audience schedule costs at scale: creating one for --users users in --zones zones,
the sweeps that write, claim and send its members' events when their instant comes, and
(--deliver) one occurrence delivered through the whole pipeline.

    scripts/bench_audience.py [--users 1000000] [--zones 40] [--budget 20] [--concurrency N]
    scripts/bench_audience.py --deliver [--users 100000] [--zones 40] [--workers 8]
    (either: --server-defaults, the embedded server's own 128 MB cache)

1. seed: --users live users spread evenly over --zones zones that share one UTC offset (the
   worst case: every member due at the same instant), half of them {"plan": "pro"}, by SQL (not
   measured).
2. create: `services.schedules.create_audience_schedule` of a one-time 09:00 schedule for
   {"all": true}: its time, and the event rows written at creation (the target is none).
3. sweeps: the sweeper (`services.sweeper.sweep`) with the production settings' policy (the
   defaults of chalicelib/settings.py: 50 s budget, --budget of it for audiences, 10 minutes'
   audience look-ahead, AUDIENCE_CONCURRENCY zones at once unless --concurrency says otherwise;
   an in-memory queue) run once a minute from ten minutes before the instant until every
   member has their event, written claimed and its message sent; each run's duration against
   its budget, the members written per run, members written, claimed and sent per second of
   sweeping (the issue's target: 50,000), and this process's CPU per member (the rest of the
   wall time is waiting for PostgreSQL).

--deliver: the same users and schedule, in real time: the sweep runs --lead seconds before the
instant (writing, claiming and sending every member's message, delayed until the instant), then
--workers worker "containers" (threads calling the real handler code a batch of 10 at a time,
each with its own pool of 10 POST threads, as scripts/bench.py's end-to-end run) deliver to a
receiver in its own process. Reported: lateness p50/p99/max of the members' deliveries, the
rate they were delivered at, the p99 that rate alone gives (0.99 x users / rate: the lateness
of a pipeline that starts on time and delivers at its capacity), and exactly once (one POST
per member, one COMPLETED event per (schedule, user), no other event, no other POST). SQS and
DynamoDB are the in-memory twins, as in scripts/bench.py: moto is for behaviour, not volume.

The figures are for this machine, in a fresh, migrated database (embedded PostgreSQL with the
production database's cache, PRODUCTION_SERVER, unless DATABASE_URL is set). The last line is
one JSON object with the figures.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from chalicelib import bootstrap
from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.postgres import Database
from chalicelib.domain.audience import Audience
from chalicelib.domain.planner import Rule
from chalicelib.domain.schedules import ScheduleFields
from chalicelib.domain.zones import known_zones, zone
from chalicelib.services import schedules
from chalicelib.services.schedules import ScheduleView
from chalicelib.services.sweeper import SweepPolicy, sweep
from chalicelib.settings import Settings
from scripts import bench
from scripts.devstack import event_source
from scripts.devstack.clock import ManualClock
from scripts.devstack.postgres import fresh_database
from scripts.devstack.quiet import quietly
from scripts.devstack.store import tool_transaction
from scripts.devstack.twins import MemoryLedger, MemoryQueue

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

PRODUCTION_SERVER = {"shared_buffers": "4GB"}
"""The embedded server's cache as the production stage's database has it: RDS sets
shared_buffers to a quarter of the instance's memory ({DBInstanceClassMemory/32768} pages), and
the stage runs an r6g.large (16 GiB, infra/stacks/stages.py). pgserver's 128 MB holds a tenth
of what a million members' rows and index entries take, and the rate then measures evictions
(--server-defaults keeps it, for comparison)."""

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


def production_policy(budget: float, concurrency: int | None) -> SweepPolicy:
    """The sweep policy the sweeper function builds from the default settings, with the
    audiences' budget (and, when given, their concurrency) of this run."""
    policy = bootstrap.Container(Settings.from_env({})).sweep_policy
    audiences = replace(policy.audiences, time_budget=timedelta(seconds=budget))
    if concurrency is not None:
        audiences = replace(audiences, concurrency=concurrency)
    return replace(policy, audiences=audiences)


def create(db: Database, clock: ManualClock) -> tuple[ScheduleView, float]:
    fields = ScheduleFields("news", Rule(date(2026, 6, 16), clock_time(9, 0)), {}, None, Audience())
    started = time.perf_counter()
    view = schedules.create_audience_schedule(db, clock, fields)
    return view, (time.perf_counter() - started) * 1000


def run(
    users: int, zone_count: int, budget: float, concurrency: int | None, server: dict[str, str]
) -> dict[str, object]:
    zones = same_offset_zones(zone_count)
    policy = production_policy(budget, concurrency)
    with fresh_database("bench_audience", settings=server) as url:
        db = Database(url, max_size=4 + policy.audiences.concurrency)
        clock = ManualClock(NOW)
        started = time.perf_counter()
        seed(db, users, zones)
        seeded = time.perf_counter() - started

        view, create_ms = create(db, clock)
        sid = view.schedule.id
        assert view.next is not None
        instant = view.next.target_utc
        rows_at_creation = count(db, f"SELECT count(*) AS n FROM events WHERE schedule_id = '{sid}'")  # noqa: S608

        queue = MemoryQueue(clock)
        clock.set(instant - timedelta(minutes=10))
        runs = []
        cpu = time.process_time()
        while True:
            started = time.perf_counter()
            summary = sweep(db, clock, queue, policy)
            runs.append(
                {"seconds": round(time.perf_counter() - started, 3), "written": summary.audience_written}
            )
            if not summary.audience_budget_spent:
                break
            clock.set(clock.now() + timedelta(minutes=1))
        cpu = time.process_time() - cpu
        written = sum(int(r["written"]) for r in runs)
        sweeping = sum(float(r["seconds"]) for r in runs)
        events = count(db, f"SELECT count(*) AS n FROM events WHERE schedule_id = '{sid}'")  # noqa: S608
        db.close()
    return {
        "users": users,
        "zones": len(zones),
        "concurrency": policy.audiences.concurrency,
        "batchSize": policy.audiences.batch_size,
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
        "pythonCpuMicrosecondsPerMember": round(cpu * 1e6 / max(written, 1), 1),
        "writtenClaimedSentPerSecond": round(written / sweeping),
        "loadAverage": round(os.getloadavg()[0], 2),
    }


DELIVERIES = """
SELECT count(*) FILTER (WHERE schedule_id = %(sid)s AND status = 'COMPLETED') AS completed,
       count(DISTINCT user_id) FILTER (WHERE schedule_id = %(sid)s AND status = 'COMPLETED') AS members,
       count(*) FILTER (WHERE schedule_id IS DISTINCT FROM %(sid)s) AS others,
       (SELECT count(*) FROM (SELECT 1 FROM events WHERE schedule_id = %(sid)s
                              GROUP BY user_id HAVING count(*) > 1) AS d) AS doubled,
       extract(epoch FROM max(delivered_at) FILTER (WHERE schedule_id = %(sid)s)
                          - min(target_utc) FILTER (WHERE schedule_id = %(sid)s)) AS span,
       max(extract(epoch FROM delivered_at - target_utc)) FILTER (WHERE schedule_id = %(sid)s) AS worst
FROM events
"""


def deliver(
    users: int, zone_count: int, workers: int, lead: float, server: dict[str, str]
) -> tuple[dict[str, object], bool]:
    """One occurrence for every user, through the sweep and `workers` worker containers in
    real time; its lateness and whether each member got it exactly once."""
    zones = same_offset_zones(zone_count)
    policy = production_policy(20.0, None)
    with fresh_database("bench_audience", settings=server) as url, bench.receiver() as hook:
        db = Database(url, max_size=workers + 4 + policy.audiences.concurrency)
        seed(db, users, zones)
        view, _ = create(db, ManualClock(NOW))
        assert view.next is not None
        instant, sid = view.next.target_utc, view.schedule.id
        # From here on "now" runs in real time, `lead` seconds before the members' instant.
        clock = SystemClock(offset=instant - timedelta(seconds=lead) - datetime.now(UTC))
        queue, dlq, ledger = MemoryQueue(clock), MemoryQueue(clock), MemoryLedger()
        posts_before = bench.receiver_stats(hook)["requests"]
        with quietly():
            started = time.perf_counter()
            summary = sweep(db, clock, queue, policy)
            sweep_seconds = time.perf_counter() - started
            done = threading.Event()

            def consume() -> None:  # one Lambda container
                handler = bench.handler_for(bench.build_worker(db, clock, hook, queue, dlq, ledger))
                while not done.is_set():
                    if not event_source.poll_once(queue, handler):
                        time.sleep(0.005)

            threads = [threading.Thread(target=consume) for _ in range(workers)]
            for t in threads:
                t.start()
            while queue.depth() or clock.now() < instant:
                time.sleep(0.2)
            done.set()
            for t in threads:
                t.join()
        stats = bench.receiver_stats(hook)
        with tool_transaction(db) as tools:
            lateness = tools.lateness(instant)
            row = tools.one(DELIVERIES, {"sid": sid})
        db.close()
    assert row is not None
    posts = stats["requests"] - posts_before
    completed = int(row["completed"])
    rate = completed / float(row["span"] or 1)
    ok = (
        summary.audience_written == completed == int(row["members"]) == users
        and posts == stats["distinctKeys"] == users
        and int(row["others"]) == 0
        and int(row["doubled"]) == 0
    )
    return {
        "mode": "deliver",
        "users": users,
        "zones": len(zones),
        "workers": workers,
        "webhookConcurrency": 10,
        "leadSeconds": lead,
        "sweepSeconds": round(sweep_seconds, 2),
        "membersWritten": summary.audience_written,
        "writtenBeforeInstantSeconds": round(lead - sweep_seconds, 1),
        "completed": completed,
        "webhookPosts": posts,
        "distinctWebhookIds": stats["distinctKeys"],
        "eventsPerMember": 1 if int(row["doubled"]) == 0 and completed == users else "MISMATCH",
        "otherEvents": int(row["others"]),
        "deliveredPerSecond": round(rate, 1),
        "p50LatenessSeconds": round(float(lateness["p50"] or 0), 2),
        "p99LatenessSeconds": round(float(lateness["p99"] or 0), 2),
        "maxLatenessSeconds": round(float(row["worst"] or 0), 2),
        "p99AtThatRateSeconds": round(0.99 * users / rate, 2),
        "exactlyOnce": ok,
        "queueAndLedger": "in-memory",
        "loadAverage": round(os.getloadavg()[0], 2),
    }, ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=None, help="default 1,000,000 (--deliver: 100,000)")
    parser.add_argument("--zones", type=int, default=40)
    parser.add_argument("--budget", type=float, default=20.0, help="the audiences' part of a sweep, seconds")
    parser.add_argument("--concurrency", type=int, default=None, help="default: AUDIENCE_CONCURRENCY's")
    parser.add_argument("--deliver", action="store_true", help="one occurrence through the whole pipeline")
    parser.add_argument("--workers", type=int, default=8, help="--deliver: worker containers (threads)")
    parser.add_argument(
        "--lead", type=float, default=30.0, help="--deliver: seconds from the sweep to the instant"
    )
    parser.add_argument(
        "--server-defaults",
        action="store_true",
        help="the embedded server as pgserver starts it (128 MB cache)",
    )
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    server = {} if args.server_defaults else PRODUCTION_SERVER
    if args.deliver:
        figures, ok = deliver(args.users or 100_000, args.zones, args.workers, args.lead, server)
        print(json.dumps(figures | {"server": server}))
        return 0 if ok else 1
    figures = run(args.users or 1_000_000, args.zones, args.budget, args.concurrency, server)
    print(json.dumps(figures | {"server": server}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
