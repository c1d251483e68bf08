"""The non-HTTP entrypoints: the schedule (sweeper) and the SQS consumer (worker).

The queue name is a constant because Chalice reads it when app.py is imported; the CDK app
points the event source at the real queue's ARN, and everything else takes QUEUE_URL. The
event source mapping must have `FunctionResponseTypes: [ReportBatchItemFailures]` for the
worker's `batchItemFailures` to count (the CDK app sets it); Chalice returns the handler's
value to Lambda unchanged.
"""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap

QUEUE_NAME = "event-scheduler-deliveries"


def sweep() -> dict[str, Any]:
    c = bootstrap.container()  # its services import their modules when first built
    summary = c.sweeper.run().as_json()
    summary["idempotencyKeysForgotten"] = c.idempotency.forget_expired()
    return summary


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    failed = bootstrap.container().worker.deliver_batch(records)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
