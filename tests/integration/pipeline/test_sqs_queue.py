"""The SQS adapter against moto: per-message delays, and a depth that counts every message."""

from __future__ import annotations

from scripts.devstack import aws
from tests.integration.pipeline.conftest import sqs_queue


def test_a_delayed_message_is_not_received_yet_but_counts_in_the_depth(
    moto_endpoint: str, resources: aws.Resources
) -> None:
    queue = sqs_queue(moto_endpoint, resources.queue_url)
    assert queue.send_batch(["in 15 minutes", "now", "in flight"], [900, 0, 0]) == []
    assert queue.depth() == 3
    received = queue.receive(10, visibility_timeout=600)
    assert sorted(m.body for m in received) == ["in flight", "now"]
    assert queue.depth() == 3  # 1 delayed + 2 in flight
    queue.delete(received[0].receipt_handle)
    assert queue.depth() == 2
