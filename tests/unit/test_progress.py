"""make run's progress line: one per interval while there is work, nothing when idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scripts.devstack.progress import Progress

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class World:
    """What the line reads, set by the test: PROCESSING, deliveries by time, queue depth."""

    def __init__(self) -> None:
        self.now = START
        self.processing = 0
        self.delivered_at: list[datetime] = []
        self.depth = 0
        self.lines: list[str] = []
        self.asked_since: list[datetime] = []

    def in_flight(self, since: datetime) -> tuple[int, int]:
        self.asked_since.append(since)
        return self.processing, sum(1 for at in self.delivered_at if at > since)

    def progress(self) -> Progress:
        return Progress(
            in_flight=self.in_flight,
            in_queue=lambda: self.depth,
            now=lambda: self.now,
            every=10,
            out=self.lines.append,
        )


def sweep_claiming(claimed: int, requeued: int = 0) -> Any:
    return lambda event, context: {"claimed": claimed, "requeued": requeued, "found": claimed}


def test_idle_prints_nothing() -> None:
    world = World()
    progress = world.progress()
    progress.count_sweep(sweep_claiming(0))({}, None)
    world.now += timedelta(seconds=10)
    assert progress.tick().idle
    assert world.lines == []


def test_a_backlog_prints_claimed_delivered_queued_and_processing() -> None:
    world = World()
    progress = world.progress()
    sweep = progress.count_sweep(sweep_claiming(500, requeued=20))
    assert sweep({}, None)["claimed"] == 500  # the handler's answer passes through
    world.now += timedelta(seconds=10)
    world.delivered_at = [START + timedelta(seconds=s) for s in (1, 2, 3)]
    world.processing, world.depth = 517, 497
    progress.tick()
    assert world.lines == ["progress  last 10s: claimed 520, delivered 3 | in queue 497, PROCESSING 517"]


def test_each_interval_counts_only_its_own_claims_and_deliveries() -> None:
    world = World()
    progress = world.progress()
    progress.count_sweep(sweep_claiming(5))({}, None)
    world.now += timedelta(seconds=10)
    world.processing = 5
    progress.tick()
    world.now += timedelta(seconds=10)
    world.delivered_at = [START + timedelta(seconds=15)]
    world.processing = 4
    progress.tick()
    world.now += timedelta(seconds=10)
    world.processing = 0
    progress.tick()  # nothing left: quiet again
    assert world.asked_since == [START, START + timedelta(seconds=10), START + timedelta(seconds=20)]
    assert world.lines == [
        "progress  last 10s: claimed 5, delivered 0 | in queue 0, PROCESSING 5",
        "progress  last 10s: claimed 0, delivered 1 | in queue 0, PROCESSING 4",
    ]
