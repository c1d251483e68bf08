"""One contract, two implementations: the in-memory twins (which carry the simulator, the
benchmark and the recovery tests) pass the same suite as the real adapters on moto.

Nothing here waits for a timeout: messages come back through `change_visibility(…, 0)` or a
receive with visibility 0, so the suite holds on a slow machine too."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.ledger import DynamoLedger
from chalicelib.ports import Attempt, DeliveryLedger, Queue
from scripts.devstack import aws
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests.conftest import START
from tests.integration.pipeline.conftest import sqs_queue

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", pytest.param("sqs-on-moto", marks=pytest.mark.stack)])
def queue(request: pytest.FixtureRequest) -> Queue:
    if request.param == "memory":
        return MemoryQueue(visibility_timeout=30)
    resources: aws.Resources = request.getfixturevalue("resources")  # visibility timeout 30 s
    return sqs_queue(request.getfixturevalue("moto_endpoint"), resources.queue_url)


@pytest.fixture(params=["memory", pytest.param("dynamodb-on-moto", marks=pytest.mark.stack)])
def ledger(request: pytest.FixtureRequest) -> DeliveryLedger:
    if request.param == "memory":
        return MemoryLedger()
    resources: aws.Resources = request.getfixturevalue("resources")
    return DynamoLedger(resources.ledger_table, "us-east-1", request.getfixturevalue("moto_endpoint"))


# the queue


def test_a_batch_is_accepted_received_once_and_hidden_while_being_worked_on(queue: Queue) -> None:
    assert queue.send_batch(["a", "b", "c"]) == []
    first = queue.receive(10)
    assert sorted(m.body for m in first) == ["a", "b", "c"]
    assert {m.attributes["ApproximateReceiveCount"] for m in first} == {"1"}
    assert len({m.message_id for m in first}) == 3
    assert queue.receive(10) == []  # within the 30-s visibility timeout


def test_a_message_made_visible_again_comes_back_counted_with_a_new_receipt(queue: Queue) -> None:
    queue.send("a")
    [first] = queue.receive(1)
    queue.change_visibility(first.receipt_handle, 0)
    [again] = queue.receive(1)
    assert (again.message_id, again.body, again.attributes["ApproximateReceiveCount"]) == (
        first.message_id,
        "a",
        "2",
    )
    assert again.receipt_handle != first.receipt_handle


def test_a_delayed_message_is_not_received_yet_but_counts_in_the_depth(queue: Queue) -> None:
    assert queue.send_batch(["in 15 minutes", "now", "in flight"], [900, 0, 0]) == []
    assert queue.depth() == 3
    received = queue.receive(10, visibility_timeout=600)
    assert sorted(m.body for m in received) == ["in flight", "now"]
    assert queue.depth() == 3  # 1 delayed + 2 in flight
    queue.delete(received[0].receipt_handle)
    assert queue.depth() == 2


def test_the_counts_tell_waiting_in_flight_and_delayed_apart(queue: Queue) -> None:
    """GET /overview's queue: SQS's three ApproximateNumberOf* attributes."""
    assert queue.send_batch(["later", "taken", "waiting"], [900, 0, 0]) == []
    [taken] = queue.receive(1, visibility_timeout=600)
    counts = queue.counts()
    assert (counts.visible, counts.in_flight, counts.delayed) == (1, 1, 1)
    queue.change_visibility(taken.receipt_handle, 0)  # back: waiting again
    assert (queue.counts().visible, queue.counts().in_flight) == (2, 0)


def test_a_deleted_message_never_comes_back(queue: Queue) -> None:
    queue.send_batch(["a", "b"])
    received = queue.receive(10, visibility_timeout=0)
    [a] = [m for m in received if m.body == "a"]
    queue.delete(a.receipt_handle)
    left = queue.receive(10, visibility_timeout=0)
    assert [m.body for m in left] == ["b"]


def test_a_message_s_attributes_travel_with_it(queue: Queue) -> None:
    queue.send('{"eventId": "x"}', {"failureReason": "HTTP 400: Bad Request", "messageId": "m-1"})
    [message] = queue.receive(1)
    assert message.body == '{"eventId": "x"}'
    assert (message.attributes["failureReason"], message.attributes["messageId"]) == (
        "HTTP 400: Bad Request",
        "m-1",
    )
    assert "SentTimestamp" in message.attributes


def test_a_receive_takes_at_most_what_it_asks_for(queue: Queue) -> None:
    queue.send_batch([str(i) for i in range(5)])
    assert len(queue.receive(2)) == 2


def test_a_batch_holds_at_most_ten(queue: Queue) -> None:
    with pytest.raises((ValueError, ClientError)):
        queue.send_batch(["x"] * 11)


# the ledger


def attempt(event_id: uuid.UUID, n: int, outcome: str = "transient", key: str = "k") -> Attempt:
    status = 200 if outcome == "success" else 503
    reply = '{"ok": true}' if outcome == "success" else "<h1>503</h1>"
    return Attempt(event_id, key, n, START + timedelta(seconds=n), outcome, status, None, 3.5, None, reply)


def test_only_the_first_success_per_key_is_kept(ledger: DeliveryLedger) -> None:
    event_id = uuid.uuid4()
    key = f"key-{event_id}"
    first = attempt(event_id, 1, "success", key)
    assert ledger.record_success(first) is True
    assert ledger.record_success(attempt(event_id, 2, "success", key)) is False
    # The attempt keeps the reply (attempts_for_event); the success, read to finalise, does not.
    assert ledger.find_successes([key, "no-such-key"]) == {key: replace(first, response_body=None)}
    assert ledger.find_successes([]) == {}


def test_attempts_come_back_oldest_first_per_event(ledger: DeliveryLedger) -> None:
    event_id, other = uuid.uuid4(), uuid.uuid4()
    recorded = [attempt(event_id, n) for n in (1, 2, 3)]
    for a in reversed(recorded):
        ledger.record_attempt(a)
    ledger.record_attempt(attempt(other, 1))
    assert ledger.attempts_for_event(event_id) == recorded
    assert ledger.attempts_for_event(uuid.uuid4()) == []
