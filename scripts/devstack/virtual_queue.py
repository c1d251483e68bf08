"""A queue whose retry delays run on the simulator's virtual clock, whichever queue is under it.

The worker defers a transient failure with `change_visibility(receipt, seconds)`. moto counts
those seconds in real time, the in-memory queue on the clock it was given; a replay that
crosses months in seconds needs them in virtual time, and the same way in both. So a deferred
message is parked: hidden in the real queue for as long as SQS allows, and noted with its
virtual due time. When the virtual clock reaches that, `release_due()` makes it visible again
(visibility 0) and the next receive hands it out with its receive count raised, as SQS would.
Everything else passes through to the real queue.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from chalicelib.ports import Clock, Queue, Received

PARK_SECONDS = 12 * 3600 - 60
"""Just under SQS's 12-hour ceiling on a visibility timeout."""


class VirtualVisibilityQueue:
    def __init__(self, inner: Queue, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock
        self._parked: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        return self.inner.send_batch(bodies)

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        self.inner.send(body, attributes)

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        return self.inner.receive(max_messages, visibility_timeout)

    def delete(self, receipt_handle: str) -> None:
        self.inner.delete(receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        if seconds <= 0:
            self.inner.change_visibility(receipt_handle, 0)
            return
        self.inner.change_visibility(receipt_handle, PARK_SECONDS)
        due = self.clock.now() + timedelta(seconds=seconds)
        with self._lock:
            heapq.heappush(self._parked, (due, next(self._order), receipt_handle))

    def next_release(self) -> datetime | None:
        """When the earliest parked message falls due (virtual time), if any is parked."""
        with self._lock:
            return self._parked[0][0] if self._parked else None

    def parked(self) -> int:
        with self._lock:
            return len(self._parked)

    def release_due(self) -> int:
        """Makes every message whose virtual delay has passed visible again, oldest first."""
        now = self.clock.now()
        released = 0
        while True:
            with self._lock:
                if not self._parked or self._parked[0][0] > now:
                    return released
                _, _, receipt = heapq.heappop(self._parked)
            self.inner.change_visibility(receipt, 0)
            released += 1
