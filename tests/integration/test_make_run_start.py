"""`make run`'s start, before anything runs: every port it would listen on is checked and a
taken one refused with the setting that moves it; its health check survives a slow first
answer; its AWS names are its checkout's own. Real sockets, no stack started (the whole
stack's refusal: tests/e2e/test_local_stack_crash.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import sqs
from scripts.devstack import aws
from scripts.devstack.aws import free_port
from scripts.devstack.ports import PortsUnavailable
from scripts.run_local import describe_webhook, plan, wait_healthy


@contextlib.contextmanager
def taken() -> Iterator[int]:
    """A port with a listener on it, as another checkout's stack would hold it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


@contextlib.contextmanager
def hanging_up() -> Iterator[int]:
    """A listener that closes every connection at once: something on the port, but no emulator."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def nothing_at() -> str:
    """An emulator endpoint where nothing answers: make run would start moto there."""
    return f"http://127.0.0.1:{free_port()}"


def test_a_free_start_plans_the_api_the_receiver_and_moto() -> None:
    api, sink = free_port(), free_port()
    endpoint = nothing_at()
    start = plan({"API_PORT": str(api), "SINK_PORT": str(sink)}, endpoint)
    assert (start.api_port, start.sink_port, start.endpoint, start.emulator) == (api, sink, endpoint, None)


def test_a_taken_api_port_is_refused_naming_the_setting_and_the_holder() -> None:
    with taken() as port, pytest.raises(PortsUnavailable) as refused:
        plan({"API_PORT": str(port), "SINK_PORT": str(free_port())}, nothing_at())
    message = str(refused.value)
    assert message.startswith(f"API_PORT: port {port} (the API) is in use (by pid {os.getpid()}: ")
    assert "; stop that, or set API_PORT=" in message
    suggested = int(message.rsplit("set API_PORT=", 1)[1])
    assert suggested > port


def test_a_taken_sink_port_is_refused_unless_webhook_url_replaces_the_receiver() -> None:
    api = free_port()
    with taken() as port:
        with pytest.raises(
            PortsUnavailable, match=f"SINK_PORT: port {port} \\(the webhook receiver\\) is in use"
        ):
            plan({"API_PORT": str(api), "SINK_PORT": str(port)}, nothing_at())
        env = {"API_PORT": str(api), "SINK_PORT": str(port), "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook"}
        assert plan(env, nothing_at()).sink_port is None  # the developer's own receiver may be there


def test_a_port_where_moto_would_start_that_something_else_holds_is_refused() -> None:
    with hanging_up() as port:
        endpoint = f"http://127.0.0.1:{port}"
        with pytest.raises(PortsUnavailable) as refused:
            plan({"API_PORT": str(free_port()), "SINK_PORT": str(free_port())}, endpoint)
    message = str(refused.value)
    assert message.startswith(f"AWS_ENDPOINT_URL: port {port} (the moto server make run starts: nothing")
    assert "set AWS_ENDPOINT_URL=http://127.0.0.1:" in message


def test_every_problem_is_named_at_once() -> None:
    with taken() as api, pytest.raises(PortsUnavailable) as refused:
        plan({"API_PORT": str(api), "SINK_PORT": str(api)}, nothing_at())
    lines = str(refused.value).splitlines()
    assert lines[0] == f"API_PORT and SINK_PORT are both {api}: give each its own port"
    assert [line.split(":")[0] for line in lines[1:]] == ["API_PORT", "SINK_PORT"]


@pytest.mark.parametrize("value", ["abc", "0", "70000", "80.5", " "])
def test_a_port_that_is_not_a_port_number_is_refused(value: str) -> None:
    with pytest.raises(PortsUnavailable, match="API_PORT must be a port number from 1 to 65535"):
        plan({"API_PORT": value}, nothing_at())


def test_the_health_check_outlasts_a_first_answer_slower_than_its_timeout() -> None:
    """On a busy machine the API's first answer took longer than the request's timeout: a
    ReadTimeout, which used to tear the stack down. The server here holds the first request
    until the second arrives, so the first certainly times out."""
    second = threading.Event()
    seen: list[str] = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            if len(seen) == 1:
                second.wait(30)
            else:
                second.set()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        assert wait_healthy(url, alive=lambda: True, timeout=120, request_timeout=0.2)
    finally:
        second.set()
        server.shutdown()
        server.server_close()
    assert seen == ["/health", "/health"]


def test_the_health_check_gives_up_when_the_api_exits() -> None:
    assert not wait_healthy(nothing_at() + "/health", alive=lambda: False, timeout=120)


@pytest.mark.stack
def test_each_checkout_has_its_own_queue_dlq_and_ledger_on_a_shared_emulator(tmp_path: Path) -> None:
    """Two checkouts' make run on one emulator (the moto another one started on 4566, a
    LocalStack): neither receives the other's messages."""
    mine, theirs = aws.local_names(tmp_path / "a" / ".local"), aws.local_names(tmp_path / "b" / ".local")
    assert aws.local_names(tmp_path / "a" / ".local") == mine  # the same across restarts
    assert len({mine.queue, theirs.queue}) == len({mine.ledger_table, theirs.ledger_table}) == 2
    with aws.moto_server() as endpoint:
        made = [
            aws.provision(endpoint, queue_name=n.queue, ledger_table=n.ledger_table, visibility_timeout=60)
            for n in (mine, theirs)
        ]
        client = sqs.client("us-east-1", endpoint)
        client.send_message(QueueUrl=made[0].queue_url, MessageBody="mine")
        assert "Messages" not in client.receive_message(QueueUrl=made[1].queue_url, WaitTimeSeconds=0)
        [message] = client.receive_message(QueueUrl=made[0].queue_url, WaitTimeSeconds=0)["Messages"]
    assert message["Body"] == "mine"
    assert {m.dlq_url.rsplit("/", 1)[1] for m in made} == {f"{mine.queue}-dlq", f"{theirs.queue}-dlq"}


def test_a_webhook_url_without_a_secret_gets_a_warning() -> None:
    assert describe_webhook(
        {"WEBHOOK_URL": "http://127.0.0.1:8002/", "WEBHOOK_SECRET": "whsec_c2VjcmV0"}
    ) == ["webhook   http://127.0.0.1:8002/"]
    [_, warning] = describe_webhook({"WEBHOOK_URL": "http://127.0.0.1:8002/"})
    assert warning.startswith("warning   WEBHOOK_SECRET is not set: webhooks go unsigned (webhook-id")


@pytest.mark.stack
def test_the_dlq_tool_finds_this_checkouts_dlq_on_the_local_stack(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import dlq

    local = tmp_path / ".local"
    names = aws.local_names(local)
    with aws.moto_server() as endpoint:
        aws.provision(endpoint, queue_name=names.queue, ledger_table=names.ledger_table)
        for name in ("DLQ_URL", "LEDGER_TABLE", "STAGE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LOCAL_DIR", str(local))
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("DATABASE_URL", database_url)
        assert dlq.main(["inspect"]) == 0
    assert "0 message(s) in the DLQ" in capsys.readouterr().err
