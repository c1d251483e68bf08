"""The simulator's engine: the real app on a virtual clock, from users to a delivery report.

Wiring: a fresh migrated database; SQS and DynamoDB in a moto server (`aws="moto"`) or the
in-memory twins of the same ports (`aws="memory"`); a real HTTP receiver that stamps every
request at the virtual time and verifies its signature (which carries real time); the app's
container installed with the virtual clock, so the API, the sweeper and the worker read it. Users are
created through the app's own routes (chalice's in-process gateway, with an admin token);
the schedule and SQS handlers are the app's Lambda entry points, fed by the LambdaRunner.

Two choices make a run reproducible and the same in both AWS modes:
- retry delays are virtual (scripts/devstack/virtual_queue.py), and the backoff has no jitter
  (each wait is the floor of equal jitter: half the step; 5 s, 10 s, 20 s ... with the
  default 10 s base), so a retry lands on the same virtual second whatever order the queue
  hands messages out in;
- the receiver's failures are drawn per (user's position in the file, event type, scheduled
  time, attempt number) from the seed, not from a shared stream, for the same reason.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import random
import threading
import time as timer
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.postgres import Database
from chalicelib.domain.events import is_late
from chalicelib.domain.instants import iso_utc as iso
from chalicelib.domain.occurrence import LeapDayPolicy
from chalicelib.ports import DeliveryLedger, Queue
from chalicelib.settings import LOCAL_JWT_SECRET, Settings
from scripts.devstack import aws
from scripts.devstack.clock import ManualClock
from scripts.devstack.lambda_runner import LambdaRunner
from scripts.devstack.paths import ROOT
from scripts.devstack.postgres import fresh_database
from scripts.devstack.quiet import quietly
from scripts.devstack.replay import Progress, Replay
from scripts.devstack.store import ToolStore, tool_transaction
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from scripts.devstack.virtual_queue import VirtualVisibilityQueue
from scripts.devstack.webhook_sink import Recorded, Reply, WebhookSink

SIGNING_SECRET = "whsec_" + base64.b64encode(b"event-scheduler simulator signing!").decode()
USER_FIELDS = ("firstName", "lastName", "dateOfBirth", "timezone", "anniversaryDate")


class SimulationError(RuntimeError):
    """The simulation could not run as asked (a user the API refused, say)."""


@dataclass(frozen=True)
class Config:
    users: Sequence[dict[str, Any]]
    start: datetime
    end: datetime
    delivery_time: time | None = None
    leap_day: LeapDayPolicy = LeapDayPolicy.MAR1
    failure_rate: float = 0.0
    downtime: Sequence[tuple[datetime, datetime]] = ()
    seed: int = 0
    aws: str = "moto"
    sweep_phase: float = 0.0
    """Seconds into each minute at which the schedule fires."""
    schedules: Sequence[dict[str, Any]] = ()
    """POST /schedules bodies (audience schedules), created after the users."""


@dataclass(frozen=True)
class Ports:
    queue: Queue
    dlq: Queue
    ledger: DeliveryLedger
    endpoint: str | None = None


class NoJitter(random.Random):
    """The worker's backoff without jitter: every draw is 0, so each wait is half the step."""

    def random(self) -> float:
        return 0.0


