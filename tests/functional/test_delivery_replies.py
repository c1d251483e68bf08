"""The receiver's reply in GET /events/{id}/deliveries (issue 24): a real HTTP receiver answers
with more than a KB, the sweep and the worker run through their handlers, and the attempt
shows the reply's first KB, as text."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from scripts.devstack.clock import ManualClock
from scripts.devstack.event_source import lambda_record
from scripts.devstack.twins import MemoryLedger, MemoryQueue

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REPLY = ('{"error": "<img src=x onerror=alert(1)>", "detail": "' + "é" * 600 + '"}').encode()


class Refusing(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(503)
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_an_attempt_shows_the_first_kb_of_the_receivers_reply(
    container: bootstrap.Container, client: Client, clock: ManualClock, receiver: str
) -> None:
    container.settings = replace(container.settings, webhook_url=receiver)
    container.use(queue=MemoryQueue(clock), dlq=MemoryQueue(clock), ledger=MemoryLedger())
    body = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-03-02", "timezone": "UTC"}
    user = client.http.post("/user", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    [event] = client.http.get(f"/user/{user.json_body['id']}/events").json_body["items"]
    clock.set(BIRTHDAY)
    client.lambda_.invoke("sweep", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, []))
    queue = container.queue
    assert isinstance(queue, MemoryQueue)
    records = [lambda_record(m) for m in queue.receive(10)]
    client.lambda_.invoke("deliver", {"Records": records})

    [attempt] = client.http.get(f"/events/{event['id']}/deliveries").json_body["items"]

    assert len(REPLY) > 1024
    assert (attempt["statusCode"], attempt["outcome"]) == (503, "transient")
    # 1,024 bytes: the é cut in two at the end becomes one U+FFFD.
    assert attempt["responseBody"] == REPLY[:1023].decode() + "\ufffd"
    assert attempt["responseBody"].startswith('{"error": "<img src=x onerror=alert(1)>"')
