"""The /events routes and the two event handlers, through Chalice's test client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.ports import Attempt
from scripts.devstack.clock import ManualClock
from scripts.devstack.event_source import lambda_record
from scripts.devstack.twins import MemoryLedger, MemoryQueue

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class UnavailableLedger(MemoryLedger):
    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        raise ConnectionError("DynamoDB is unreachable")


@pytest.fixture
def wired(container: bootstrap.Container) -> Iterator[bootstrap.Container]:
    container.settings = replace(container.settings, webhook_url="http://127.0.0.1:9/unused")
    container.use(queue=MemoryQueue(container.clock), dlq=MemoryQueue(container.clock), ledger=MemoryLedger())
    return container


@pytest.fixture
def api(wired: bootstrap.Container, client: Client) -> Client:
    """The admin-token client, over the container wired with in-memory queue and ledger."""
    return client


def new_user(api: Client) -> dict[str, Any]:
    body = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-03-02", "timezone": "UTC"}
    response = api.http.post("/user", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    assert response.status_code == 201
    return dict(response.json_body)


def first_event(api: Client, user_id: str) -> dict[str, Any]:
    return dict(api.http.get(f"/user/{user_id}/events").json_body["items"][0])


def test_get_an_event_and_its_deliveries(api: Client, wired: bootstrap.Container) -> None:
    event = first_event(api, new_user(api)["id"])
    response = api.http.get(f"/events/{event['id']}")
    assert (response.status_code, response.json_body) == (200, event)
    assert api.http.get(f"/events/{event['id']}/deliveries").json_body == {"items": []}

    wired.ledger.record_attempt(
        Attempt(
            UUID(event["id"]), event["idempotencyKey"], 1, BIRTHDAY, "transient", 503, "Unavailable", 12.34
        )
    )
    assert api.http.get(f"/events/{event['id']}/deliveries").json_body == {
        "items": [
            {
                "eventId": event["id"],
                "endpointId": None,  # the built-in endpoint's
                "idempotencyKey": event["idempotencyKey"],
                "attempt": 1,
                "attemptedAt": "2026-03-02T09:00:00Z",
                "outcome": "transient",
                "statusCode": 503,
                "error": "Unavailable",
                "latencyMs": 12.3,
                "responseBody": None,
            }
        ]
    }


def test_unknown_and_malformed_event_ids(api: Client) -> None:
    for path in (f"/events/{uuid.uuid4()}", f"/events/{uuid.uuid4()}/deliveries"):
        assert api.http.get(path).status_code == 404
    assert api.http.post(f"/events/{uuid.uuid4()}/retry").status_code == 404
    assert api.http.get("/events/not-a-uuid").status_code == 400


def test_retry_turns_a_failed_event_pending_and_due_now_and_refuses_anything_else(
    api: Client, wired: bootstrap.Container, clock: ManualClock
) -> None:
    event = first_event(api, new_user(api)["id"])
    refused = api.http.post(f"/events/{event['id']}/retry")
    assert (refused.status_code, refused.json_body["error"]["code"]) == (409, "illegal_transition")

    with wired.db.transaction() as store:
        stored = store.get_event(UUID(event["id"]))
        assert stored is not None
        claimed = stored.claim(clock.now(), clock.now() + timedelta(minutes=15))
        store.save_event(claimed, stored.version)
        store.save_event(claimed.fail(clock.now(), 1, "HTTP 400"), claimed.version)
    clock.advance(timedelta(hours=1))
    retried = api.http.post(f"/events/{event['id']}/retry")
    assert retried.status_code == 202
    assert (retried.json_body["status"], retried.json_body["failureReason"]) == ("PENDING", None)
    with wired.db.transaction() as store:
        again = store.get_event(UUID(event["id"]))
    assert again is not None
    assert again.due_utc == clock.now()


def test_sweep_and_deliver_handlers_report_only_failed_messages(
    api: Client, wired: bootstrap.Container, clock: ManualClock
) -> None:
    new_user(api)
    clock.set(BIRTHDAY)
    schedule = api.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    swept = api.lambda_.invoke("sweep", schedule)
    assert swept.payload["enqueued"] == 1
    wired.use(ledger=UnavailableLedger())
    queue = wired.queue
    assert isinstance(queue, MemoryQueue)
    queue.send("not a delivery message")
    queue.send(json.dumps({"eventId": str(uuid.uuid4()), "version": 2, "idempotencyKey": "gone"}))
    received = queue.receive(10)
    records = [lambda_record(m) for m in received]

    result = api.lambda_.invoke("deliver", {"Records": records})

    # The real event cannot be checked against the ledger, so it must come back; the unknown
    # event is dropped and the malformed message moved to the DLQ: both are done with.
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": received[0].message_id}]}
    dlq = wired.dlq
    assert isinstance(dlq, MemoryQueue)
    assert dlq.bodies() == ["not a delivery message"]
