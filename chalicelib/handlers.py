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


# The services are imported by the function that runs them: app.py is every function's module,
# and the API and the authorizer never load the pipeline.
def sweep() -> dict[str, Any]:
    from chalicelib.services import sweeper

    c = bootstrap.container()
    return sweeper.sweep(c.db, c.clock, c.queue, c.sweep_policy).as_json()


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    from chalicelib.services import worker

    failed = worker.deliver_batch(bootstrap.container().worker, records)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
