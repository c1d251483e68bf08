"""A team's own SQS queue, SNS topic (with an SQS subscription) and EventBridge bus (a rule to an
SQS target) as endpoints, on moto: the webhook's body arrives once, with its webhook-id as a
message attribute (SQS, SNS) or the detail's webhookId (EventBridge), and a queue that does not
exist fails the delivery for good."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.adapters import aws_clients
from chalicelib.domain.endpoints import Destination, DestinationType, Endpoint, EndpointFields, delivery_key
from chalicelib.domain.events import Status
from chalicelib.services import endpoints
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Team:
    """The receiving side, in the team's account (moto): where each destination ends up."""

    endpoint_url: str

    def client(self, service: str) -> Any:
        return aws_clients.client(service, "us-east-1", self.endpoint_url)

    def queue(self) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"team-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def messages(self, url: str) -> list[dict[str, Any]]:
        response = self.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        return list(response.get("Messages", []))


def add(pipeline: Pipeline, kind: DestinationType, target: str) -> Endpoint:
    fields = EndpointFields(Destination(kind, target))
    return endpoints.create_endpoint(pipeline.c.db, pipeline.clock, fields)


def deliver_one_birthday(pipeline: Pipeline) -> tuple[uuid.UUID, str, bytes]:
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    pipeline.sweep()
    pipeline.drain()
    [builtin] = pipeline.sink.requests
    return event.id, event.idempotency_key, builtin.body


def test_an_sqs_sns_and_eventbridge_endpoint_each_get_the_body_once_with_its_webhook_id(
    pipeline: Pipeline, moto_endpoint: str
) -> None:
    team = Team(moto_endpoint)
    direct_url, _ = team.queue()
    fanned_url, fanned_arn = team.queue()
    bussed_url, bussed_arn = team.queue()
    sns = team.client("sns")
    topic = sns.create_topic(Name=f"team-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=fanned_arn, Attributes={"RawMessageDelivery": "true"}
    )
    events = team.client("events")
    bus = f"team-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["event-scheduler"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": bussed_arn}])

    queue = add(pipeline, DestinationType.SQS, direct_url)
    topic_endpoint = add(pipeline, DestinationType.SNS, topic)
    bus_endpoint = add(pipeline, DestinationType.EVENTBRIDGE, bus)
    event_id, key, body = deliver_one_birthday(pipeline)

    for url, endpoint in ((direct_url, queue), (fanned_url, topic_endpoint)):
        [message] = team.messages(url)
        assert message["Body"].encode() == body
        attributes = message["MessageAttributes"]
        assert attributes["webhook-id"]["StringValue"] == delivery_key(key, endpoint.id)
        assert int(attributes["webhook-timestamp"]["StringValue"]) > 0
    [message] = team.messages(bussed_url)
    envelope = json.loads(message["Body"])
    assert (envelope["source"], envelope["detail-type"]) == ("event-scheduler", "birthday")
    assert envelope["detail"] == json.loads(body) | {"webhookId": delivery_key(key, bus_endpoint.id)}

    assert pipeline.event(event_id).status is Status.COMPLETED
    attempts = pipeline.c.ledger.attempts_for_event(event_id)
    assert {a.endpoint_id for a in attempts} == {None, queue.id, topic_endpoint.id, bus_endpoint.id}
    assert {a.outcome for a in attempts} == {"success"}
    # A queue, a topic or a bus sends no reply body; the webhook's receiver did.
    assert {a.endpoint_id: a.response_body is None for a in attempts} == {
        None: False,
        queue.id: True,
        topic_endpoint.id: True,
        bus_endpoint.id: True,
    }


def test_a_queue_that_does_not_exist_fails_the_delivery_for_good(
    pipeline: Pipeline, moto_endpoint: str
) -> None:
    gone = f"{moto_endpoint}/123456789012/no-such-queue"
    endpoint = add(pipeline, DestinationType.SQS, gone)
    event_id, _, _ = deliver_one_birthday(pipeline)
    failed = pipeline.event(event_id)
    assert failed.status is Status.FAILED
    assert failed.failure_reason is not None
    assert failed.failure_reason.startswith(f"endpoint {endpoint.id}: ")
    assert "NonExistentQueue" in failed.failure_reason or "QueueDoesNotExist" in failed.failure_reason
