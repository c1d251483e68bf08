"""An endpoint's rateLimit, measured: how far it overshoots and what it costs a delivery.

    scripts/bench_rate_limit.py [--workers 3] [--rates 5,50,200] [--seconds 20]

For each rate R: one webhook endpoint with `rateLimit` R (created through the endpoints service),
R x --seconds users due at once, claimed by the real sweeper; their messages are dealt round
robin to --workers worker processes (each a container: its own PostgreSQL pool, its own
in-memory queue, the real worker code with its endpoint senders), which share the endpoint's
slots only through PostgreSQL (`endpoint_rates`), on real time. A receiver in this process
stamps each arrival. Per rate:

- worstWindow: the most deliveries that arrived within any 10 seconds (windows starting at each
  arrival), against the bound R x 10 x 1.05 + 1 (boundWindow), and overshoot = worstWindow /
  (R x 10);
- achievedPerSecond: deliveries over the seconds from the first arrival to the last;
- limiterMsPerBatch / limiterMsPerDelivery: the wall time of the worker's rate-limit step (one
  transaction: the INSERT of a missing row, the locking SELECT, the UPDATE and the commit: four
  round trips), waits for the other containers' row lock included, per batch that had a limited
  delivery, and per delivery sent;
- heldBack: deliveries that were over the limit when their batch came, and came back later.

The last line is one JSON object with every rate's figures.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import json
import multiprocessing
import statistics
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.destinations import EndpointSenders
from chalicelib.adapters.postgres import Database
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.delivery import Backoff
from chalicelib.domain.endpoints import Destination, DestinationType, EndpointFields
from chalicelib.services import endpoints, sweeper, worker
from scripts.devstack import event_source
from scripts.devstack.postgres import fresh_database
from scripts.devstack.quiet import quietly
from scripts.devstack.seed import seed_due_birthdays
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from scripts.devstack.webhook_sink import WebhookSink

WINDOW = 10.0


def log(text: str) -> None:
    print(text, file=sys.__stdout__, flush=True)


class TimedWorker(worker.Worker):
    """The real worker, its rate-limit step timed."""

    def _throttle(self, jobs: list[worker.Job]) -> None:
        limited = [p for job in jobs for p in job.pairs if p.endpoint and p.endpoint.fields.rate_limit]
        started = time.perf_counter()
        super()._throttle(jobs)
        if limited:
            STEP["seconds"] += time.perf_counter() - started
            STEP["batches"] += 1
            STEP["held"] += sum(1 for p in limited if p.deferred is not None)


STEP = {"seconds": 0.0, "batches": 0, "held": 0}


def container(database_url: str, bodies: list[str], results: Any) -> None:
    """One worker container (a process): its share of the messages, until every one is done."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    db = Database(database_url, max_size=2)
    queue = MemoryQueue()
    for start in range(0, len(bodies), 10):
        queue.send_batch(bodies[start : start + 10])
    policy = worker.DeliveryPolicy(
        10, Backoff(timedelta(seconds=1), timedelta(minutes=1)), timedelta(minutes=15), timedelta(days=7)
    )
    the_worker = TimedWorker(
        db, SystemClock(), BuiltIns(), queue, MemoryQueue(), MemoryLedger(), None, policy,
        destinations=EndpointSenders(2.0, 5.0),
    )  # fmt: skip

    def handler(records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in the_worker.deliver_batch(records)]}

    with quietly():
        while queue.depth():
            if not event_source.poll_once(queue, handler):
                time.sleep(0.01)
    db.close()
    results.put(dict(STEP))


def worst_window(arrivals: list[float]) -> int:
    """The most arrivals in any WINDOW seconds (the busiest window starts at an arrival)."""
    worst, end = 0, 0
    for start, at in enumerate(arrivals):
        while end < len(arrivals) and arrivals[end] < at + WINDOW:
            end += 1
        worst = max(worst, end - start)
    return worst


def one_rate(
    db: Database, database_url: str, sink: WebhookSink, rate: int, workers: int, seconds: int
) -> dict:
    clock = SystemClock()
    n = rate * seconds
    fields = EndpointFields(Destination(DestinationType.WEBHOOK, f"{sink.url}/{rate}"), rate_limit=rate)
    endpoint = endpoints.create_endpoint(db, clock, fields)
    target = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    seed_due_birthdays(db, n, target, now=target - timedelta(days=30))
    queue = MemoryQueue()
    policy = sweeper.SweepPolicy(timedelta(minutes=15), timedelta(minutes=1), 1000, timedelta(minutes=5), 1)
    with quietly():
        sweeper.sweep(db, clock, queue, policy)
    bodies = queue.bodies()
    with sink._lock:
        sink.requests.clear()
    context = multiprocessing.get_context("spawn")  # no fork of this process's pool and threads
    results = context.Queue()
    processes = [
        context.Process(target=container, args=(database_url, bodies[i::workers], results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    steps = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(60)
    endpoints.delete_endpoint(db, clock, endpoint.id)
    arrivals = sorted(r.received_at for r in sink.accepted())
    keys = {r.headers["webhook-id"] for r in sink.accepted()}
    worst = worst_window(arrivals)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    step_seconds = sum(s["seconds"] for s in steps)
    step_batches = sum(s["batches"] for s in steps)
    return {
        "rateLimit": rate,
        "deliveries": len(arrivals),
        "distinctWebhookIds": len(keys),
        "worstWindow": worst,
        "boundWindow": rate * WINDOW * 1.05 + 1,
        "overshoot": round(worst / (rate * WINDOW), 3),
        "withinBound": worst <= rate * WINDOW * 1.05 + 1,
        "achievedPerSecond": round((len(arrivals) - 1) / span, 2) if span else None,
        "limiterMsPerBatch": round(step_seconds * 1000 / max(step_batches, 1), 2),
        "limiterMsPerDelivery": round(step_seconds * 1000 / max(len(arrivals), 1), 2),
        "heldBack": sum(s["held"] for s in steps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3, help="worker processes (containers)")
    parser.add_argument("--rates", default="5,50,200", help="rateLimit values, comma-separated")
    parser.add_argument("--seconds", type=int, default=20, help="each rate's load: rate x seconds events")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    warnings.filterwarnings("ignore", module="platformdirs")
    rates = [int(r) for r in args.rates.split(",")]
    figures: dict[str, Any] = {"workers": args.workers, "seconds": args.seconds, "rates": []}
    ok = True
    with fresh_database("bench_rate") as url, WebhookSink() as sink:
        db = Database(url, max_size=4)
        try:
            for rate in rates:
                found = one_rate(db, url, sink, rate, args.workers, args.seconds)
                figures["rates"].append(found)
                ok = ok and found["deliveries"] == found["distinctWebhookIds"] == rate * args.seconds
                log(
                    f"rateLimit {rate:>5}/s, {args.workers} containers: worst 10 s {found['worstWindow']}"
                    f" (bound {found['boundWindow']:.1f}, {found['overshoot']:.3f} x limit x 10),"
                    f" {found['achievedPerSecond']}/s achieved; limiter {found['limiterMsPerBatch']} ms"
                    f" a batch, {found['limiterMsPerDelivery']} ms a delivery; {found['heldBack']} held back"
                )
        finally:
            db.close()
    figures["worstOvershoot"] = max(r["overshoot"] for r in figures["rates"])
    figures["medianLimiterMsPerDelivery"] = statistics.median(
        r["limiterMsPerDelivery"] for r in figures["rates"]
    )
    figures["everyDeliveryOnce"] = ok
    log(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
