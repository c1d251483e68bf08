#!/usr/bin/env python3
"""A burst through `make run`: N users due in the same minute, POSTs counted at a receiver.

    .venv/bin/python scripts/burst.py --users 2000 [--port-base 20700] [--timeout 900]
        [--receiver-delay SECONDS] [--local-dir DIR]

Starts `make run` on a fresh embedded PostgreSQL of its own (DATABASE_URL), its moto server on
port-base+2, its API on port-base, and the webhook pointed at a receiver in this process
(port-base+1) that counts POSTs per idempotency key. The birthday delivery time
(DELIVERY_TIME_BIRTHDAY) is set to the first whole UTC minute after the users can all be
created; every user is born today in UTC, created through the real API. Then it samples
PostgreSQL and the queue every few seconds (a progress line: statuses, queue depth, POSTs)
until every event of that minute is COMPLETED or --timeout passes, stops `make run`, and
prints one JSON line: time from the due minute to the last COMPLETED, POSTs, duplicates, the
largest queue depth and by how much it ever exceeded the active (PENDING + PROCESSING) count.

Exit status 0 when all were delivered exactly once in time, 1 otherwise.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import base64
import contextlib
import json
import math
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # pgserver, on a machine without one

import psycopg
import requests

from chalicelib.adapters import sqs as sqs_adapter
from scripts.devstack import aws
from scripts.devstack.paths import ROOT
from scripts.devstack.postgres import EmbeddedPostgres
from scripts.devstack.webhook_sink import Reply, WebhookSink

HOST = "127.0.0.1"
SECRET = "whsec_" + base64.b64encode(b"event-scheduler burst signing key").decode()
CREATE_RATE = 50.0
"""Users a second the API is assumed to create at worst (~110 here): sets the due minute."""
STATUS_SQL = (
    "SELECT status, count(*) FROM events WHERE event_type = 'birthday' AND target_utc = %s GROUP BY 1"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--port-base", type=int, default=20700, help="API; +1 receiver; +2 moto")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds after the due minute")
    p.add_argument("--receiver-delay", type=float, default=0.0, help="seconds the receiver waits per POST")
    p.add_argument("--local-dir", type=Path, help="make run's LOCAL_DIR (default: a temporary folder)")
    p.add_argument("--sample-every", type=float, default=5.0)
    return p


def start_stack(env: dict[str, str], log: IO[str]) -> subprocess.Popen[str]:
    # Its own session, so stopping it reaches make and run_local.py together.
    return subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def relay(stack: subprocess.Popen[str], log: IO[str], ready: threading.Event, lines: list[str]) -> None:
    assert stack.stdout is not None
    for line in stack.stdout:
        log.write(line)
        log.flush()
        lines.append(line)
        if line.startswith("ready"):
            ready.set()
        if not line.startswith(("token", "          export", '{"_aws"')):
            print(f"stack | {line}", end="", flush=True)
    ready.set()


def stop_stack(stack: subprocess.Popen[str]) -> None:
    if stack.poll() is None:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()


def token_from(lines: list[str]) -> str:
    for line in lines:
        if line.startswith("token"):
            return line.split()[1]
    raise RuntimeError("make run printed no token")


def create_users(api: str, token: str, count: int, today: datetime) -> float:
    started = time.monotonic()
    born = f"1990-{today:%m-%d}" if f"{today:%m-%d}" != "02-29" else "1992-02-29"
    local = threading.local()

    def create(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
        body = {"firstName": "Burst", "lastName": f"User{i}", "dateOfBirth": born, "timezone": "UTC"}
        response = session.post(f"{api}/user", json=body, timeout=30)
        if response.status_code != 201:
            raise RuntimeError(f"POST /user answered {response.status_code}: {response.text[:200]}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    return time.monotonic() - started


def sample(db_url: str, sqs: Any, queue_url: str, due: datetime) -> tuple[dict[str, int], int]:
    with psycopg.connect(db_url) as conn:
        statuses = {status: int(n) for status, n in conn.execute(STATUS_SQL, (due,)).fetchall()}
    names = list(sqs_adapter.DEPTH_ATTRIBUTES)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return statuses, sum(int(attributes.get(name, 0)) for name in names)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    aws.use_fake_credentials()
    api_port, sink_port, aws_port = args.port_base, args.port_base + 1, args.port_base + 2
    now = datetime.now(UTC)
    lead = timedelta(seconds=30 + math.ceil(args.users / CREATE_RATE))
    due = (now + lead + timedelta(minutes=1)).replace(second=0, microsecond=0)
    with contextlib.ExitStack() as stack:
        local = args.local_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="burst-")))
        local.mkdir(parents=True, exist_ok=True)
        pg = EmbeddedPostgres(local / "burst-pg")
        stack.callback(pg.close)
        db_url = pg.url()
        sink = WebhookSink(HOST, sink_port, secret=SECRET)
        sink.record = False
        sink.default = Reply(delay=args.receiver_delay)
        stack.enter_context(sink)
        env = dict(os.environ) | aws.FAKE_CREDENTIALS
        env |= {
            "API_PORT": str(api_port),
            "SINK_PORT": str(sink_port),
            "AWS_ENDPOINT_URL": f"http://{HOST}:{aws_port}",
            "LOCAL_DIR": str(local),
            "DATABASE_URL": db_url,
            "WEBHOOK_URL": sink.url,
            "WEBHOOK_SECRET": SECRET,
            "DELIVERY_TIME_BIRTHDAY": f"{due:%H:%M}",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        log = stack.enter_context((local / "make-run.log").open("w"))
        process = start_stack(env, log)
        stack.callback(stop_stack, process)
        ready, lines = threading.Event(), []
        threading.Thread(target=relay, args=(process, log, ready, lines), daemon=True).start()
        if not ready.wait(180) or process.poll() is not None:
            print("burst.py: make run did not become ready", file=sys.stderr)
            return 1
        api = f"http://{HOST}:{api_port}"
        created_in = create_users(api, token_from(lines), args.users, now)
        sqs = sqs_adapter.client("us-east-1", env["AWS_ENDPOINT_URL"])
        queue_url = sqs.get_queue_url(QueueName=aws.local_names(local).queue)["QueueUrl"]
        statuses, _ = sample(db_url, sqs, queue_url, due)
        print(f"burst | created {args.users} users in {created_in:.1f}s; due {due:%H:%M:%S} UTC: {statuses}")
        if sum(statuses.values()) != args.users:
            print(
                "burst.py: not every user's birthday falls in the due minute (created too late?)",
                file=sys.stderr,
            )
            return 1
        result = watch(args, db_url, sqs, queue_url, due, sink)
        result |= {
            "users": args.users,
            "createSeconds": round(created_in, 1),
            "receiverDelay": args.receiver_delay,
        }
    print(json.dumps(result))
    # The samples are not atomic: a batch finished in PostgreSQL may not be deleted from the
    # queue yet, and another may finish between the two reads.
    ok = (
        result["completed"] == args.users and result["duplicates"] == 0 and result["maxDepthOverActive"] <= 20
    )
    return 0 if ok else 1


def watch(
    args: argparse.Namespace, db_url: str, sqs: Any, queue_url: str, due: datetime, sink: WebhookSink
) -> dict[str, Any]:
    deadline = due + timedelta(seconds=args.timeout)
    max_depth, excess, done_at = 0, 0, None
    statuses: dict[str, int] = {}
    while datetime.now(UTC) < deadline:
        statuses, depth = sample(db_url, sqs, queue_url, due)
        max_depth = max(max_depth, depth)
        # Sampled after the statuses: a claim in between can only make depth look larger.
        excess = max(excess, depth - statuses.get("PROCESSING", 0) - statuses.get("PENDING", 0))
        since = (datetime.now(UTC) - due).total_seconds()
        print(f"burst | {since:+7.0f}s  {statuses}  queue depth {depth}  POSTs {sink.count}", flush=True)
        if statuses.get("COMPLETED", 0) == args.users:
            done_at = since
            break
        time.sleep(args.sample_every)
    return {
        "dueAt": due.isoformat().replace("+00:00", "Z"),
        "allCompletedAfterSeconds": None if done_at is None else round(done_at, 1),
        "completed": statuses.get("COMPLETED", 0),
        "statusesAtEnd": statuses,
        "posts": sink.count,
        "distinctKeys": len(sink.keys),
        "duplicates": sink.count - len(sink.keys),
        "maxQueueDepth": max_depth,
        "maxDepthOverActive": excess,
    }


if __name__ == "__main__":
    sys.exit(main())
