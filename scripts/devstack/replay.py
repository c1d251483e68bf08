"""The simulator's virtual-time loop: from instant to instant with work, skipping idle time.

The schedule fires once a minute, `phase` seconds into it (EventBridge's cron rule fires at some
second of its minute). An instant has work when the sweeper has (a PENDING event falls due
within its look-ahead, an audience schedule's occurrence comes within it in some zone, a lease
runs out: swept at the next firing) or a message comes due (a
delayed send reaching its target, a retry at its exact second: the SQS event source polls all
the time). At each instant, in this order: due messages are released, the schedule handler
runs if it fires then and has work, then the SQS handler is fed until a receive comes back
empty. During a downtime window nothing runs; the clock goes straight to its end, where
everything resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.adapters.postgres import Database
from chalicelib.services import materialiser
from scripts.devstack.clock import ManualClock
from scripts.devstack.lambda_runner import LambdaRunner
from scripts.devstack.store import ToolStore
from scripts.devstack.virtual_queue import VirtualVisibilityQueue

MINUTE = timedelta(minutes=1)


def floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def firing_at_or_after(instant: datetime, phase: timedelta) -> datetime:
    """The schedule's first firing at or after `instant`."""
    firing = floor_minute(instant - phase) + phase
    return firing if firing >= instant else firing + MINUTE


def is_firing(instant: datetime, phase: timedelta) -> bool:
    return firing_at_or_after(instant, phase) == instant


@dataclass
class Progress:
    instants: int = 0
    sweeps: int = 0
    messages: int = 0


@dataclass
class Replay:
    tools: ToolStore
    """Asked before every instant when the sweeper next has work: a connection of its own in
    autocommit, one round trip a question instead of four through the app's pool."""
    db: Database
    """The app's, for when an audience zone's occurrence next comes."""
    clock: ManualClock
    queue: VirtualVisibilityQueue
    runner: LambdaRunner
    end: datetime
    downtime: Sequence[tuple[datetime, datetime]] = ()
    phase: timedelta = timedelta(0)
    """How far into each minute the schedule fires."""
    lookahead: timedelta = timedelta(0)
    """The sweeper's SWEEP_LOOKAHEAD: it takes events due up to this long after it runs."""

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
        if sweep_at is not None and sweep_at <= instant and is_firing(instant, self.phase):
            self.runner.sweep_once()
            progress.sweeps += 1
        progress.messages += self.runner.drain()

    def _next_sweep(self, after: datetime) -> datetime | None:
        """The first firing after `after` at which the sweeper has work."""
        due, lease = self.tools.next_work()
        audience = materialiser.next_target(self.db, self.clock)  # written when it approaches
        work = [t for t in (due and due - self.lookahead, lease, audience and audience - self.lookahead) if t]
        if not work:
            return None
        return max(
            firing_at_or_after(min(work), self.phase),
            firing_at_or_after(after + timedelta(microseconds=1), self.phase),
        )

    def _outside_downtime(self, instant: datetime) -> datetime:
        moved = True
        while moved:
            moved = False
            for start, end in self.downtime:
                if start <= instant < end:
                    instant, moved = end, True
        return instant
