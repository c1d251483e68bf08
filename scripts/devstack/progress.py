"""`make run`'s progress line while there is work, quiet when idle:

    progress  last 10s: claimed 500, COMPLETED 480 | in queue 1020, PROCESSING 1500

Claimed comes from the sweep handler's own summary, COMPLETED and PROCESSING from PostgreSQL
(COMPLETED with a `delivered_at` inside the interval, on the app's clock), in queue
from SQS's approximate counts (visible, in flight and delayed).

Quiet when idle means quiet: a line needs something claimed, queued or PROCESSING, or
deliveries just after such a line (the tail of the work it showed). Deliveries alone, with
nothing before them, are another run's: one under another CLOCK_OFFSET (`make demo`'s, say)
stamped them with its own clock, which this run's clock reaches only later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.postgres import Database
from scripts.devstack.repeating import Repeating, first_line
from scripts.devstack.store import tool_transaction


@dataclass(frozen=True)
class Sample:
    claimed: int
    completed: int
    in_queue: int
    processing: int

    @property
    def idle(self) -> bool:
        return not (self.claimed or self.completed or self.in_queue or self.processing)

    @property
    def working(self) -> bool:
        """Work this run can see now: claims in the interval, messages, events in flight."""
        return bool(self.claimed or self.in_queue or self.processing)

    def line(self, every: float) -> str:
        return (
            f"progress  last {every:g}s: claimed {self.claimed}, COMPLETED {self.completed}"
            f" | in queue {self.in_queue}, PROCESSING {self.processing}"
        )


class Progress(Repeating):
    """Counts what the sweep claims (`count_sweep` wraps its handler) and, every `every`
    seconds, prints a line while there is work, and one more for the deliveries that end it."""

    def __init__(
        self,
        *,
        in_flight: Callable[[datetime, datetime], tuple[int, int]],
        in_queue: Callable[[], int],
        now: Callable[[], datetime],
        every: float = 10.0,
        out: Callable[[str], None] = lambda line: print(line, flush=True),
    ) -> None:
        """`in_flight(since, until)` answers (PROCESSING, COMPLETED in (since, until]);
        `in_queue()` the depth."""
        self._in_flight, self._in_queue, self._now = in_flight, in_queue, now
        super().__init__("progress", every)
        self._out = out
        self._claimed = 0
        self._since = now()
        self._was_working = True  # a start with events in flight shows their deliveries
        self._lock = threading.Lock()

    def count_sweep(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def counted(event: Any, context: Any) -> Any:
            result = handler(event, context)
            if isinstance(result, dict):
                with self._lock:
                    self._claimed += int(result.get("claimed", 0)) + int(result.get("requeued", 0))
            return result

        return counted

    def sample(self) -> Sample:
        """The interval since the previous sample."""
        now = self._now()
        processing, completed = self._in_flight(self._since, now)
        with self._lock:
            claimed, self._claimed = self._claimed, 0
        self._since = now
        return Sample(claimed, completed, self._in_queue(), processing)

    def tick(self) -> Sample:
        sample = self.sample()
        if sample.working or (sample.completed and self._was_working):
            self._out(sample.line(self.every))
        self._was_working = sample.working
        return sample

    def step(self) -> None:
        self.tick()

    def unavailable(self, exc: Exception) -> None:
        self._out(f"progress  (unavailable: {first_line(exc)})")


def postgres_in_flight(url: str) -> Callable[[datetime, datetime], tuple[int, int]]:
    db = Database(url, max_size=1)

    def counts(since: datetime, until: datetime) -> tuple[int, int]:
        with tool_transaction(db) as tools:
            return tools.progress_counts(since, until)

    return counts
