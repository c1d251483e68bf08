"""The AWS side of the local stack: a moto server, and the queue, DLQ and ledger table in it.

`make run`, the simulator, the benchmark and the tests share this; in AWS the CDK app owns
the same resources.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from chalicelib.adapters import sqs
from chalicelib.adapters.ledger import DynamoLedger
from chalicelib.handlers import QUEUE_NAME

# The emulator accepts any credentials; real ones must never be needed (or sent) locally.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
VISIBILITY_TIMEOUT = 540
"""6 x the worker's 90 s Lambda timeout, as AWS recommends for SQS event sources."""


@dataclass(frozen=True)
class Resources:
    queue_url: str
    dlq_url: str
    ledger_table: str


def use_fake_credentials() -> None:
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def start_moto(host: str = "127.0.0.1", port: int = 0) -> tuple[object, str]:
    """A moto server in a thread; returns (server, endpoint URL). Stop it with `.stop()`."""
    from moto.server import ThreadedMotoServer

    use_fake_credentials()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process (so its CPU is not the caller's GIL), over HTTP like
    the local stack's; yields its endpoint URL and stops it afterwards."""
    use_fake_credentials()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def provision(
    endpoint_url: str | None,
    region: str = "us-east-1",
    queue_name: str = QUEUE_NAME,
    ledger_table: str = "event-scheduler-deliveries",
    *,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    max_receive_count: int = 20,
) -> Resources:
    """Creates (or finds) the queue, its DLQ and the ledger table."""
    client = sqs.client(region, endpoint_url)
    queue_url, dlq_url = sqs.create_queues(
        client, queue_name, visibility_timeout=visibility_timeout, max_receive_count=max_receive_count
    )
    DynamoLedger(ledger_table, region, endpoint_url).create_table()
    return Resources(queue_url, dlq_url, ledger_table)
