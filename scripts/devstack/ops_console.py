"""`make run`'s operations topic on its console: the endpoint events the API and the worker
publish (endpoint.failing, endpoint.disabled, endpoint.enabled), one line each as they arrive:

    ops       endpoint.disabled  endpoint 0b6c…  at 2026-03-03T09:00:00Z

The topic is SNS on the emulator with a queue subscribed to it (aws.create_ops_topic); this
reads that queue about once a second. In AWS the topic has an alarm instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from chalicelib.ports import Received
from scripts.devstack.repeating import Repeating, first_line


class _Queue(Protocol):
    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]: ...

    def delete(self, receipt_handle: str) -> None: ...


def line(body: str) -> str:
    """One console line for a notice (services/endpoints.announce); anything else, as it came."""
    try:
        notice = json.loads(body)
        text = f"{notice['type']:<18} endpoint {notice['endpointId']}  at {notice['at']}"
        if notice.get("detail"):
            text += f"  {notice['detail']}"
    except (ValueError, TypeError, KeyError):
        text = body[:300]
    return f"ops       {text}"


class OpsConsole(Repeating):
    def __init__(
        self,
        queue: _Queue,
        *,
        every: float = 1.0,
        out: Callable[[str], None] = lambda text: print(text, flush=True),
    ) -> None:
        super().__init__("ops-console", every)
        self._queue, self._out = queue, out
        self._away = False

    def drain(self) -> int:
        """Prints every notice waiting, oldest first as SQS hands them; returns how many."""
        printed = 0
        while True:
            received = self._queue.receive(10)
            if not received:
                return printed
            for message in received:
                self._out(line(message.body))
                self._queue.delete(message.receipt_handle)
            printed += len(received)

    def step(self) -> None:
        self.drain()
        self._away = False

    def unavailable(self, exc: Exception) -> None:
        """Said once while the emulator is away."""
        if not self._away:
            self._out(f"ops       (unavailable: {first_line(exc)})")
        self._away = True
