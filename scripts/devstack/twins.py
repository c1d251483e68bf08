"""In-memory twins of the queue and the ledger, for the benchmark, the simulator and tests
(held to the real adapters by tests/integration/pipeline/test_twin_contracts.py). Not in the
Lambda package: nothing under chalicelib imports them.

They keep the semantics the pipeline relies on (visibility timeouts, receive counts, a
conditional first-success write) without moto's per-call cost, which grows with queue depth.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from chalicelib.adapters.clock import SystemClock
from chalicelib.domain.overview import QueueCounts
from chalicelib.ports import Attempt, Clock, Received

DEFAULT_VISIBILITY = 30


@dataclass
class _Stored:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: float
    receive_count: int = 0
    generation: int = 0
    receipt: str | None = None


_GONE = _Stored("", "", {}, 0.0, generation=-1)


@dataclass
class MemoryQueue:
    """A standard SQS queue: at-least-once, visibility timeouts, ApproximateReceiveCount."""

    clock: Clock = field(default_factory=SystemClock)
    visibility_timeout: int = DEFAULT_VISIBILITY

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._messages: dict[str, _Stored] = {}
        self._ready: deque[tuple[str, int]] = deque()
        self._hidden: list[tuple[float, str, int]] = []
        self._receipts: dict[str, str] = {}
        self.sent = 0

    def _time(self) -> float:
        return self.clock.now().timestamp()

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        if len(bodies) > 10:
            raise ValueError("SQS takes at most 10 messages a batch")
        for i, body in enumerate(bodies):
            self._put(body, None, delays[i] if i < len(delays) else 0)
        return []

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        self._put(body, attributes, 0)

    def _put(self, body: str, attributes: dict[str, str] | None, delay: int) -> None:
        if not 0 <= delay <= 900:
            raise ValueError(f"SQS takes a DelaySeconds from 0 to 900, not {delay}")
        with self._lock:
            now = self._time()
            message_id = f"m-{next(self._ids)}"
            stored = _Stored(message_id, body, dict(attributes or {}), now)
            self._messages[message_id] = stored
            if delay > 0:
                self._hide(stored, now + delay)
            else:
                self._ready.append((message_id, 0))
            self.sent += 1

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        timeout = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        with self._lock:
            now = self._time()
            while self._hidden and self._hidden[0][0] <= now:
                _, message_id, generation = heapq.heappop(self._hidden)
                self._ready.append((message_id, generation))
            out: list[Received] = []
            while self._ready and len(out) < max_messages:
                message_id, generation = self._ready.popleft()
                stored = self._messages.get(message_id)
                if stored is None or stored.generation != generation:
                    continue  # deleted, or its visibility changed since
                out.append(self._hand_out(stored, now, timeout))
            return out

    def _hand_out(self, stored: _Stored, now: float, timeout: int) -> Received:
        stored.receive_count += 1
        stored.generation += 1
        if stored.receipt:
            self._receipts.pop(stored.receipt, None)
        stored.receipt = f"{stored.message_id}#{stored.generation}"
        self._receipts[stored.receipt] = stored.message_id
        self._hide(stored, now + timeout)
        attributes = {
            "ApproximateReceiveCount": str(stored.receive_count),
            "SentTimestamp": str(int(stored.sent_at * 1000)),
            **stored.attributes,
        }
        return Received(stored.message_id, stored.receipt, stored.body, attributes)

    def _hide(self, stored: _Stored, until: float) -> None:
        heapq.heappush(self._hidden, (until, stored.message_id, stored.generation))

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        with self._lock:
            stored = self._by_receipt(receipt_handle)
            stored.generation += 1
            self._hide(stored, self._time() + seconds)

    def delete(self, receipt_handle: str) -> None:
        with self._lock:
            message_id = self._receipts.pop(receipt_handle, None)
            if message_id is not None:
                self._messages.pop(message_id, None)

    def _by_receipt(self, receipt_handle: str) -> _Stored:
        message_id = self._receipts.get(receipt_handle)
        if message_id is None or message_id not in self._messages:
            raise KeyError(f"no message holds receipt {receipt_handle!r}")
        return self._messages[message_id]

    def depth(self) -> int:
        """Messages in the queue: visible, in flight or delayed (SQS's three counts, exact)."""
        with self._lock:
            return len(self._messages)

    def counts(self) -> QueueCounts:
        """Hidden and never received is delayed; hidden after a receive is in flight."""
        with self._lock:
            now = self._time()
            hidden = {
                message_id
                for until, message_id, generation in self._hidden
                if until > now and self._messages.get(message_id, _GONE).generation == generation
            }
            in_flight = sum(1 for i in hidden if self._messages[i].receive_count > 0)
            return QueueCounts(len(self._messages) - len(hidden), in_flight, len(hidden) - in_flight)

    def bodies(self) -> list[str]:
        with self._lock:
            return [m.body for m in self._messages.values()]


class MemoryLedger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[UUID, list[Attempt]] = {}
        self._successes: dict[str, Attempt] = {}

    def record_attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.setdefault(attempt.event_id, []).append(attempt)

    def record_success(self, attempt: Attempt) -> bool:
        with self._lock:
            if attempt.idempotency_key in self._successes:
                return False
            self._successes[attempt.idempotency_key] = replace(attempt, response_body=None)  # as DynamoLedger
            return True

    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        with self._lock:
            return {key: self._successes[key] for key in keys if key in self._successes}

    def attempts_for_event(self, event_id: UUID) -> list[Attempt]:
        with self._lock:
            return sorted(self._attempts.get(event_id, []), key=lambda a: (a.attempted_at, a.attempt))

    def attempts_for_endpoint(self, endpoint_id: UUID, since: datetime) -> list[Attempt]:
        with self._lock:
            found = [
                a
                for attempts in self._attempts.values()
                for a in attempts
                if a.endpoint_id == endpoint_id and a.attempted_at >= since
            ]
        return sorted(found, key=lambda a: a.attempted_at)
