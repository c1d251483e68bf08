"""A team's own SQS queue, SNS topic or EventBridge bus as an endpoint: the webhook's JSON body
as the message, through a botocore client (aws_clients.py).

    SQS          MessageBody = the body; `webhook-id` and `webhook-timestamp` as message
                 attributes (a FIFO queue's MessageDeduplicationId is the webhook-id too)
    SNS          Message = the body; the same attributes (a FIFO topic's deduplication id too)
    EventBridge  Detail = the body with `webhookId` added: an entry has no id field a sender
                 sets, and a rule's target sees only the event; DetailType is the event type

Outcomes as a webhook's: throttling, a 5xx, a connection that failed may heal (TRANSIENT);
anything else the service refused (no such queue, access denied) will not (PERMANENT).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.delivery import Outcome, Verdict
from chalicelib.ports import Delivery

SOURCE = "event-scheduler"
_TRANSIENT_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "InternalFailure",
     "InternalError", "ServiceUnavailable", "KMSThrottlingException", "RequestLimitExceeded"}
)  # fmt: skip


def _attributes(delivery: Delivery, timestamp: int) -> dict[str, dict[str, str]]:
    return {
        "webhook-id": {"DataType": "String", "StringValue": delivery.idempotency_key},
        "webhook-timestamp": {"DataType": "Number", "StringValue": str(timestamp)},
    }


class _AwsSender:
    def __init__(self, client: Any, wall_clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._wall_clock = wall_clock

    def deliver(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        try:
            self._send(delivery, int(self._wall_clock()))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) or None
            transient = code in _TRANSIENT_CODES or (status is not None and status >= 500)
            verdict = Verdict.TRANSIENT if transient else Verdict.PERMANENT
            return Outcome(verdict, status, f"{code}: {error.get('Message', '')}"[:200], _ms(started))
        except (BotoCoreError, OSError) as exc:  # no connection, a timeout: may heal
            return Outcome(Verdict.TRANSIENT, None, f"{type(exc).__name__}: {exc}"[:200], _ms(started))
        except _EntryFailed as exc:
            verdict = Verdict.TRANSIENT if exc.code in _TRANSIENT_CODES else Verdict.PERMANENT
            return Outcome(verdict, None, str(exc)[:200], _ms(started))
        return Outcome(Verdict.SUCCESS, 200, None, _ms(started))

    def _send(self, delivery: Delivery, timestamp: int) -> None:
        raise NotImplementedError


class SqsSender(_AwsSender):
    def __init__(self, client: Any, queue_url: str, wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, wall_clock)
        self.queue_url = queue_url

    def _send(self, delivery: Delivery, timestamp: int) -> None:
        extra = {}
        if self.queue_url.endswith(".fifo"):
            extra = {"MessageGroupId": SOURCE, "MessageDeduplicationId": delivery.idempotency_key[:128]}
        self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=delivery.body.decode(),
            MessageAttributes=_attributes(delivery, timestamp),
            **extra,
        )


class SnsSender(_AwsSender):
    def __init__(self, client: Any, topic_arn: str, wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, wall_clock)
        self.topic_arn = topic_arn

    def _send(self, delivery: Delivery, timestamp: int) -> None:
        extra = {}
        if self.topic_arn.endswith(".fifo"):
            extra = {"MessageGroupId": SOURCE, "MessageDeduplicationId": delivery.idempotency_key[:128]}
        self._client.publish(
            TopicArn=self.topic_arn,
            Message=delivery.body.decode(),
            MessageAttributes=_attributes(delivery, timestamp),
            **extra,
        )


class _EntryFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class EventBridgeSender(_AwsSender):
    def __init__(self, client: Any, bus: str, wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, wall_clock)
        self.bus = bus

    def _send(self, delivery: Delivery, timestamp: int) -> None:
        detail = json.loads(delivery.body)
        detail["webhookId"] = delivery.idempotency_key
        entry = {
            "Source": SOURCE,
            "DetailType": str(detail.get("eventType", "event")),
            "Detail": json.dumps(detail),
            "EventBusName": self.bus,
        }
        response = self._client.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            [failed] = response["Entries"]
            raise _EntryFailed(str(failed.get("ErrorCode", "Unknown")), str(failed.get("ErrorMessage", "")))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
