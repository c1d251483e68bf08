"""What Lambda's SQS event source mapping does, for the local stack, the tools and the tests.

Receives a batch, hands the handler Lambda-shaped records, and deletes every message the
handler did not list in `batchItemFailures` (ReportBatchItemFailures). A handler that raises
leaves the whole batch to come back, as in Lambda.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chalicelib.ports import Queue, Received

Handler = Callable[[list[dict[str, Any]]], dict[str, Any]]
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:event-scheduler-deliveries"


def lambda_record(message: Received, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": dict(message.attributes),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(message.body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def poll_once(queue: Queue, handler: Handler, batch_size: int = 10, visibility: int | None = None) -> int:
    """One receive and one handler call; returns how many messages were handed over."""
    received = queue.receive(batch_size, visibility)
    if not received:
        return 0
    result = handler([lambda_record(m) for m in received])
    failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
    for message in received:
        if message.message_id not in failed:
            queue.delete(message.receipt_handle)
    return len(received)


def drain(queue: Queue, handler: Handler, batch_size: int = 10, max_polls: int = 10_000) -> int:
    """Polls until a receive comes back empty; returns how many messages were handed over."""
    total = 0
    for _ in range(max_polls):
        handed = poll_once(queue, handler, batch_size)
        if not handed:
            break
        total += handed
    return total
