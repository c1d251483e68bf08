"""The simulator's virtual-time loop: from instant to instant with work, skipping idle time.

An instant has work when the sweeper has (a PENDING event falls due, a lease runs out: swept at
the next minute boundary, as the schedule fires every minute) or a deferred message comes back
(a retry, at its exact second: the SQS event source polls all the time). At each instant, in
this order: parked retries are released, the schedule handler runs if it is a minute with
work, then the SQS handler is fed until a receive comes back empty. During a downtime window
nothing runs; the clock goes straight to its end, where everything resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.adapters.clock import ManualClock
from chalicelib.adapters.postgres import Database
from scripts.devstack.lambda_runner import LambdaRunner
from scripts.devstack.virtual_queue import VirtualVisibilityQueue

MINUTE = timedelta(minutes=1)


def floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def ceil_minute(instant: datetime) -> datetime:
    floor = floor_minute(instant)
    return floor if floor == instant else floor + MINUTE


@dataclass
class Progress:
    instants: int = 0
    sweeps: int = 0
    messages: int = 0


@dataclass
class Replay:
    db: Database
    clock: ManualClock
    queue: VirtualVisibilityQueue
    runner: LambdaRunner
    end: datetime
    downtime: Sequence[tuple[datetime, datetime]] = ()

    def run(self) -> Progress:
        progress = Progress()
        while True:
            sweep_at = self._next_sweep(self.clock.now())
            candidates = [t for t in (sweep_at, self.queue.next_release()) if t is not None]
            if not candidates:
                return progress
            instant = self._outside_downtime(min(candidates))
            if instant > self.end:
                return progress
            self.clock.set(instant)
            self._step(instant, sweep_at, progress)

    def _step(self, instant: datetime, sweep_at: datetime | None, progress: Progress) -> None:
        progress.instants += 1
        self.queue.release_due()
        if sweep_at is not None and sweep_at <= instant and floor_minute(instant) == instant:
            self.runner.sweep_once()
            progress.sweeps += 1
        progress.messages += self.runner.drain()

    def _next_sweep(self, after: datetime) -> datetime | None:
        """The first minute boundary after `after` at which the sweeper has work."""
        with self.db.transaction() as store:
            work = [t for t in store.next_work() if t is not None]
        if not work:
            return None
        return max(ceil_minute(min(work)), floor_minute(after) + MINUTE)

    def _outside_downtime(self, instant: datetime) -> datetime:
        moved = True
        while moved:
            moved = False
            for start, end in self.downtime:
                if start <= instant < end:
                    instant, moved = end, True
        return instant
