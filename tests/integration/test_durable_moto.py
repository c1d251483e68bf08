"""make run's emulator keeps what it acknowledged across a kill -9 (scripts/devstack/durable_moto.py):
the ledger's items, the queue, and each message with its id, receive count and visibility."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.adapters import sqs
from chalicelib.adapters.ledger import DynamoLedger
from chalicelib.ports import Attempt
from scripts.devstack import aws

pytestmark = pytest.mark.stack  # a moto server in a subprocess, killed and restarted


class Emulator:
    def __init__(self, journal: Path, checkpoint_every: int | None = None) -> None:
        self.journal = journal
        self.port = aws.free_port()
        self.checkpoint_every = checkpoint_every
        self.server = self._start()

    def _start(self) -> aws.MotoServerProcess:
        return aws.MotoServerProcess(
            "127.0.0.1", self.port, journal=self.journal, checkpoint_every=self.checkpoint_every
        )

    def kill(self) -> None:
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()

    def restart(self) -> None:
        self.server = self._start()

    def lines(self) -> int:
        return len(self.journal.read_bytes().splitlines())

    def parts(self) -> tuple[sqs.SqsQueue, DynamoLedger]:
        found = aws.provision(self.server.endpoint, visibility_timeout=60)
        queue = sqs.SqsQueue(sqs.client("us-east-1", self.server.endpoint), found.queue_url)
        return queue, DynamoLedger(found.ledger_table, "us-east-1", self.server.endpoint)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    running = Emulator(tmp_path / "aws.journal")
    yield running
    running.server.stop()


def success(key: str) -> Attempt:
    return Attempt(uuid.uuid4(), key, 1, datetime.now(UTC), "success", 200, None, 2.0)


def test_a_recorded_success_survives_a_kill(emulator: Emulator) -> None:
    _, ledger = emulator.parts()
    assert ledger.record_success(success("key-1")) is True
    emulator.kill()
    emulator.restart()
    _, ledger = emulator.parts()
    assert set(ledger.find_successes(["key-1", "key-2"])) == {"key-1"}
    assert ledger.record_success(success("key-1")) is False  # the condition still holds


def test_messages_survive_with_their_ids_receive_counts_and_visibility(emulator: Emulator) -> None:
    queue, _ = emulator.parts()
    queue.send_batch(["deleted", "in flight", "waiting"])
    received = {m.body: m for m in queue.receive(10, 60)}
    queue.delete(received["deleted"].receipt_handle)
    queue.change_visibility(received["waiting"].receipt_handle, 0)  # back now, as after a retry
    emulator.kill()
    emulator.restart()
    queue, _ = emulator.parts()
    [again] = queue.receive(10, 60)  # "in flight" stays invisible for its 60 s
    assert again.body == "waiting"
    assert again.message_id == received["waiting"].message_id
    assert again.attributes["ApproximateReceiveCount"] == "2"


def test_a_line_torn_by_a_kill_is_dropped_and_appending_goes_on(emulator: Emulator) -> None:
    _, ledger = emulator.parts()
    ledger.record_success(success("before"))
    emulator.kill()
    with emulator.journal.open("ab") as journal:
        journal.write(b'{"t":"req","path":"/","h":{"Ho')  # an unacknowledged write, cut short
    emulator.restart()
    _, ledger = emulator.parts()
    ledger.record_success(success("after"))
    emulator.kill()
    emulator.restart()
    _, ledger = emulator.parts()
    assert set(ledger.find_successes(["before", "after"])) == {"before", "after"}


def test_a_clean_stop_leaves_a_checkpoint_with_the_same_state(emulator: Emulator) -> None:
    queue, ledger = emulator.parts()
    for n in range(30):
        ledger.record_success(success(f"key-{n}"))
    queue.send_batch(["kept"])
    history = emulator.lines()
    emulator.server.stop()
    assert emulator.lines() < history / 3  # definitions, then items and messages in bulk
    emulator.restart()
    queue, ledger = emulator.parts()
    assert len(ledger.find_successes([f"key-{n}" for n in range(30)])) == 30
    assert [m.body for m in queue.receive(10, 60)] == ["kept"]


def test_checkpoints_while_running_bound_what_a_kill_leaves_to_replay(tmp_path: Path) -> None:
    emulator = Emulator(tmp_path / "aws.journal", checkpoint_every=10)
    try:
        _, ledger = emulator.parts()
        for n in range(40):
            ledger.record_success(success(f"key-{n}"))
        emulator.kill()
        assert emulator.lines() < 30
        emulator.restart()
        _, ledger = emulator.parts()
        assert len(ledger.find_successes([f"key-{n}" for n in range(40)])) == 40
    finally:
        emulator.server.stop()
