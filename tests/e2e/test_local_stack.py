"""`make run`'s stack, started for real in a subprocess on ephemeral ports: a user created over
HTTP gets its signed birthday webhook; the stack is stopped, an event falls due while it is
down, and after a restart it arrives, flagged late, and nothing is sent twice.

The clock offset (CLOCK_OFFSET) stands in for waiting: the first start sets "now" to 08:59:00
UTC today (a minute for the stack to start on a loaded machine: a user created after 09:00
would be due next year); the restart moves it 70 minutes on, as if the stack had been down that long.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.devstack.aws import free_port
from scripts.devstack.paths import ROOT
from scripts.devstack.webhook_sink import Recorded, WebhookSink
from tests.tokens import admin_token, bearer

pytestmark = pytest.mark.e2e

NINE_AM = timedelta(hours=9)
SECRET = "whsec_" + base64.b64encode(b"an e2e signing key of 32 bytes!!").decode()


class Stack:
    """One `scripts/run_local.py` process; its console goes to a file the test reads."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._output = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_local.py")],
            cwd=ROOT,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the test run must not reach it twice
        )
        try:
            self.wait_for(lambda: "ready" in self.log.read_text(), 90, "the stack to start")
        except AssertionError:
            self.stop()
            raise

    def wait_for(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited ({self.process.returncode}):\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 of the whole process group, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self._output.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            # SIGTERM, not SIGINT: a shell that starts jobs in the background (CI's, a script's
            # `&`) makes them ignore SIGINT, and make run stops the same way on either.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
                raise
            finally:
                self._output.close()
        return self.process.returncode


@pytest.fixture
def sink_offset() -> list[float]:
    return [0.0]


@pytest.fixture
def sink(sink_offset: list[float]) -> Iterator[WebhookSink]:
    # Arrivals are stamped on the stack's shifted clock (lateness vs the body's times); the
    # signatures carry real time and are checked by the standardwebhooks library.
    with WebhookSink(secret=SECRET, clock=lambda: time.time() + sink_offset[0]) as receiver:
        yield receiver


def stack_env(local: Path, sink: WebhookSink, api_port: int, offset: timedelta) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "AWS_", "WEBHOOK_"))}
    env.update(
        LOCAL_DIR=str(local),
        API_PORT=str(api_port),
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        WEBHOOK_URL=sink.url,
        WEBHOOK_SECRET=SECRET,
        SWEEP_EVERY="1",
        CLOCK_OFFSET=f"{int(offset.total_seconds())}s",
    )
    return env


def completed(api: str, auth: dict[str, str], user_id: str) -> list[dict[str, Any]]:
    events = requests.get(f"{api}/user/{user_id}/events", headers=auth, timeout=10).json()["items"]
    return [e for e in events if e["status"] == "COMPLETED"]


def deliveries_for(sink: WebhookSink, user_id: str) -> list[Recorded]:
    return [r for r in sink.accepted() if r.json()["userId"] == user_id]


def test_a_webhook_arrives_and_one_missed_while_down_arrives_late(
    tmp_path: Path, postgres_safe_dir: Path, sink: WebhookSink, sink_offset: list[float]
) -> None:
    now = datetime.now(UTC)
    virtual_start = datetime.combine(now.date(), datetime.min.time(), UTC) + timedelta(hours=8, minutes=59)
    offset = virtual_start - now
    sink_offset[0] = offset.total_seconds()
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    auth = bearer(admin_token())
    birthday = "1992-02-29" if f"{virtual_start:%m-%d}" == "02-29" else f"1990-{virtual_start:%m-%d}"

    stack = Stack(stack_env(postgres_safe_dir, sink, api_port, offset), tmp_path / "first.log")
    try:
        second = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "run_local.py")],
            env=stack_env(postgres_safe_dir, sink, free_port(), offset),
            capture_output=True,
            text=True,
            timeout=300,  # it refuses at once, after its imports: minutes on a fresh, loaded venv
        )
        assert second.returncode != 0
        assert "already running" in second.stderr

        def create(first: str, timezone: str) -> dict[str, Any]:
            body = {"firstName": first, "lastName": "Lovelace", "dateOfBirth": birthday, "timezone": timezone}
            response = requests.post(f"{api}/user", json=body, headers=auth, timeout=10)
            assert response.status_code == 201, response.text
            return dict(response.json())

        on_time = create("Ada", "UTC")  # due at 09:00 UTC: a minute after the start
        created = datetime.fromisoformat(on_time["createdAt"].replace("Z", "+00:00"))
        assert created < virtual_start + timedelta(minutes=1), "the stack took over a minute to start"
        missed = create("Byron", "Etc/GMT+1")  # 09:00 at UTC-1 is 10:00 UTC, while the stack is down

        stack.wait_for(lambda: bool(deliveries_for(sink, on_time["id"])), 150, "the first webhook")
        [delivered] = deliveries_for(sink, on_time["id"])
        assert delivered.signature_valid is True
        assert delivered.json()["message"] == "Hey, Ada Lovelace it's your birthday"
        # The receiver answers before the worker commits: wait for PostgreSQL to say COMPLETED.
        stack.wait_for(lambda: bool(completed(api, auth, on_time["id"])), 30, "the event to complete")
        [done] = completed(api, auth, on_time["id"])
        assert done["idempotencyKey"] == delivered.headers["idempotency-key"]
        assert done["late"] is False
    finally:
        assert stack.stop() == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api}/health", timeout=2)

    later = offset + timedelta(minutes=70)
    sink_offset[0] = later.total_seconds()
    stack = Stack(stack_env(postgres_safe_dir, sink, api_port, later), tmp_path / "second.log")
    try:
        stack.wait_for(lambda: bool(deliveries_for(sink, missed["id"])), 60, "the missed webhook")
        [late] = deliveries_for(sink, missed["id"])
        assert late.signature_valid is True
        assert late.json()["scheduledFor"] == f"{virtual_start:%Y-%m-%d}T10:00:00Z"
        assert (
            late.received_at - datetime.fromisoformat(f"{virtual_start:%Y-%m-%d}T10:00:00+00:00").timestamp()
            > 300
        )
        stack.wait_for(lambda: bool(completed(api, auth, missed["id"])), 30, "the late event to complete")
        [done] = completed(api, auth, missed["id"])
        assert done["late"] is True
        time.sleep(2)  # a few more sweeps: nothing is sent again
        assert len(deliveries_for(sink, on_time["id"])) == 1
        assert len(deliveries_for(sink, missed["id"])) == 1
    finally:
        assert stack.stop() == 0


def test_make_run_prints_an_endpoint_event_on_its_console(
    tmp_path: Path, postgres_safe_dir: Path, sink: WebhookSink
) -> None:
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    auth = bearer(admin_token())
    stack = Stack(stack_env(postgres_safe_dir, sink, api_port, timedelta(0)), tmp_path / "ops.log")
    try:
        destination = {"type": "webhook", "url": f"{sink.url}/crm"}
        made = requests.post(f"{api}/endpoints", json={"destination": destination}, headers=auth, timeout=10)
        assert made.status_code == 201, made.text
        endpoint_id = made.json()["id"]
        enabled = requests.post(f"{api}/endpoints/{endpoint_id}/enable", headers=auth, timeout=10)
        assert enabled.status_code == 200, enabled.text
        # Published by the API's process to make run's topic on the emulator; printed by make run.
        printed = f"endpoint.enabled   endpoint {endpoint_id}"
        stack.wait_for(lambda: printed in stack.log.read_text(), 30, "the console's endpoint.enabled line")
    finally:
        assert stack.stop() == 0
