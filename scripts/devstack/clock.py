"""A clock that tests, the simulator and the benchmarks move by hand (the app's is
chalicelib.adapters.clock.SystemClock); not in the Lambda package."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class ManualClock:
    """Stands still until told to move; safe to read from several threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)

    def sleep_until(self, instant: datetime) -> None:
        """Moves the clock there, unless it is there already: waiting takes no time."""
        with self._lock:
            self._now = max(self._now, instant.astimezone(UTC))

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now
