"""The endpoints' senders, one per endpoint as it is now, kept across batches (a webhook's
keep-alive connections live in its sender)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib.adapters import aws_clients
from chalicelib.adapters.webhook import HttpWebhookSender
from chalicelib.domain.endpoints import DestinationType, Endpoint, destination_arn
from chalicelib.ports import WebhookSender

_Shape = tuple[int, tuple[str, ...]]


class EndpointSenders:
    """`sender_for` gives the sender built for the endpoint's version and the secrets in force;
    a change to either (a PATCH, a rotation, an old secret's grace ending) builds a new one."""

    def __init__(
        self,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        region: str = "us-east-1",
        aws_endpoint_url: str | None = None,
        public_only: bool = False,
    ) -> None:
        """`region` is a bus named by name's; `aws_endpoint_url` the emulator's, locally;
        `public_only` (the cloud stages) refuses a webhook whose address is not a public one."""
        self._public_only = public_only
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._region = region
        self._aws_endpoint_url = aws_endpoint_url
        self._built: dict[UUID, tuple[_Shape, WebhookSender]] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def sender_for(self, endpoint: Endpoint, now: datetime) -> WebhookSender:
        secrets = tuple(s.value for s in endpoint.secrets_in_force(now))
        shape = (endpoint.version, secrets)
        with self._lock:
            found = self._built.get(endpoint.id)
            if found is not None and found[0] == shape:
                return found[1]
            sender = self._build(endpoint, secrets)
            self._built[endpoint.id] = (shape, sender)
            return sender

    def _build(self, endpoint: Endpoint, secrets: tuple[str, ...]) -> WebhookSender:
        destination = endpoint.fields.destination
        if destination.type is DestinationType.WEBHOOK:
            return HttpWebhookSender(
                destination.target,
                secrets,
                self._connect_timeout,
                self._read_timeout,
                public_only=self._public_only,
            )
        from chalicelib.adapters import aws_destinations as aws  # botocore: only when a team has one

        region = destination_arn(destination, self._region).split(":")[3]
        if destination.type is DestinationType.SQS:
            return aws.SqsSender(self._client("sqs", region), destination.target)
        if destination.type is DestinationType.SNS:
            return aws.SnsSender(self._client("sns", region), destination.target)
        return aws.EventBridgeSender(self._client("events", region), destination.target)

    def _client(self, service: str, region: str) -> Any:
        """One per service and region, shared by the endpoints (a botocore client is thread-safe)."""
        found = self._clients.get((service, region))
        if found is None:
            from botocore.config import Config

            config = Config(
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
                retries={"max_attempts": 2, "mode": "standard"},  # the worker retries too
                max_pool_connections=16,
            )
            found = aws_clients.client(service, region, self._aws_endpoint_url, config)
            self._clients[(service, region)] = found
        return found
