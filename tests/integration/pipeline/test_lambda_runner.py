"""The local event-source runner (what `make run` uses) against the moto server over HTTP:
Lambda-shaped events and contexts, deletes on success, and redelivery of batchItemFailures and
of a batch whose handler raised, after the visibility timeout."""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalicelib.adapters import sqs
from chalicelib.adapters.sqs import SqsQueue
from scripts.devstack import aws
from scripts.devstack.lambda_runner import LambdaRunner


class Recorder:
    def __init__(self, fail: set[str] | None = None, raise_once: bool = False) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.sweeps: list[dict[str, Any]] = []
        self.fail = fail or set()
        self.raise_once = raise_once

    def deliver(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        self.batches.append(event["Records"])
        if self.raise_once:
            self.raise_once = False
            raise RuntimeError("worker crashed")
        failures = [r["messageId"] for r in event["Records"] if r["body"] in self.fail]
        self.fail -= {r["body"] for r in event["Records"]}
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}

    def sweep(self, event: dict[str, Any], context: Any) -> None:
        self.sweeps.append(event)


def runner_on_moto(moto_endpoint: str, recorder: Recorder) -> LambdaRunner:
    client = sqs.client("us-east-1", moto_endpoint)
    queue_url, _ = aws.create_queues(
        client, f"runner-{uuid.uuid4().hex[:8]}", visibility_timeout=1, max_receive_count=5
    )
    return LambdaRunner(recorder.sweep, recorder.deliver, SqsQueue(client, queue_url))


def drain_until_empty(runner: LambdaRunner, seconds: float = 10.0) -> None:
    """Polls through visibility timeouts until the queue holds nothing, visible or not."""
    deadline = time.monotonic() + seconds
    queue = runner.queue
    assert isinstance(queue, SqsQueue)
    while time.monotonic() < deadline:
        if runner.poll_once() == 0:
            counts = queue._sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
            if (
                counts["ApproximateNumberOfMessages"]
                == counts["ApproximateNumberOfMessagesNotVisible"]
                == "0"
            ):
                return
            time.sleep(0.2)
    raise AssertionError("the queue did not drain")


def test_failed_items_come_back_and_the_rest_are_deleted(moto_endpoint: str) -> None:
    recorder = Recorder(fail={"b"})
    runner = runner_on_moto(moto_endpoint, recorder)
    runner.queue.send_batch(["a", "b", "c"])
    drain_until_empty(runner)
    first = recorder.batches[0][0]
    assert first["eventSource"] == "aws:sqs"
    assert {"messageId", "receiptHandle", "body", "attributes", "md5OfBody", "awsRegion"} <= set(first)
    delivered = [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for b in recorder.batches for r in b]
    assert sorted(delivered) == [("a", "1"), ("b", "1"), ("b", "2"), ("c", "1")]


def test_a_raising_handler_leaves_the_whole_batch_for_redelivery(moto_endpoint: str) -> None:
    recorder = Recorder(raise_once=True)
    runner = runner_on_moto(moto_endpoint, recorder)
    runner.queue.send("x")
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(recorder.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert [[r["body"] for r in b] for b in recorder.batches][:2] == [["x"], ["x"]]


def test_the_schedule_fires_with_an_eventbridge_shaped_event(moto_endpoint: str) -> None:
    recorder = Recorder()
    runner = runner_on_moto(moto_endpoint, recorder)
    runner.sweep_every = 0.2
    runner.start()
    time.sleep(0.5)
    runner.stop()
    assert len(recorder.sweeps) >= 2
    event = recorder.sweeps[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"].endswith("Z")
