"""`make run`'s operations topic on its console: the endpoint events the API and the worker
publish (endpoint.failing, endpoint.disabled, endpoint.enabled), one line each as they arrive:

    ops       endpoint.disabled  endpoint 0b6c…  at 2026-03-03T09:00:00Z

The topic is SNS on the emulator with a queue subscribed to it (aws.create_ops_topic); this
reads that queue about once a second. In AWS the topic has an alarm instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Protocol

from chalicelib.ports import Received


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


class OpsConsole:
    def __init__(
        self,
        queue: _Queue,
        *,
        every: float = 1.0,
        out: Callable[[str], None] = lambda text: print(text, flush=True),
    ) -> None:
        self._queue, self.every, self._out = queue, every, out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ops-console", daemon=True)

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

    def start(self) -> OpsConsole:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        away = False
        while not self._stop.wait(self.every):
            try:
                self.drain()
                away = False
            except Exception as exc:  # the emulator is away: say so once, keep going
                if not away:
                    self._out(f"ops       (unavailable: {str(exc).splitlines()[0][:120]})")
                away = True
