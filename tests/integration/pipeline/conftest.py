"""The delivery pipeline against real services: PostgreSQL, a moto server over HTTP (a fresh
queue, DLQ and ledger table per test) and a local webhook receiver on an ephemeral port."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters import sqs
from chalicelib.adapters.postgres import Database
from chalicelib.adapters.sqs import SqsQueue
from chalicelib.settings import Settings
from scripts.devstack import aws
from scripts.devstack.clock import ManualClock
from scripts.devstack.webhook_sink import WebhookSink
from tests.integration.pipeline.support import Pipeline

CONCURRENCY = 4
SECRET = "whsec_" + base64.b64encode(b"a test signing key of 32 bytes!!").decode()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with aws.moto_server() as url:
        yield url


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as receiver:
        yield receiver


@pytest.fixture
def resources(moto_endpoint: str) -> aws.Resources:
    suffix = uuid.uuid4().hex[:10]
    return aws.provision(
        moto_endpoint,
        queue_name=f"deliveries-{suffix}",
        ledger_table=f"ledger-{suffix}",
        visibility_timeout=30,
    )


@pytest.fixture
def pipeline_settings(
    settings: Settings, moto_endpoint: str, resources: aws.Resources, sink: WebhookSink
) -> Settings:
    return replace(
        settings,
        aws_endpoint_url=moto_endpoint,
        queue_url=resources.queue_url,
        dlq_url=resources.dlq_url,
        ledger_table=resources.ledger_table,
        webhook_url=sink.url,
        webhook_secret=SECRET,
        backoff_base=timedelta(0),  # retries come back at once; the backoff has its own tests
        webhook_connect_timeout=0.5,
        webhook_read_timeout=0.5,
        max_attempts=8,
        webhook_concurrency=CONCURRENCY,  # every pipeline test POSTs a batch concurrently
    )


@pytest.fixture
def pipeline(
    pipeline_settings: Settings, clock: ManualClock, db: Database, sink: WebhookSink
) -> Iterator[Pipeline]:
    c = bootstrap.Container(pipeline_settings, clock).use(db=db)
    bootstrap.install(c)
    yield Pipeline(c, clock, sink)
    bootstrap.install(None)


def sqs_queue(endpoint: str, url: str) -> SqsQueue:
    return SqsQueue(sqs.client("us-east-1", endpoint), url)


def attributes(endpoint: str, url: str) -> dict[str, Any]:
    client = sqs.client("us-east-1", endpoint)
    return dict(client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
