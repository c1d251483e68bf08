"""The non-HTTP entrypoints: the schedule (sweeper) and the SQS consumer (worker).

The queue name is a constant because Chalice reads it when app.py is imported; the CDK app
points the event source at the real queue's ARN, and everything else takes QUEUE_URL.
"""

from __future__ import annotations

from typing import Any

QUEUE_NAME = "event-scheduler-deliveries"


def sweep() -> dict[str, Any]:
    raise NotImplementedError("the sweeper arrives with the delivery pipeline (issue 3)")


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    raise NotImplementedError("the worker arrives with the delivery pipeline (issue 3)")
