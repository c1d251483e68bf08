"""Drive the Chalice app's own schedule and SQS handlers the way Lambda does.

`chalice local` serves routes only. This fires the schedule handler with an EventBridge-shaped
event every `sweep_every` seconds, and polls the queue, handing each batch to the SQS handler
as a Lambda SQS event with a Lambda context: what succeeded is deleted, `batchItemFailures`
and a raised error leave messages to return after their visibility timeout
(scripts/devstack/event_source.py holds that contract).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.ports import Queue
from scripts.devstack import event_source

logger = logging.getLogger("lambda-runner")

LambdaHandler = Callable[[dict[str, Any], Any], Any]
ACCOUNT = "000000000000"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 60.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def schedule_event(now: datetime, region: str = "us-east-1", rule: str = "sweep") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


@dataclass
class LambdaRunner:
    sweep: LambdaHandler
    deliver: LambdaHandler
    queue: Queue
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sweep_every: float = 60.0
    idle_wait: float = 0.5
    """How long to wait after an empty receive (the real event source long-polls)."""
    region: str = "us-east-1"
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def sweep_once(self) -> Any:
        return self.sweep(schedule_event(self.now(), self.region), LambdaContext("event-scheduler-sweep"))

    def _handler(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.deliver({"Records": records}, LambdaContext("event-scheduler-deliver"))
        return dict(response or {})

    def poll_once(self) -> int:
        """One batch through the SQS handler; returns how many messages it held."""
        return event_source.poll_once(self.queue, self._handler)

    def drain(self, max_polls: int = 10_000) -> int:
        """Polls until a receive comes back empty (the simulator and tests step with this)."""
        return event_source.drain(self.queue, self._handler, max_polls=max_polls)

    def start(self) -> LambdaRunner:
        self._threads = [
            threading.Thread(target=self._sweep_forever, name="schedule", daemon=True),
            threading.Thread(target=self._poll_forever, name="sqs-poller", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=70)

    def _sweep_forever(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sweep_once()
            except Exception:
                logger.exception("the schedule handler raised; it runs again at the next tick")
            self._stop.wait(max(0.0, self.sweep_every - (time.monotonic() - started)))

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self.idle_wait)
            except Exception:
                logger.exception(
                    "the SQS handler or the queue failed; the batch returns after its visibility timeout"
                )
                self._stop.wait(1.0)
