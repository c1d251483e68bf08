"""The simulator's queue wrapper: a deferred message waits for the virtual clock, not the queue's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryQueue
from scripts.devstack.virtual_queue import VirtualVisibilityQueue

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_deferred_message_returns_only_once_released_at_its_virtual_time() -> None:
    clock = ManualClock(T0)
    queue = VirtualVisibilityQueue(MemoryQueue(clock), clock)
    queue.send("hello")
    [first] = queue.receive()
    queue.change_visibility(first.receipt_handle, 20)
    assert queue.next_release() == T0 + timedelta(seconds=20)

    clock.set(T0 + timedelta(seconds=19))
    assert queue.release_due() == 0
    assert queue.receive() == []
    clock.set(T0 + timedelta(hours=1))  # long past the delay: still parked until released
    assert queue.receive() == []
    assert queue.release_due() == 1
    [again] = queue.receive()
    assert (again.body, again.attributes["ApproximateReceiveCount"]) == ("hello", "2")
    assert queue.next_release() is None
    assert queue.parked() == 0


def test_a_zero_delay_is_visible_at_once_and_not_parked() -> None:
    clock = ManualClock(T0)
    queue = VirtualVisibilityQueue(MemoryQueue(clock), clock)
    queue.send("now")
    [first] = queue.receive()
    queue.change_visibility(first.receipt_handle, 0)
    assert queue.next_release() is None
    assert [m.body for m in queue.receive()] == ["now"]


def test_a_delayed_send_reaches_the_queue_at_its_virtual_time_and_counts_in_the_depth_meanwhile() -> None:
    clock = ManualClock(T0)
    inner = MemoryQueue(clock)
    queue = VirtualVisibilityQueue(inner, clock)
    assert queue.send_batch(["at 09:00:15", "at once", "at 09:00:40"], [15, 0, 40]) == []
    assert (queue.depth(), inner.depth(), queue.held()) == (3, 1, 2)
    assert queue.next_release() == T0 + timedelta(seconds=15)
    assert [m.body for m in queue.receive()] == ["at once"]

    clock.set(T0 + timedelta(seconds=14))
    assert queue.release_due() == 0
    assert queue.receive() == []
    clock.set(T0 + timedelta(seconds=15))
    assert queue.release_due() == 1
    assert [m.body for m in queue.receive()] == ["at 09:00:15"]
    assert queue.next_release() == T0 + timedelta(seconds=40)
