"""End-to-end throughput and lateness of the delivery pipeline for N simultaneous events.

    scripts/bench.py [--events 20000] [--workers 8] [--localstack-events 200]
                     [--container-events 200] [--container-runs 3] [--receiver-delay 0.1]
                     [--webhook-concurrency 10] [--endpoints N]

N users are due at the same minute (one bulk INSERT). The real sweeper and worker code run
against the real PostgreSQL (embedded unless DATABASE_URL is set; a fresh database either
way) and a real HTTP receiver in a separate process (TCP_NODELAY, keep-alive). For the main
figures SQS and DynamoDB are the in-memory implementations of the same ports: in AWS the
event source mapping, not this code, moves messages, and moto manages only ~100-300 calls/s.
A smaller run through a moto server over HTTP (as `make run` does) gives
localStackEventsPerSecond. Worker concurrency is threads, each one Lambda-like consumer
calling the real handler code a batch of 10 at a time, each with its own pool of
--webhook-concurrency POST threads, as each Lambda container has.

perContainerEventsPerSecond is one Lambda container's rate: one consumer, batches of 10 one
after the other through the same handler code, against a second receiver that answers every
POST after --receiver-delay seconds (the median of --container-runs runs), beside the same
container posting one webhook at a time (perContainerOneAtATimeEventsPerSecond, same run).
That figure, not the fast receiver's, is what the worker count in docs/performance.md's capacity model
is built on.

--endpoints N (0: the built-in WEBHOOK_URL alone, as before) sends every event to N webhook
endpoints instead, created through the endpoints service and PostgreSQL like any team's (the same
receiver on N distinct paths), fanned out by the real worker (its endpoint senders, the ledger's
write per pair). A delivery is one (event, endpoint) pair's signed POST answered 2xx, so
deliveriesPerSecond is N x eventsPerSecond, ratioToRaw is deliveries a second over raw POSTs a
second, and perContainerDeliveriesPerSecond is the container's pairs a second.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import http.client
import json
import resource
import statistics
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
from requests.adapters import HTTPAdapter

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.destinations import EndpointSenders
from chalicelib.adapters.ledger import DynamoLedger
from chalicelib.adapters.postgres import Database
from chalicelib.adapters.sqs import SqsQueue
from chalicelib.adapters.sqs import client as sqs_client
from chalicelib.adapters.webhook import HttpWebhookSender
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.delivery import Backoff
from chalicelib.domain.endpoints import Destination, DestinationType, EndpointFields
from chalicelib.ports import DeliveryLedger, Queue
from chalicelib.services import endpoints, sweeper, worker
from scripts.devstack import aws, event_source
from scripts.devstack.postgres import fresh_database
from scripts.devstack.quiet import quietly
from scripts.devstack.seed import seed_due_birthdays
from scripts.devstack.store import tool_transaction
from scripts.devstack.twins import MemoryLedger, MemoryQueue

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (the spec's example, for signing cost)
ROOT = Path(__file__).resolve().parent.parent
RECEIVER_PIDS: dict[str, int] = {}
"""Each receiver process, by its URL."""
FANOUT = 0
"""--endpoints: 0 sends to the built-in endpoint alone; N to N endpoints (set by main)."""


def log(text: str) -> None:
    print(text, file=sys.__stdout__, flush=True)


# --- the pieces: a receiver in its own process ----------------------------------------------


@contextlib.contextmanager
def receiver(delay: float = 0.0) -> Iterator[str]:
    """The webhook sink in its own process (so its CPU is not this process's GIL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.devstack.webhook_sink", "--quiet", "--delay", str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening "):
            raise RuntimeError(f"the receiver did not start: {line!r}")
        url = line.split(" ", 1)[1]
        RECEIVER_PIDS[url] = process.pid
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def endpoints_to(db: Database, url: str, count: int) -> Iterator[None]:
    """`count` webhook endpoints for every type on the receiver's distinct paths, created and
    then deleted through the endpoints service, as the API does; none when `count` is 0."""
    clock = SystemClock()
    made = [
        endpoints.create_endpoint(
            db, clock, EndpointFields(Destination(DestinationType.WEBHOOK, f"{url}/{i}"), None, f"bench {i}")
        )
        for i in range(count)
    ]
    try:
        yield
    finally:
        for endpoint in made:
            endpoints.delete_endpoint(db, clock, endpoint.id)


def deliveries(events: int) -> int:
    """The POSTs a number of completed events took (one per endpoint)."""
    return events * max(FANOUT, 1)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU of these processes so far (0 for any that is gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def receiver_stats(url: str) -> dict[str, int]:
    return dict(requests.get(url.rsplit("/", 1)[0] + "/__stats", timeout=5).json())


# --- measurements ---------------------------------------------------------------------------


def raw_posts(url: str, total: int, threads: int, client: str = "requests") -> float:
    """Plain POSTs of a similar body, `threads` at a time: the receiver's ceiling as a plain
    client sees it. "requests": a requests.Session each (the figure the pipeline's ratio has
    always been to); "http.client": a keep-alive HTTPConnection each, the library the sender
    uses, so the pipeline's overhead over its own client shows too."""
    body = json.dumps(
        {
            "message": "Hey, User Number 1 it's your birthday",
            "eventId": str(uuid.uuid4()),
            "eventType": "birthday",
            "userId": str(uuid.uuid4()),
            "scheduledFor": "2026-03-02T09:00:00Z",
        }
    ).encode()
    per_thread = total // threads
    parts = urlsplit(url)

    def with_requests() -> None:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
        for _ in range(per_thread):
            session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=(2, 5))

    def with_http_client() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        for _ in range(per_thread):
            connection.request("POST", parts.path, body, {"Content-Type": "application/json"})
            connection.getresponse().read()
        connection.close()

    started = time.perf_counter()
    run_threads(with_requests if client == "requests" else with_http_client, threads)
    return per_thread * threads / (time.perf_counter() - started)


def run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@dataclass
class Run:
    events: int
    seconds: float
    sweep: sweeper.SweepSummary
    lateness_p50: float
    lateness_p99: float
    completed: int


_TARGETS: list[datetime] = []


def next_target() -> datetime:
    """A due instant no earlier run used: each run's figures are read back by its target (a
    short run would otherwise share its second with the next and count its events too)."""
    target = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    if _TARGETS and target <= _TARGETS[-1]:
        target = _TARGETS[-1] + timedelta(seconds=1)
    _TARGETS.append(target)
    return target


def pipeline_run(
    db: Database,
    url: str,
    n: int,
    workers: int,
    queue: Queue,
    dlq: Queue,
    ledger: DeliveryLedger,
    sweep_batch: int,
    concurrency: int = 10,
) -> Run:
    """Seed n due events; the sweeper and the workers run at once, as in AWS."""
    target = next_target()
    seed_due_birthdays(db, n, target, now=target - timedelta(days=30))
    clock = SystemClock(offset=target - datetime.now(UTC))  # "now" is the due minute
    sweep_policy = sweeper.SweepPolicy(
        timedelta(minutes=15),
        batch_size=sweep_batch,
        time_budget=timedelta(minutes=5),
        send_concurrency=1 if isinstance(queue, MemoryQueue) else 8,
    )
    swept = threading.Event()
    summary: list[sweeper.SweepSummary] = []

    def consume() -> None:
        # Each thread is one Lambda container: a worker (and its webhook pool) of its own.
        handler = handler_for(build_worker(db, clock, url, queue, dlq, ledger, concurrency))
        idle = 0
        while True:
            if event_source.poll_once(queue, handler):
                idle = 0
                continue
            if swept.is_set():
                idle += 1
                if idle > 3:
                    return
            time.sleep(0.005)

    def sweep() -> None:
        summary.append(sweeper.sweep(db, clock, queue, sweep_policy))
        swept.set()

    started = time.perf_counter()
    threads = [threading.Thread(target=consume) for _ in range(workers)] + [threading.Thread(target=sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    with tool_transaction(db) as tools:
        row = tools.lateness(target)
    return Run(n, seconds, summary[0], float(row["p50"] or 0), float(row["p99"] or 0), int(row["n"]))


def build_worker(
    db: Database,
    clock: SystemClock,
    url: str,
    queue: Queue,
    dlq: Queue,
    ledger: DeliveryLedger,
    concurrency: int = 10,
) -> worker.Worker:
    policy = worker.DeliveryPolicy(
        10,
        Backoff(timedelta(seconds=10), timedelta(minutes=15)),
        timedelta(minutes=15),
        timedelta(days=7),
        webhook_concurrency=concurrency,
    )
    if FANOUT:  # the endpoints' senders, as the container builds them; no built-in endpoint
        senders = EndpointSenders(2.0, 5.0)
        return worker.Worker(db, clock, BuiltIns(), queue, dlq, ledger, None, policy, destinations=senders)
    sender = HttpWebhookSender(url, SECRET, 2.0, 5.0)
    return worker.Worker(db, clock, BuiltIns(), queue, dlq, ledger, sender, policy)


def handler_for(the_worker: worker.Worker) -> event_source.Handler:
    def handler(records: list[dict[str, Any]]) -> dict[str, Any]:
        failed = the_worker.deliver_batch(records)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    return handler


def per_container(db: Database, url: str, n: int, concurrency: int) -> tuple[float, int]:
    """One Lambda container: n due events enqueued first, then one consumer handing the real
    handler code batches of 10, one batch after the other, until the queue is empty.
    Returns (events completed a second, events completed)."""
    target = next_target()
    seed_due_birthdays(db, n, target, now=target - timedelta(days=30))
    clock = SystemClock(offset=target - datetime.now(UTC))
    queue = MemoryQueue()
    the_worker = build_worker(db, clock, url, queue, MemoryQueue(), MemoryLedger(), concurrency)
    policy = sweeper.SweepPolicy(timedelta(minutes=15), timedelta(minutes=1), 1000, timedelta(minutes=5), 1)
    sweeper.sweep(db, clock, queue, policy)
    handler = handler_for(the_worker)
    started = time.perf_counter()
    while event_source.poll_once(queue, handler, batch_size=10):
        pass
    seconds = time.perf_counter() - started
    with tool_transaction(db) as tools:
        row = tools.lateness(target)
    return int(row["n"]) / seconds, int(row["n"])


def sweeper_alone(db: Database, n: int, sweep_batch: int) -> float:
    """Claim and enqueue only (into the in-memory queue), on its own."""
    target = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    seed_due_birthdays(db, n, target, now=target - timedelta(days=30))
    with db.transaction() as store:
        store.conn.execute(b"ANALYZE events")
    policy = sweeper.SweepPolicy(
        timedelta(minutes=15), batch_size=sweep_batch, time_budget=timedelta(minutes=5)
    )
    summary = sweeper.sweep(db, SystemClock(), MemoryQueue(), policy)
    # Out of the way of the end-to-end run: these were only ever claimed.
    with tool_transaction(db) as tools:
        tools.cancel_processing()
    with psycopg.connect(db_url(db), autocommit=True) as conn:
        conn.execute(b"VACUUM ANALYZE events")
    return summary.claimed / summary.duration_seconds


def db_url(db: Database) -> str:
    return str(db._pool.conninfo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8, help="concurrent worker threads (Lambda instances)")
    parser.add_argument("--sweep-batch", type=int, default=1000)
    parser.add_argument("--raw-posts", type=int, default=None, help="default: min(events, 8000)")
    parser.add_argument("--localstack-events", type=int, default=200, help="0 skips the moto run")
    parser.add_argument(
        "--container-events", type=int, default=200, help="per run of the per-container figure; 0 skips it"
    )
    parser.add_argument("--container-runs", type=int, default=3, help="the figure is their median")
    parser.add_argument(
        "--webhook-concurrency", type=int, default=10, help="WEBHOOK_CONCURRENCY of each worker"
    )
    parser.add_argument(
        "--receiver-delay", type=float, default=0.1, help="seconds the per-container receiver takes to answer"
    )
    parser.add_argument(
        "--endpoints", type=int, default=0, help="endpoints per event (0: the built-in one alone)"
    )
    args = parser.parse_args(argv)
    global FANOUT
    FANOUT = args.endpoints
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", module="platformdirs")  # pgserver without XDG_RUNTIME_DIR
    log(f"bench: {args.events} events due at the same minute, {args.workers} worker threads")
    if FANOUT:
        log(f"each event goes to {FANOUT} webhook endpoints: {FANOUT} deliveries an event")
    log("SQS and DynamoDB: in-memory implementations of the same ports (moto only where it says so)")
    with fresh_database("bench") as url, receiver() as hook:
        db = Database(url, max_size=args.workers + 4)
        try:
            figures, ok = measure(db, hook, args)
        finally:
            db.close()
    figures["peakRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["queueAndLedger"] = "in-memory (moto only for localStackEventsPerSecond)"
    log(f"peak RSS of this process:                 {figures['peakRssMb']:8.1f} MB")
    log(json.dumps(figures))
    return 0 if ok else 1


def measure(db: Database, hook: str, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    n, workers = args.events, args.workers
    raw = raw_posts(hook, args.raw_posts or min(n, 8000), workers)
    raw_http_client = raw_posts(hook, args.raw_posts or min(n, 8000), workers, "http.client")
    log(f"raw requests.Session POSTs, {workers} threads: {raw:8.0f} /s")
    log(f"raw http.client POSTs, {workers} threads:      {raw_http_client:8.0f} /s (the sender's library)")
    with quietly():
        sweep_rate = sweeper_alone(db, n, args.sweep_batch)
    log(f"sweeper alone (claim + enqueue):          {sweep_rate:8.0f} events/s")

    posts_before = receiver_stats(hook)["requests"]
    postgres_pids = pids_named("postgres")
    cpu_before = (time.process_time(), cpu_seconds([RECEIVER_PIDS[hook]]), cpu_seconds(postgres_pids))
    with quietly(), endpoints_to(db, hook, FANOUT):
        run = pipeline_run(
            db,
            hook,
            n,
            workers,
            MemoryQueue(),
            MemoryQueue(),
            MemoryLedger(),
            args.sweep_batch,
            args.webhook_concurrency,
        )
    cpu_after = (time.process_time(), cpu_seconds([RECEIVER_PIDS[hook]]), cpu_seconds(postgres_pids))
    posts = receiver_stats(hook)["requests"] - posts_before
    eps = run.completed / run.seconds
    dps = deliveries(run.completed) / run.seconds
    cpu = [(b - a) * 1000 / max(run.completed, 1) for a, b in zip(cpu_before, cpu_after, strict=True)]
    log(
        f"end to end (claim -> POST -> complete):   {eps:8.0f} events/s, {dps:8.0f} deliveries/s"
        f" = {dps / raw:.2f} x raw ({dps / raw_http_client:.2f} x raw http.client)"
    )
    log(f"  {run.completed} completed in {run.seconds:.1f}s; the receiver saw {posts} POSTs")
    log(f"  lateness p50 {run.lateness_p50:.2f}s, p99 {run.lateness_p99:.2f}s")
    log(
        f"  CPU per event: this process {cpu[0]:.2f} ms, receiver {cpu[1]:.2f} ms, PostgreSQL {cpu[2]:.2f} ms"
    )
    figures: dict[str, Any] = {
        "events": n,
        "workers": workers,
        "endpointsPerEvent": FANOUT,
        "eventsPerSecond": round(eps, 1),
        "deliveriesPerSecond": round(dps, 1),
        "rawPostPerSecond": round(raw, 1),
        "ratioToRaw": round(dps / raw, 3),
        "rawHttpClientPostPerSecond": round(raw_http_client, 1),
        "ratioToRawHttpClient": round(dps / raw_http_client, 3),
        "sweeperEventsPerSecond": round(sweep_rate, 1),
        "p50LatenessSeconds": round(run.lateness_p50, 3),
        "p99LatenessSeconds": round(run.lateness_p99, 3),
        "completed": run.completed,
        "webhookPosts": posts,
    }
    ok = run.completed == n and posts == deliveries(n)
    if args.localstack_events:
        with endpoints_to(db, hook, FANOUT):
            small = moto_run(db, hook, args.localstack_events, workers)
        rate = small.completed / small.seconds
        figures["localStackEventsPerSecond"] = round(rate, 1)
        log(f"through a moto server over HTTP:          {rate:8.1f} events/s ({small.completed} events)")
        ok = ok and small.completed == args.localstack_events
    if args.container_events:
        container, ok_container = per_container_figure(db, args)
        figures |= container
        ok = ok and ok_container
    if not ok:
        log("MISMATCH: not every event was delivered exactly once")
    return figures, ok


def per_container_figure(db: Database, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The median of several one-container runs against a receiver that answers slowly, and
    the same container posting one webhook at a time (WEBHOOK_CONCURRENCY=1), in the same run."""
    n = args.container_events
    one_at_a_time_n = max(10, n // 4)  # ~10 events/s: a quarter of the events is enough
    rates, ok = [], True
    with receiver(args.receiver_delay) as slow, endpoints_to(db, slow, FANOUT):
        before = receiver_stats(slow)["requests"]
        for _ in range(args.container_runs):
            with quietly():
                rate, completed = per_container(db, slow, n, args.webhook_concurrency)
            rates.append(rate)
            ok = ok and completed == n
        with quietly():
            one_at_a_time, completed = per_container(db, slow, one_at_a_time_n, 1)
        ok = ok and completed == one_at_a_time_n
        posts = receiver_stats(slow)["requests"] - before
    ok = ok and posts == deliveries(n * args.container_runs + one_at_a_time_n)
    median = statistics.median(rates)
    delay = f"{args.receiver_delay * 1000:.0f} ms"
    log(
        f"one container, batches of 10, receiver answering in {delay}: "
        f"{median:8.1f} events/s, {deliveries(1) * median:8.1f} deliveries/s"
        f" (runs: {', '.join(f'{r:.1f}' for r in rates)} events/s)"
    )
    log(f"  the same, one POST at a time:                      {one_at_a_time:8.1f} events/s")
    figures = {
        "perContainerEventsPerSecond": round(median, 1),
        "perContainerDeliveriesPerSecond": round(deliveries(1) * median, 1),
        "perContainerOneAtATimeEventsPerSecond": round(one_at_a_time, 1),
        "perContainerReceiverDelayMs": round(args.receiver_delay * 1000),
        "perContainerBatchSize": 10,
        "webhookConcurrency": args.webhook_concurrency,
    }
    return figures, ok


def moto_run(db: Database, hook: str, n: int, workers: int) -> Run:
    with aws.moto_server() as endpoint:
        resources = aws.provision(
            endpoint,
            queue_name=f"bench-{uuid.uuid4().hex[:8]}",
            ledger_table=f"bench-{uuid.uuid4().hex[:8]}",
            visibility_timeout=60,
        )
        client = sqs_client("us-east-1", endpoint)
        queue = SqsQueue(client, resources.queue_url)
        dlq = SqsQueue(client, resources.dlq_url)
        ledger = DynamoLedger(resources.ledger_table, "us-east-1", endpoint)
        with quietly():
            return pipeline_run(db, hook, n, workers, queue, dlq, ledger, 100)


if __name__ == "__main__":
    sys.exit(main())
