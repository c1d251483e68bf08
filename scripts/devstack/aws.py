"""The AWS side of the local stack: a moto server, and the queue, DLQ and ledger table in it.

`make run`, the simulator, the benchmark and the tests share this; in AWS the CDK app owns
the same resources.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from chalicelib.adapters import aws_clients, sqs
from chalicelib.adapters.ledger import ledger_model
from chalicelib.handlers import QUEUE_NAME
from chalicelib.settings import DLQ_MAX_RECEIVE_COUNT
from scripts.devstack.paths import ROOT

# The emulator accepts any credentials; real ones must never be needed (or sent) locally.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
VISIBILITY_TIMEOUT = 540
"""6 x the worker's 90 s Lambda timeout, as AWS recommends for SQS event sources."""


@dataclass(frozen=True)
class Resources:
    queue_url: str
    dlq_url: str
    ledger_table: str


@dataclass(frozen=True)
class LocalNames:
    queue: str
    """Its DLQ is this + "-dlq" (create_queues)."""
    ledger_table: str

    @property
    def ops_topic(self) -> str:
        """The operations topic; its console's queue is this + "-console" (create_ops_topic)."""
        return f"{self.queue}-ops"


def local_names(local: Path) -> LocalNames:
    """`make run`'s queue and ledger table, named for its state folder (LOCAL_DIR: one per
    checkout), so that two checkouts on one emulator (a LocalStack, or the moto server another
    `make run` started on 4566) never take each other's messages or read each other's ledger.
    Only local: in AWS, Lambda's event source finds the queue by QUEUE_NAME (app.py), while
    here the worker is fed from QUEUE_URL."""
    tag = hashlib.sha256(str(local.resolve()).encode()).hexdigest()[:8]
    return LocalNames(f"{QUEUE_NAME}-{tag}", f"event-scheduler-deliveries-{tag}")


def use_fake_credentials() -> None:
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process (so its CPU is not the caller's GIL), over HTTP like
    the local stack's; yields its endpoint URL and stops it afterwards."""
    server = MotoServerProcess("127.0.0.1", free_port())
    try:
        yield server.endpoint
    finally:
        server.stop()


def provision(
    endpoint_url: str | None,
    region: str = "us-east-1",
    queue_name: str = QUEUE_NAME,
    ledger_table: str = "event-scheduler-deliveries",
    *,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    max_receive_count: int = DLQ_MAX_RECEIVE_COUNT,
) -> Resources:
    """Creates (or finds) the queue, its DLQ and the ledger table."""
    client = sqs.client(region, endpoint_url)
    queue_url, dlq_url = create_queues(
        client, queue_name, visibility_timeout=visibility_timeout, max_receive_count=max_receive_count
    )
    create_ledger_table(ledger_table, region, endpoint_url)
    return Resources(queue_url, dlq_url, ledger_table)


def create_queues(
    client: Any, name: str, *, visibility_timeout: int, max_receive_count: int
) -> tuple[str, str]:
    """Creates (or finds) the queue and its DLQ, with a redrive policy as a safety net for
    messages the worker can never finish (it moves permanent failures to the DLQ itself)."""
    dlq_url = client.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = client.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive},
    )["QueueUrl"]
    return queue_url, dlq_url


@dataclass(frozen=True)
class OpsTopic:
    topic_arn: str
    """OPS_TOPIC_ARN: where the API and the worker publish endpoint.failing/disabled/enabled."""
    queue_url: str
    """Subscribed to it (raw delivery): what `make run`'s console reads (devstack/ops_console.py)."""


def create_ops_topic(endpoint_url: str | None, region: str, name: str) -> OpsTopic:
    """Creates (or finds) the operations topic and a queue subscribed to it, on the emulator;
    in AWS the CDK's topic has an alarm instead of a reader."""
    client = sqs.client(region, endpoint_url)
    queue_url = client.create_queue(QueueName=f"{name}-console")["QueueUrl"]
    queue_arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns = aws_clients.client("sns", region, endpoint_url)
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(  # the same subscription again when it exists
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return OpsTopic(topic_arn, queue_url)


def create_ledger_table(table: str, region: str, endpoint_url: str | None) -> None:
    """The ledger's table, with its TTL, on the emulator; the CDK owns it in AWS."""
    model = ledger_model(table, region, endpoint_url)
    if not model.exists():
        model.create_table(wait=True)
        model.update_ttl(ignore_update_ttl_errors=False)


def emulator_endpoint() -> str:
    """Where the local stack's AWS emulator is: AWS_ENDPOINT_URL, else LocalStack's edge as
    localstack-client resolves it (LOCALSTACK_HOST, USE_SSL), on 127.0.0.1:4566 by default."""
    from localstack_client.config import get_service_endpoint

    host = os.environ.get("LOCALSTACK_HOST", "127.0.0.1:4566")
    return str(get_service_endpoint("sqs", localstack_host=host)).rstrip("/")


PROBE_TIMEOUT = 10.0


def kind_of_emulator(endpoint: str) -> str | None:
    """What answers at `endpoint`: 'localstack', 'moto', 'unknown', or None for nothing."""
    # Generous timeouts: moto's data.json dumps its whole state, and took over 1 s under load.
    try:
        health = requests.get(f"{endpoint}/_localstack/health", timeout=PROBE_TIMEOUT)
        if health.ok and "services" in health.text:
            return "localstack"
        return (
            "moto" if requests.get(f"{endpoint}/moto-api/data.json", timeout=PROBE_TIMEOUT).ok else "unknown"
        )
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or a loaded machine
        return None


class MotoServerProcess:
    """moto's server as a child process (its own GIL, as a real emulator would be); stopped by
    its pid. Without `journal` its state lives in memory and ends with it; with one (`make
    run`'s), every acknowledged write is journaled and replayed at the next start
    (scripts/devstack/durable_moto.py)."""

    def __init__(
        self,
        host: str,
        port: int,
        log: Path | None = None,
        journal: Path | None = None,
        *,
        checkpoint_every: int | None = None,
    ) -> None:
        use_fake_credentials()
        self.endpoint = f"http://{host}:{port}"
        self._log = log.open("ab") if log else None
        out = self._log or subprocess.DEVNULL
        # moto's server with its SQS clock reads made cheap (scripts/devstack/moto_speedup.py);
        # with a journal, the same behind durable_moto, whose state outlives it.
        command = [sys.executable, "-m", "scripts.devstack.moto_speedup", "-H", host, "-p", str(port)]
        if journal:
            command = [sys.executable, "-m", "scripts.devstack.durable_moto", "-H", host, "-p", str(port)]
            command += ["--journal", str(journal)]
            if checkpoint_every:
                command += ["--checkpoint-every", str(checkpoint_every)]
        self.process = subprocess.Popen(command, stdout=out, stderr=out, cwd=ROOT)
        deadline = time.monotonic() + 120  # a long journal takes a while to replay
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the moto server did not start on {self.endpoint}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return kind_of_emulator(self.endpoint) is not None
        except requests.Timeout:  # listening, but slow to answer its first request on a busy machine
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)  # a journaled server writes its checkpoint first
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
