"""`make run`'s operations topic on moto: what the worker (endpoint.failing) and the API's
enable (endpoint.enabled) publish reaches the queue subscribed to it, and the console prints
one line for each, once, however often make run provisioned the topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.postgres import Database
from chalicelib.domain.endpoints import Destination, DestinationType, EndpointFields
from chalicelib.services import endpoints
from chalicelib.settings import Settings
from scripts.devstack import aws
from scripts.devstack.clock import ManualClock
from scripts.devstack.ops_console import OpsConsole
from scripts.devstack.webhook_sink import Reply, WebhookSink
from tests.integration.pipeline.conftest import sqs_queue
from tests.integration.pipeline.support import Pipeline

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def crm() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        sink.default = Reply(503)
        yield sink


def test_the_console_prints_each_endpoint_event_the_worker_and_the_api_publish(
    pipeline_settings: Settings,
    moto_endpoint: str,
    clock: ManualClock,
    db: Database,
    sink: WebhookSink,
    crm: WebhookSink,
) -> None:
    name = f"ops-{uuid.uuid4().hex[:8]}"
    aws.create_ops_topic(moto_endpoint, "us-east-1", name)
    ops = aws.create_ops_topic(moto_endpoint, "us-east-1", name)  # make run's next start: the same
    c = bootstrap.Container(replace(pipeline_settings, ops_topic_arn=ops.topic_arn), clock).use(db=db)
    bootstrap.install(c)
    try:
        p = Pipeline(c, clock, sink)
        crm_endpoint = c.endpoints.create(EndpointFields(Destination(DestinationType.WEBHOOK, crm.url)))
        p.user(date(1990, 3, 2))
        p.at(BIRTHDAY)
        p.sweep()
        p.poll()  # the CRM answers 503: endpoint.failing, from the worker
        c.endpoints.enable(crm_endpoint.id)  # POST /endpoints/{id}/enable's use case

        lines: list[str] = []
        console = OpsConsole(sqs_queue(moto_endpoint, ops.queue_url), out=lines.append)
        assert console.drain() == 2
        assert console.drain() == 0
    finally:
        bootstrap.install(None)
    assert sorted(lines) == sorted(
        [
            f"ops       endpoint.failing   endpoint {crm_endpoint.id}  at 2026-03-02T09:00:00Z",
            f"ops       endpoint.enabled   endpoint {crm_endpoint.id}  at 2026-03-02T09:00:00Z",
        ]
    )
    assert endpoints.get_endpoint(db, crm_endpoint.id).failing_since is None
