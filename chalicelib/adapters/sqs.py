"""SQS through a botocore client: the delivery queue and its DLQ, plus the helper that creates
them locally."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.config import Config

from chalicelib.adapters import aws_clients
from chalicelib.domain.overview import QueueCounts
from chalicelib.domain.sweeping import MAX_DELAY_SECONDS
from chalicelib.ports import Received

# Connections are reused across invocations; retries stay short because the sweeper and the
# worker both have their own recovery (leases, visibility) and a time budget.
DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16)


def client(region: str, endpoint_url: str | None = None) -> Any:
    return aws_clients.client("sqs", region, endpoint_url, _CONFIG)


class SqsQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self.url = url

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        if not bodies:
            return []
        entries: list[dict[str, Any]] = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        for entry, delay in zip(entries, delays, strict=False):
            if delay > 0:
                entry["DelaySeconds"] = min(int(delay), MAX_DELAY_SECONDS)
        response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        return sorted(int(failed["Id"]) for failed in response.get("Failed", []))

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        extra: dict[str, Any] = {}
        if attributes:
            extra["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            }
        self._sqs.send_message(QueueUrl=self.url, MessageBody=body, **extra)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        extra: dict[str, Any] = {}
        if visibility_timeout is not None:
            extra["VisibilityTimeout"] = visibility_timeout
        response = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
            **extra,
        )
        return [_received(m) for m in response.get("Messages", [])]

    def delete(self, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def depth(self) -> int:
        return self.counts().total

    def counts(self) -> QueueCounts:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=list(DEPTH_ATTRIBUTES))
        visible, in_flight, delayed = (int(attributes["Attributes"].get(n, 0)) for n in DEPTH_ATTRIBUTES)
        return QueueCounts(visible, in_flight, delayed)


def _received(message: dict[str, Any]) -> Received:
    attributes = dict(message.get("Attributes", {}))
    for name, value in message.get("MessageAttributes", {}).items():
        attributes[name] = value.get("StringValue", "")
    return Received(message["MessageId"], message["ReceiptHandle"], message["Body"], attributes)
