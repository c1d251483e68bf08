"""make run's console loops (scripts/devstack/repeating.py) when what they read is away: the
progress line says so at each step, the operations console once until it is back; neither
loop stops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from chalicelib.ports import Received
from scripts.devstack.ops_console import OpsConsole
from scripts.devstack.progress import Progress

STEPS = 4


class _AwayQueue:
    """Refuses its first `away` receives (an empty message, as some errors have), then is empty;
    `done` is set after STEPS receives in all."""

    def __init__(self, away: int) -> None:
        self.away, self.calls, self.done = away, 0, threading.Event()

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        self.calls += 1
        if self.calls >= STEPS:
            self.done.set()
        if self.calls <= self.away:
            raise ConnectionError("" if self.calls == 1 else "emulator away\ntraceback")
        return []

    def delete(self, receipt_handle: str) -> None:
        raise AssertionError("nothing was received")


def test_the_operations_console_says_once_that_the_emulator_is_away_and_goes_on() -> None:
    lines: list[str] = []
    queue = _AwayQueue(away=STEPS - 1)
    console = OpsConsole(queue, every=0.001, out=lines.append).start()
    assert queue.done.wait(10)
    console.stop()
    assert lines == ["ops       (unavailable: ConnectionError)"]


def test_the_progress_line_says_at_each_step_that_the_database_is_away() -> None:
    lines: list[str] = []
    done = threading.Event()

    def in_flight(since: datetime, until: datetime) -> Any:
        if len(lines) >= STEPS - 1:
            done.set()
        raise ConnectionError("database away\ntraceback")

    progress = Progress(
        in_flight=in_flight, in_queue=lambda: 0, now=lambda: datetime(2026, 1, 1, tzinfo=UTC), every=0.001,
        out=lines.append,
    ).start()  # fmt: skip
    assert done.wait(10)
    progress.stop()
    assert len(lines) >= STEPS - 1
    assert set(lines) == {"progress  (unavailable: database away)"}
