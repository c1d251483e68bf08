"""Structured JSON logs and CloudWatch Embedded Metric Format, through Powertools.

Built on first use (never at import). Lines about an event carry `eventId` and
`idempotencyKey` (see `event_fields`). Metrics are collected per handler run and flushed once
at its end; a lock keeps the shared Powertools metric set safe when the benchmark runs many
worker threads in one process.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "event-scheduler"
NAMESPACE = "EventScheduler"
# Every metric the app emits; the CDK dashboards and alarms may name only these (a test holds it).
METRIC_NAMES = frozenset(
    {
        "Claimed", "Requeued", "EnqueueFailed", "OldestLatenessSeconds", "AudienceWritten",
        "Completed", "CompletedLate", "LatenessSeconds", "Failed", "Skipped", "Deferred", "Dropped",
        "DeliveryLatencyMs", "Unprocessed", "Held",
    }
)  # fmt: skip
_lock = threading.Lock()

Count = MetricUnit.Count
Seconds = MetricUnit.Seconds
Milliseconds = MetricUnit.Milliseconds


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time (tests and tools redirect it)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@cache
def log() -> Logger:
    return Logger(service=SERVICE, stream=_CurrentStdout())  # type: ignore[arg-type]


@cache
def _metrics() -> Metrics:
    return Metrics(namespace=NAMESPACE, service=SERVICE)


def event_fields(event_id: Any, idempotency_key: str, **more: Any) -> dict[str, Any]:
    return {"eventId": str(event_id), "idempotencyKey": idempotency_key, **more}


def emit(values: Iterable[tuple[str, MetricUnit, float]]) -> None:
    """Adds metric values and flushes them as one EMF document (several if there are many)."""
    values = list(values)
    if not values:
        return
    unknown = {name for name, _, _ in values} - METRIC_NAMES
    if unknown:
        raise ValueError(f"metrics {sorted(unknown)} are not in METRIC_NAMES")
    if is_metrics_disabled():
        # Not added at all: a disabled flush keeps the values, and Powertools prints the set
        # unconditionally once a metric holds 100 of them.
        return
    metrics = _metrics()
    with _lock:
        for name, unit, value in values:
            metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()