@dataclass
class FailureInjector:
    """The receiver's `decide`: answers 503 to a seeded fraction of requests."""

    rate: float
    seed: int
    positions: dict[str, int] = field(default_factory=dict)
    """user id -> position in USERS.json, a name for the user that is the same in every run."""
    schedules: dict[str, str] = field(default_factory=dict)
    """schedule id -> its place in USERS.json ("user/schedule"), the same in every run."""

    def __post_init__(self) -> None:
        self._seen: Counter[tuple[int, str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, headers: dict[str, str], body: bytes) -> Reply:
        if self.rate <= 0:
            return Reply()
        data = json.loads(body)
        occurrence = (
            self.positions.get(data["userId"], -1),
            self.schedules.get(data.get("scheduleId") or "", data["eventType"]),
            data["scheduledFor"],
        )
        with self._lock:
            attempt = self._seen[occurrence]
            self._seen[occurrence] += 1
        digest = hashlib.sha256(f"{self.seed}/{occurrence}/{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        return Reply(503) if draw < self.rate else Reply()


@contextlib.contextmanager
def aws_ports(mode: str, clock: ManualClock) -> Iterator[Ports]:
    if mode == "memory":
        yield Ports(MemoryQueue(clock), MemoryQueue(clock), MemoryLedger())
        return
    from chalicelib.adapters import sqs
    from chalicelib.adapters.ledger import DynamoLedger

    with aws.moto_server() as endpoint:
        suffix = uuid.uuid4().hex[:8]
        made = aws.provision(endpoint, queue_name=f"simulate-{suffix}", ledger_table=f"simulate-{suffix}")
        client = sqs.client("us-east-1", endpoint)
        ledger = DynamoLedger(made.ledger_table, "us-east-1", endpoint)
        queue, dlq = sqs.SqsQueue(client, made.queue_url), sqs.SqsQueue(client, made.dlq_url)
        yield Ports(queue, dlq, ledger, endpoint)


def simulate(config: Config) -> dict[str, Any]:
    """Runs the whole replay; returns the report ({"deliveries": [...], "stats": {...}})."""
    started = timer.perf_counter()
    clock = ManualClock(config.start)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_database("simulate", durable=False))
        ports = stack.enter_context(aws_ports(config.aws, clock))
        failures = FailureInjector(config.failure_rate, config.seed)
        sink = stack.enter_context(
            WebhookSink(secret=SIGNING_SECRET, clock=lambda: clock.now().timestamp(), decide=failures)
        )
        container = _container(config, url, clock, ports, sink.url)
        stack.callback(container.db.close)
        bootstrap.install(container)
        stack.callback(bootstrap.install, None)
        user_ids, schedule_ids = create_users(config.users)
        schedule_ids |= create_audience_schedules(config.schedules)
        failures.positions.update({user_id: i for i, user_id in enumerate(user_ids)})
        failures.schedules.update(schedule_ids)
        queue = container.queue
        assert isinstance(queue, VirtualVisibilityQueue)
        import app

        runner = LambdaRunner(app.sweep, app.deliver, queue, now=clock.now)
        with quietly():
            progress = Replay(
                stack.enter_context(ToolStore.reader(url)),
                container.db,
                clock,
                queue,
                runner,
                config.end,
                config.downtime,
                phase=timedelta(seconds=config.sweep_phase),
                lookahead=container.settings.sweep_lookahead,
            ).run()
        with tool_transaction(container.db) as tools:
            counts = tools.event_counts()
        refs = {user_id: config.users[i].get("ref") for i, user_id in enumerate(user_ids)}
        return report(config, sink.requests, refs, progress, counts, queue.parked(), started)


def _container(
    config: Config, url: str, clock: ManualClock, ports: Ports, webhook_url: str
) -> bootstrap.Container:
    delivery_times = {"birthday": config.delivery_time} if config.delivery_time else {}
    settings = Settings(
        stage="local",
        database_url=url,
        delivery_times=delivery_times,
        leap_day_policy=config.leap_day,
        aws_endpoint_url=ports.endpoint,
        webhook_url=webhook_url,
        webhook_secret=SIGNING_SECRET,
    )
    container = bootstrap.Container(settings, clock)
    # The embedded server never cuts a connection: no probe each time one leaves the pool.
    db = Database(url, settings.db_pool_size, prepare_threshold=settings.db_prepare_threshold, check=False)
    container.use(db=db, queue=VirtualVisibilityQueue(ports.queue, clock), dlq=ports.dlq, ledger=ports.ledger)
    return container.use(worker=replace(container.worker, rng=NoJitter()))


def create_users(users: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """POST /user for each, then POST /user/{id}/schedules for each of its `schedules`, through
    the app's routes and authorizer; returns the new users' ids, and each schedule's id with its
    place in the file ("user/schedule")."""
    from chalice.test import Client

    from app import app
    from scripts.mint_token import mint

    headers = {
        "Authorization": f"Bearer {mint('admin', 'simulator', LOCAL_JWT_SECRET, ttl=6 * 3600)}",
        "Content-Type": "application/json",
    }
    ids: list[str] = []
    schedules: dict[str, str] = {}
    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
        for position, user in enumerate(users):
            body = {name: value for name, value in user.items() if name not in ("ref", "schedules")}
            response = client.http.post("/user", headers=headers, body=json.dumps(body).encode())
            _created(response, f"user #{position} (ref {user.get('ref')!r})")
            ids.append(json.loads(response.body)["id"])
            for number, schedule in enumerate(user.get("schedules") or []):
                path = f"/user/{ids[-1]}/schedules"
                response = client.http.post(path, headers=headers, body=json.dumps(schedule).encode())
                _created(response, f"schedule #{number} of user #{position} (ref {user.get('ref')!r})")
                schedules[json.loads(response.body)["id"]] = f"{position}/{number}"
    return ids, schedules


def create_audience_schedules(schedules: Sequence[dict[str, Any]]) -> dict[str, str]:
    """POST /schedules for each, through the app's routes; each one's id with its place in the
    file ("audience/N"), the name the receiver's failure draws use."""
    from chalice.test import Client

    from app import app
    from scripts.mint_token import mint

    found: dict[str, str] = {}
    if not schedules:
        return found
    headers = {
        "Authorization": f"Bearer {mint('admin', 'simulator', LOCAL_JWT_SECRET, ttl=6 * 3600)}",
        "Content-Type": "application/json",
    }
    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
        for number, schedule in enumerate(schedules):
            response = client.http.post("/schedules", headers=headers, body=json.dumps(schedule).encode())
            _created(response, f"audience schedule #{number}")
            found[json.loads(response.body)["id"]] = f"audience/{number}"
    return found


def _created(response: Any, what: str) -> None:
    if response.status_code != 201:
        raise SimulationError(
            f"{what} was refused: {response.status_code} {response.body.decode(errors='replace')}"
        )


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _iso_at(timestamp: float) -> str:
    return iso(_at(timestamp))


def report(
    config: Config,
    requests: Sequence[Recorded],
    refs: dict[str, Any],
    progress: Progress,
    counts: Sequence[dict[str, Any]],
    in_retry: int,
    started: float,
) -> dict[str, Any]:
    deliveries = [_delivery(r, refs) for r in requests if r.accepted]
    rejected = [
        {"idempotencyKey": r.headers.get("idempotency-key"), "status": r.status, "at": _iso_at(r.received_at)}
        for r in requests
        if not r.accepted
    ]
    keys = Counter(d["idempotencyKey"] for d in deliveries)
    events: dict[str, dict[str, int]] = {}
    for row in counts:
        events.setdefault(row["event_type"], {})[row["status"]] = int(row["n"])
    stats = {
        "users": len(config.users),
        "deliveries": len(deliveries),
        "distinctKeys": len(keys),
        "duplicates": sum(n - 1 for n in keys.values()),
        "failedAttempts": len(rejected),
        "invalidSignatures": sum(1 for r in requests if r.signature_valid is not True),
        "late": sum(1 for d in deliveries if d["late"]),
        **lateness(deliveries, config.downtime),
        "wallSeconds": round(timer.perf_counter() - started, 2),
        "aws": config.aws,
        "seed": config.seed,
        "sweepPhase": config.sweep_phase,
        "virtualInstants": progress.instants,
        "sweeps": progress.sweeps,
        "messagesHandled": progress.messages,
        "inRetryAtEnd": in_retry,
        "eventsAtEnd": events,
        "rejected": rejected,
    }
    return {"deliveries": deliveries, "stats": stats}


def lateness(
    deliveries: Sequence[dict[str, Any]], downtime: Sequence[tuple[datetime, datetime]]
) -> dict[str, float | None]:
    """Seconds from target to the accepted delivery (retries included), nearest-rank p50 and
    p99 and the maximum, over the deliveries whose target fell outside every downtime."""
    seconds = sorted(
        (at - target).total_seconds()
        for d in deliveries
        for target, at in [(_parse(d["targetUtc"]), _parse(d["deliveredAt"]))]
        if not any(start <= target < end for start, end in downtime)
    )

    def rank(p: float) -> float | None:
        return seconds[max(0, math.ceil(p * len(seconds)) - 1)] if seconds else None

    return {"latenessP50": rank(0.5), "latenessP99": rank(0.99), "latenessMax": rank(1.0)}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _delivery(recorded: Recorded, refs: dict[str, Any]) -> dict[str, Any]:
    body = recorded.json()
    target = datetime.fromisoformat(body["scheduledFor"].replace("Z", "+00:00"))
    delivered = _at(recorded.received_at)
    return {
        "ref": refs.get(body["userId"]),
        "userId": body["userId"],
        "eventType": body["eventType"],
        "scheduleId": body.get("scheduleId"),
        "occurrence": body.get("occurrence"),
        "payload": body.get("payload"),
        "message": body.get("message"),
        "targetUtc": iso(target),
        "deliveredAt": iso(delivered),
        "idempotencyKey": recorded.headers.get("idempotency-key"),
        "late": is_late(target, delivered),
        "externalId": body.get("externalId"),
        "metadata": body.get("metadata"),
    }
