"""A queue whose delays run on the simulator's virtual clock, whichever queue is under it.

Two kinds of delay: the sweeper sends a message with `DelaySeconds` (it claims ahead and the
message must arrive at its event's target), and the worker defers a transient failure with
`change_visibility(receipt, seconds)`. moto counts both in real time, the in-memory queue on
the clock it was given; a replay that crosses months in seconds needs them in virtual time,
and the same way in both. So:
- a delayed send is held here, with its virtual due time, and sent to the real queue (without
  a delay) when the virtual clock reaches it; `depth()` counts it, as SQS's
  ApproximateNumberOfMessagesDelayed would;
- a deferred message is parked: hidden in the real queue for as long as SQS allows, and noted
  with its virtual due time. When the virtual clock reaches that, `release_due()` makes it
  visible again (visibility 0) and the next receive hands it out with its receive count
  raised, as SQS would.
Everything else passes through to the real queue.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.domain.overview import QueueCounts
from chalicelib.ports import Clock, Queue, Received

PARK_SECONDS = 12 * 3600 - 60
"""Just under SQS's 12-hour ceiling on a visibility timeout."""


class VirtualVisibilityQueue:
    def __init__(self, inner: Queue, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock
        self._parked: list[tuple[datetime, int, str]] = []
        self._held: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        now = self.clock.now()
        at_once = []
        with self._lock:
            for i, body in enumerate(bodies):
                delay = delays[i] if i < len(delays) else 0
                if delay > 0:
                    heapq.heappush(self._held, (now + timedelta(seconds=delay), next(self._order), body))
                else:
                    at_once.append(i)
        if not at_once:
            return []
        failed = self.inner.send_batch([bodies[i] for i in at_once])
        return [at_once[i] for i in failed]

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        self.inner.send(body, attributes)

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        return self.inner.receive(max_messages, visibility_timeout)

    def delete(self, receipt_handle: str) -> None:
        self.inner.delete(receipt_handle)

    def depth(self) -> int:
        with self._lock:
            held = len(self._held)
        return self.inner.depth() + held

    def counts(self) -> QueueCounts:
        """The held sends count as delayed, as SQS would count them."""
        with self._lock:
            held = len(self._held)
        inner = self.inner.counts()
        return replace(inner, delayed=inner.delayed + held)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        if seconds <= 0:
            self.inner.change_visibility(receipt_handle, 0)
            return
        self.inner.change_visibility(receipt_handle, PARK_SECONDS)
        due = self.clock.now() + timedelta(seconds=seconds)
        with self._lock:
            heapq.heappush(self._parked, (due, next(self._order), receipt_handle))

    def next_release(self) -> datetime | None:
        """When the earliest held or parked message falls due (virtual time), if any."""
        with self._lock:
            return min((heap[0][0] for heap in (self._parked, self._held) if heap), default=None)

    def parked(self) -> int:
        with self._lock:
            return len(self._parked)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def release_due(self) -> int:
        """Sends every held message and makes visible every parked one whose virtual delay has
        passed, oldest first; returns how many."""
        now = self.clock.now()
        released = 0
        with self._lock:
            due_bodies = []
            while self._held and self._held[0][0] <= now:
                due_bodies.append(heapq.heappop(self._held)[2])
        for start in range(0, len(due_bodies), 10):
            chunk = due_bodies[start : start + 10]
            if self.inner.send_batch(chunk):
                raise RuntimeError("the queue refused a delayed message the simulator released")
            released += len(chunk)
        while True:
            with self._lock:
                if not self._parked or self._parked[0][0] > now:
                    return released
                _, _, receipt = heapq.heappop(self._parked)
            self.inner.change_visibility(receipt, 0)
            released += 1
