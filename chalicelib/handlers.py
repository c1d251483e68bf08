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
    from chalicelib.services import idempotency, sweeper  # imported by the function that runs it

    c = bootstrap.container()
    summary = sweeper.sweep(c.db, c.clock, c.queue, c.sweep_policy).as_json()
    summary["idempotencyKeysForgotten"] = idempotency.forget_expired(c.db, c.clock)
    return summary


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    failed = bootstrap.container().worker.deliver_batch(records)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
