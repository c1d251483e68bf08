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

    def in_flight(self, since: datetime, until: datetime) -> tuple[int, int]:
        """What tools.sql's progress_counts answers (tests/integration/test_progress_counts.py)."""
        self.asked_since.append(since)
        return self.processing, sum(1 for at in self.delivered_at if since < at <= until)

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
    assert world.lines == ["progress  last 10s: claimed 520, COMPLETED 3 | in queue 497, PROCESSING 517"]


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
        "progress  last 10s: claimed 5, COMPLETED 0 | in queue 0, PROCESSING 5",
        "progress  last 10s: claimed 0, COMPLETED 1 | in queue 0, PROCESSING 4",
    ]


def test_deliveries_stamped_by_a_run_on_a_shifted_clock_never_print() -> None:
    """`make demo` at 02:00 UTC runs its clock at 09:00: its webhook's `delivered_at` is 09:00
    today. A `make run` afterwards, on the real clock, must stay quiet, before 09:00 (it
    printed "delivered 1" every 10 s until then) and when its clock passes that stamp."""
    world = World()
    world.delivered_at = [START + timedelta(hours=7)]
    progress = world.progress()
    for _ in range(7 * 360 + 2):  # every 10 s past the stamp
        progress.count_sweep(sweep_claiming(0))({}, None)
        world.now += timedelta(seconds=10)
        progress.tick()
    assert world.now > world.delivered_at[0]
    assert world.lines == []


def test_the_deliveries_that_end_the_work_get_their_line() -> None:
    world = World()
    progress = world.progress()
    progress.count_sweep(sweep_claiming(2))({}, None)
    world.now += timedelta(seconds=10)
    world.processing = 2
    progress.tick()
    world.now += timedelta(seconds=10)
    world.delivered_at = [START + timedelta(seconds=12), START + timedelta(seconds=13)]
    world.processing = 0
    progress.tick()  # nothing left, but these two were the work the line above showed
    world.now += timedelta(seconds=10)
    progress.tick()
    assert world.lines == [
        "progress  last 10s: claimed 2, COMPLETED 0 | in queue 0, PROCESSING 2",
        "progress  last 10s: claimed 0, COMPLETED 2 | in queue 0, PROCESSING 0",
    ]


def test_events_in_flight_at_the_start_show_their_deliveries() -> None:
    """A restart with deliveries finishing in its first interval (claimed by the last run)."""
    world = World()
    progress = world.progress()
    world.now += timedelta(seconds=10)
    world.delivered_at = [START + timedelta(seconds=3)]
    progress.tick()
    assert world.lines == ["progress  last 10s: claimed 0, COMPLETED 1 | in queue 0, PROCESSING 0"]
