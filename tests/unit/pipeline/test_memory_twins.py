"""The in-memory queue keeps the SQS semantics the pipeline relies on."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from chalicelib.ports import Attempt
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests.conftest import START


def test_a_received_message_is_hidden_for_the_visibility_timeout_then_comes_back_counted() -> None:
    clock = ManualClock(START)
    queue = MemoryQueue(clock, visibility_timeout=30)
    queue.send_batch(["a", "b"])
    first = queue.receive(10)
    assert [(m.body, m.attributes["ApproximateReceiveCount"]) for m in first] == [("a", "1"), ("b", "1")]
    assert queue.receive(10) == []
    clock.advance(timedelta(seconds=30))
    again = queue.receive(10)
    assert [(m.body, m.attributes["ApproximateReceiveCount"]) for m in again] == [("a", "2"), ("b", "2")]
    queue.delete(again[0].receipt_handle)
    queue.delete(first[1].receipt_handle)  # a stale receipt deletes nothing
    assert queue.depth() == 2 - 1


def test_change_visibility_sets_when_a_message_comes_back() -> None:
    clock = ManualClock(START)
    queue = MemoryQueue(clock)
    queue.send("a")
    [message] = queue.receive(1)
    queue.change_visibility(message.receipt_handle, 120)
    clock.advance(timedelta(seconds=119))
    assert queue.receive(1) == []
    clock.advance(timedelta(seconds=1))
    assert [m.body for m in queue.receive(1)] == ["a"]


def test_batches_hold_at_most_ten() -> None:
    with pytest.raises(ValueError, match="at most 10"):
        MemoryQueue().send_batch(["x"] * 11)


def test_the_ledger_keeps_only_the_first_success_per_key() -> None:
    ledger = MemoryLedger()
    event_id = uuid.uuid4()
    attempt = Attempt(event_id, "k", 1, START, "success", 200, None, 3.0)
    assert ledger.record_success(attempt)
    assert not ledger.record_success(Attempt(event_id, "k", 2, START, "success", 200, None, 3.0))
    assert ledger.find_successes(["k", "other"]) == {"k": attempt}


def test_a_delayed_message_stays_hidden_for_its_delay_and_counts_in_the_depth() -> None:
    clock = ManualClock(START)
    queue = MemoryQueue(clock)
    assert queue.send_batch(["later", "now"], [30, 0]) == []
    assert queue.depth() == 2
    assert [m.body for m in queue.receive(10, visibility_timeout=600)] == ["now"]
    clock.advance(timedelta(seconds=29))
    assert queue.receive(10) == []
    clock.advance(timedelta(seconds=1))
    [later] = queue.receive(10)
    assert (later.body, later.attributes["ApproximateReceiveCount"]) == ("later", "1")


def test_a_delay_beyond_what_sqs_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="0 to 900"):
        MemoryQueue().send_batch(["x"], [901])
