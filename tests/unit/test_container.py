"""The container's seams fail loudly: a part replaced after something was built from it raises
instead of being silently ignored by that something."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib import bootstrap
from chalicelib.settings import Settings
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests.conftest import START

SETTINGS = Settings(
    database_url="postgresql://nobody@/none?host=/nonexistent",
    queue_url="http://127.0.0.1:9/q",
    dlq_url="http://127.0.0.1:9/dlq",
    webhook_url="http://127.0.0.1:9/hook",
)


def container() -> bootstrap.Container:
    return bootstrap.Container(SETTINGS, ManualClock(START))


def test_a_part_used_before_anything_reads_it_is_the_one_dependents_get() -> None:
    c = container()
    queue, dlq, ledger = MemoryQueue(c.clock), MemoryQueue(c.clock), MemoryLedger()
    c.use(queue=queue, dlq=dlq, ledger=ledger)
    worker = c.worker
    assert (worker.queue, worker.dlq, worker.ledger) == (queue, dlq, ledger)


def test_replacing_a_part_after_a_dependent_was_built_raises() -> None:
    c = container().use(queue=MemoryQueue(), dlq=MemoryQueue(), ledger=MemoryLedger())
    _ = c.worker
    with pytest.raises(bootstrap.SeamAlreadyUsed, match="'ledger' cannot be replaced: worker"):
        c.use(ledger=MemoryLedger())
    with pytest.raises(bootstrap.SeamAlreadyUsed, match="'settings' cannot be replaced"):
        c.settings = replace(SETTINGS, max_attempts=3)


def test_a_part_nothing_was_built_from_can_still_be_replaced() -> None:
    c = container()
    first = MemoryQueue()
    c.use(queue=first)
    assert c.queue is first
    second = MemoryQueue()
    c.use(queue=second)
    c.settings = replace(SETTINGS, max_attempts=3)
    assert (c.queue, c.settings.max_attempts) == (second, 3)


def test_settings_changed_before_the_worker_is_built_reach_its_policy() -> None:
    c = container().use(queue=MemoryQueue(), dlq=MemoryQueue(), ledger=MemoryLedger())
    c.settings = replace(SETTINGS, max_attempts=3)
    assert c.worker.policy.max_attempts == 3


def test_only_parts_the_container_builds_can_be_used() -> None:
    with pytest.raises(AttributeError, match="builds no 'queues'"):
        container().use(queues=MemoryQueue())
    assert {"db", "queue", "dlq", "ledger", "webhook", "worker", "settings", "clock"} <= (
        bootstrap.Container.part_names()
    )
