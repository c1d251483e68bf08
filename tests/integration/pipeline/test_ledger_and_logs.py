"""The DynamoDB ledger's conditional write (moto), and what the pipeline writes to its logs."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from chalicelib.adapters.ledger import RETENTION, DynamoLedger, ledger_model
from chalicelib.observability import METRIC_NAMES
from chalicelib.ports import Attempt
from scripts.devstack import aws
from tests.integration.pipeline.support import Pipeline

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_first_success_per_key_wins_and_attempts_list_in_order(
    resources: aws.Resources, moto_endpoint: str
) -> None:
    ledger = DynamoLedger(resources.ledger_table, "us-east-1", moto_endpoint)
    event_id = uuid.uuid4()
    attempts = [
        Attempt(
            event_id, "key-1", n, AT + timedelta(seconds=n), outcome, status, error, 10.0 * n, None, reply
        )
        for n, outcome, status, error, reply in [
            (1, "transient", 503, "Service Unavailable", "<h1>down</h1> \ufffd" + "é" * 500),
            (2, "transient", None, "timeout: read timed out", None),  # no reply: no body
            (3, "success", 200, None, ""),  # an empty body is kept as one
        ]
    ]
    for attempt in attempts:
        ledger.record_attempt(attempt)
    assert ledger.record_success(attempts[2])
    assert not ledger.record_success(
        Attempt(event_id, "key-1", 4, AT + timedelta(minutes=1), "success", 200, None, 1.0)
    )

    assert ledger.attempts_for_event(event_id) == attempts
    assert ledger.attempts_for_event(uuid.uuid4()) == []
    # The success item carries no reply (its attempt's does): one write unit, whatever the reply.
    assert ledger.find_successes(["key-1", "key-2", "key-1"]) == {
        "key-1": replace(attempts[2], response_body=None)
    }
    assert ledger.find_successes([]) == {}
    item = ledger_model(resources.ledger_table, "us-east-1", moto_endpoint).get("KEY#key-1", "SUCCESS")
    assert item.expires == attempts[2].attempted_at + RETENTION
    # The CDK table's TTL reads `expires_at`: the stored attribute and the table must agree.
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    raw = dynamodb.get_item(
        TableName=resources.ledger_table, Key={"pk": {"S": "KEY#key-1"}, "sk": {"S": "SUCCESS"}}
    )["Item"]
    assert "expires_at" in raw
    ttl = dynamodb.describe_time_to_live(TableName=resources.ledger_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_event_log_lines_carry_the_event_id_and_key_and_metrics_are_emf(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    user = pipeline.user(date(1990, 3, 2))
    pipeline.at(AT + timedelta(minutes=7))
    pipeline.sweep()
    pipeline.drain()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    [summary] = [d for d in documents if d.get("message") == "sweep finished"]
    assert (summary["found"], summary["claimed"], summary["enqueued"], summary["requeued"]) == (1, 1, 1, 0)
    assert summary["oldestLatenessSeconds"] == 420.0
    assert "durationSeconds" in summary
    [event] = pipeline.events(user.id)[:1]
    [delivered] = [d for d in documents if d.get("message") == "event completed"]
    assert (delivered["eventId"], delivered["idempotencyKey"]) == (str(event.id), event.idempotency_key)
    assert (delivered["late"], delivered["latenessSeconds"], delivered["statusCode"]) == (True, 420.0, 200)
    emf = [d for d in documents if "_aws" in d]
    names = {m["Name"] for d in emf for block in d["_aws"]["CloudWatchMetrics"] for m in block["Metrics"]}
    assert {"Claimed", "Completed", "CompletedLate", "LatenessSeconds", "DeliveryLatencyMs"} <= names
    assert names <= METRIC_NAMES
    assert any(d.get("LatenessSeconds") == [420.0] for d in emf), emf
