"""The delivery queue and its dead-letter queue.

The worker moves failures to the DLQ itself, after MAX_ATTEMPTS; SQS's own redrive
(chalicelib.settings.DLQ_MAX_RECEIVE_COUNT, well above it) is the safety net for a message the
worker cannot handle at all, so that an outage's receives never dead-letter one. A message
stays in the DLQ 14 days for inspection and redrive. The visibility
timeout is six times the worker's timeout, as AWS advises for Lambda event sources, so a
message is never handed to a second worker while the first may still be running.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.settings import DLQ_MAX_RECEIVE_COUNT

VISIBILITY_FACTOR = 6


class DeliveryQueue(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        worker_timeout_seconds: int,
        max_attempts: int,
        queue_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_attempts >= DLQ_MAX_RECEIVE_COUNT:
            raise ValueError(f"MAX_ATTEMPTS {max_attempts} must be below {DLQ_MAX_RECEIVE_COUNT}")
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Deliveries",
            queue_name=queue_name,
            visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * worker_timeout_seconds),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=DLQ_MAX_RECEIVE_COUNT, queue=self.dead_letters
            ),
        )
