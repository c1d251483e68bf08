"""A webhook receiver: a threaded HTTP/1.1 server that records every request.

Tests script its replies (status, headers, a delay, an action to run first); `make run`
prints what arrives; the benchmark runs it in a separate process and reads `/__stats`.

`disable_nagle_algorithm` matters: stock `http.server` writes the status line and the body
separately, and with Nagle plus delayed ACKs each response waits ~40 ms.

    python -m scripts.devstack.webhook_sink [--port 0] [--quiet]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.domain.events import is_late
from scripts.devstack.signatures import verify_signature


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (longer than the sender's read timeout = a timeout)."""
    before: Callable[[], None] | None = None
    """Runs before the reply is sent: a test's fault injection."""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    status: int = 200
    signature_valid: bool | None = None
    """None when the sink has no secret to check with."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class WebhookSink:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        echo: bool = False,
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
        decide: Callable[[dict[str, str], bytes], Reply] | None = None,
    ) -> None:
        """`secret` checks each signature; `clock` stamps arrivals (the simulator's is virtual);
        `decide` picks each reply (after any scripted ones)."""
        self.host = host
        self._port = port
        self.echo = echo
        self.secret = secret
        self.clock = clock
        self.decide = decide
        self.requests: list[Recorded] = []
        self.count = 0
        self.keys: set[str] = set()
        self._script: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.record = True

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}/hook"

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; then the default (200)."""
        with self._lock:
            self._script.extend(replies)

    def _next_reply(self, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.decide(headers, body) if self.decide else self.default

    def accepted(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.accepted]

    def _note(self, recorded: Recorded) -> None:
        with self._lock:
            self.count += 1
            self.keys.add(recorded.headers.get("idempotency-key", ""))
            if self.record:
                self.requests.append(recorded)
        if self.echo:
            print(describe(recorded), flush=True)

    def start(self) -> WebhookSink:
        """Starts listening (again, on the same port after `stop()`)."""
        self._server = _Server((self.host, self._port), _handler(self))
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening and cuts open connections: the port then refuses connections."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        if self._thread:
            self._thread.join()
        self._server = None

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (timeouts in tests): nothing to report


def _handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with sink._lock:
                sink._connections.add(self.connection)

        def finish(self) -> None:
            with sink._lock:
                sink._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = sink._next_reply(headers, body)
            now = sink.clock()
            valid = verify_signature(sink.secret, headers, body, now) if sink.secret else None
            sink._note(Recorded("POST", self.path, headers, body, now, reply.status, valid))
            if reply.before:
                reply.before()
            if reply.delay:
                time.sleep(reply.delay)
            payload = b'{"ok":true}' if 200 <= reply.status < 300 else b'{"ok":false}'
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            with sink._lock:
                stats = {"requests": sink.count, "distinctKeys": len(sink.keys - {""})}
            payload = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def describe(recorded: Recorded) -> str:
    """One line for `make run`'s console: what arrived, its key, its signature, how late."""
    try:
        body = recorded.json()
    except ValueError:
        body = {}
    signature = {True: "valid", False: "INVALID", None: "not checked"}[recorded.signature_valid]
    late = ""
    if isinstance(body, dict) and isinstance(body.get("scheduledFor"), str):
        scheduled = datetime.fromisoformat(body["scheduledFor"].replace("Z", "+00:00"))
        received = datetime.fromtimestamp(recorded.received_at, UTC)
        lateness = (received - scheduled).total_seconds()
        late = f"  LATE by {lateness:.0f}s" if is_late(scheduled, received) else ""
    message = body.get("message") if isinstance(body, dict) else None
    return (
        f"webhook <- {recorded.status} {message!r} key={recorded.headers.get('idempotency-key')} "
        f"signature={signature}{late}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A webhook receiver that prints (or counts) what arrives.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="count requests only (GET /__stats)")
    args = parser.parse_args(argv)
    sink = WebhookSink(args.host, args.port, echo=not args.quiet)
    sink.record = False
    sink.start()
    print(f"listening {sink.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
