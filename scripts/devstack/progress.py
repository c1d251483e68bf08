"""`make run`'s progress line while there is work, quiet when idle:

    progress  last 10s: claimed 500, delivered 480 | in queue 1020, PROCESSING 1500

Claimed comes from the sweep handler's own summary, delivered and PROCESSING from PostgreSQL
(delivered = completed with a `delivered_at` inside the interval), in queue from SQS's
approximate counts (visible, in flight and delayed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.postgres import Database


@dataclass(frozen=True)
class Sample:
    claimed: int
    delivered: int
    in_queue: int
    processing: int

    @property
    def idle(self) -> bool:
        return not (self.claimed or self.delivered or self.in_queue or self.processing)

    def line(self, every: float) -> str:
        return (
            f"progress  last {every:g}s: claimed {self.claimed}, delivered {self.delivered}"
            f" | in queue {self.in_queue}, PROCESSING {self.processing}"
        )


class Progress:
    """Counts what the sweep claims (`count_sweep` wraps its handler) and, every `every`
    seconds, prints a line unless nothing is claimed, delivered, queued or PROCESSING."""

    def __init__(
        self,
        *,
        in_flight: Callable[[datetime], tuple[int, int]],
        in_queue: Callable[[], int],
        now: Callable[[], datetime],
        every: float = 10.0,
        out: Callable[[str], None] = lambda line: print(line, flush=True),
    ) -> None:
        """`in_flight(since)` answers (PROCESSING, delivered since); `in_queue()` the depth."""
        self._in_flight, self._in_queue, self._now = in_flight, in_queue, now
        self.every, self._out = every, out
        self._claimed = 0
        self._since = now()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

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
        processing, delivered = self._in_flight(self._since)
        with self._lock:
            claimed, self._claimed = self._claimed, 0
        self._since = now
        return Sample(claimed, delivered, self._in_queue(), processing)

    def tick(self) -> Sample:
        sample = self.sample()
        if not sample.idle:
            self._out(sample.line(self.every))
        return sample

    def start(self) -> Progress:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.tick()
            except Exception as exc:  # the database or the emulator is away: say so, keep going
                self._out(f"progress  (unavailable: {str(exc).splitlines()[0][:120]})")


def postgres_in_flight(url: str) -> Callable[[datetime], tuple[int, int]]:
    db = Database(url, max_size=1)

    def counts(since: datetime) -> tuple[int, int]:
        with db.transaction() as store:
            return store.progress_counts(since)

    return counts
