"""`make run` killed -9 between a webhook's 2xx and PostgreSQL's finalise: after a restart the
event completes from the delivery ledger, with no second POST; the restart stops the
PostgreSQL the killed run left behind, and a clean stop leaves no postmaster running.

The moment is made deterministic: the receiver, before it answers 200, locks the event's row
from its own connection, so the worker's finalise UPDATE waits after the ledger write; the
test kills the process group while it waits, then releases the lock.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import requests

from scripts.devstack.aws import free_port
from scripts.devstack.paths import ROOT
from scripts.devstack.postgres import stop_leftover
from scripts.devstack.webhook_sink import Reply, WebhookSink
from tests.e2e.test_local_stack import Stack, completed, deliveries_for, stack_env
from tests.tokens import admin_token, bearer

pytestmark = pytest.mark.e2e


def postmasters_on(data_dir: Path) -> list[int]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        args = process.info["cmdline"] or []
        on = Path(args[args.index("-D") + 1]) if "-D" in args else None
        if process.info["name"] == "postgres" and on and on.resolve() == data_dir.resolve():
            found.append(process.pid)
    return found


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_kill_after_the_2xx_and_before_the_finalise_sends_nothing_twice(
    tmp_path: Path, postgres_safe_dir: Path
) -> None:
    now = datetime.now(UTC)
    virtual_start = datetime.combine(now.date(), datetime.min.time(), UTC) + timedelta(
        hours=8, minutes=59, seconds=15
    )  # the user must exist before 09:00 on the shifted clock: 45 s for a start on a busy machine
    offset = virtual_start - now
    birthday = "1992-02-29" if f"{virtual_start:%m-%d}" == "02-29" else f"1990-{virtual_start:%m-%d}"
    pgdata = postgres_safe_dir / "pgdata"
    holder: dict[str, Any] = {}

    def lock_the_event_then_answer(headers: dict[str, str], body: bytes) -> Reply:
        if "conn" not in holder:  # the first delivery only
            conn = psycopg.connect(holder["database_url"])
            conn.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (json.loads(body)["eventId"],))
            holder["conn"] = conn
        return Reply(200)

    with WebhookSink(
        secret=None, clock=lambda: time.time() + offset.total_seconds(), decide=lock_the_event_then_answer
    ) as sink:
        api_port = free_port()
        env = stack_env(postgres_safe_dir, sink, api_port, offset)
        env.update(DELIVERY_LEASE="15s", PROGRESS_EVERY="1")
        api = f"http://127.0.0.1:{api_port}"
        auth = bearer(admin_token())
        stack: Stack | None = None
        try:
            stack = Stack(env, tmp_path / "first.log")
            [url] = re.findall(r"^database\s+(\S+)$", stack.log.read_text(), re.MULTILINE)
            holder["database_url"] = url
            body = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": birthday, "timezone": "UTC"}
            created = requests.post(f"{api}/user", json=body, headers=auth, timeout=10)
            assert created.status_code == 201, created.text
            user_id = created.json()["id"]

            stack.wait_for(lambda: "conn" in holder, 120, "the webhook")

            def finalise_waits() -> bool:
                with psycopg.connect(url, autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE '%UPDATE events AS e%'"
                    ).fetchone()
                return bool(row and row[0])

            stack.wait_for(finalise_waits, 30, "the worker's finalise to wait on the row lock")
            # The event is in flight: the progress line says so.
            stack.wait_for(lambda: "PROCESSING 1" in stack.log.read_text(), 10, "a progress line")
            stack.kill()
            holder["conn"].rollback()
            holder["conn"].close()
            assert postmasters_on(pgdata), "a kill -9 leaves the postmaster (its own session) running"

            stack = Stack(env, tmp_path / "second.log")
            assert "stopped the PostgreSQL" in stack.log.read_text()
            stack.wait_for(lambda: bool(completed(api, auth, user_id)), 90, "the event to complete")
            time.sleep(3)  # a few more sweeps and polls: nothing is sent again
            assert len(deliveries_for(sink, user_id)) == 1
            [done] = completed(api, auth, user_id)
            assert done["attempts"] == 1
            deliveries = requests.get(f"{api}/events/{done['id']}/deliveries", headers=auth, timeout=10)
            assert [d["outcome"] for d in deliveries.json()["items"]] == ["success"]

            stack.process.send_signal(signal.SIGTERM)
            assert stack.process.wait(60) == 0
            stack.kill()  # closes its log
            assert postmasters_on(pgdata) == []
        finally:
            if stack:
                stack.kill()
            stop_leftover(pgdata)


def run_local(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_failed_start_stops_the_postgresql_it_started(tmp_path: Path, postgres_safe_dir: Path) -> None:
    # An "emulator" that answers its probes and refuses every AWS call: the start fails once
    # PostgreSQL is up, creating the queue.
    with WebhookSink() as sink, WebhookSink() as broken:
        broken.default = Reply(status=500)
        env = stack_env(postgres_safe_dir, sink, free_port(), timedelta(0))
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{broken.port}"
        try:
            result = run_local(env)
            assert result.returncode == 1
            assert "migrated" in result.stdout  # PostgreSQL was up before the start failed
            assert "make run: creating the queue and ledger table at" in result.stderr
            assert "Traceback" not in result.stderr
            assert postmasters_on(postgres_safe_dir / "pgdata") == []
        finally:
            stop_leftover(postgres_safe_dir / "pgdata")


def test_a_taken_api_port_is_refused_before_anything_starts(postgres_safe_dir: Path) -> None:
    """It used to start, find another stack's API answering on the port, and print "ready"."""
    with WebhookSink() as sink, socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_local(stack_env(postgres_safe_dir, sink, port, timedelta(0)))
    assert result.returncode == 1
    assert f"make run: API_PORT: port {port} (the API) is in use" in result.stderr
    assert "set API_PORT=" in result.stderr
    assert "Traceback" not in result.stderr
    assert "migrated" not in result.stdout  # nothing was started
    assert not (postgres_safe_dir / "pgdata").exists()
