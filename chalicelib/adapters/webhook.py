"""The webhook POST over http.client, signed per the Standard Webhooks specification.

    webhook-id         the idempotency key (stable across every retry of one occurrence)
    webhook-timestamp  integer seconds since the epoch
    webhook-signature  "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))

The id and the timestamp go with every POST, so a receiver deduplicates on `webhook-id` even
unsigned; the signature only with a secret (a cloud stage refuses to start without one,
chalicelib/settings.py; `make run` warns). With several (an endpoint's secret rotating, the old
one in its grace) there is one signature per secret, space-separated, newest first, as the
specification allows: a receiver verifying with either accepts the POST.

The secret is base64, optionally prefixed `whsec_` (the spec's convention); the HMAC key is
the decoded bytes. The timestamp is real time (`wall_clock`), never the app's clock: receivers
check it against their own clock (a five-minute replay window), so a shifted local clock
(CLOCK_OFFSET) or the simulator's virtual one must not leak into it. The body's times stay on
the app's clock.

Why http.client and not requests: a container posts a batch's webhooks from 10 threads under
one GIL, so the client's CPU per POST is the container's throughput. For one fixed URL, with no
redirects, cookies, proxies or retries, requests' machinery costs several times the CPU of
http.client (docs/performance.md, "The pipeline": ~1,100 POSTs/s against ~8,000). What
requests gave that this keeps: certificate checks against certifi's bundle, a connect and a
read timeout, keep-alive connections per thread, a dropped keep-alive connection noticed before
it is reused, credentials in the URL as Basic auth.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import http.client
import ipaddress
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from chalicelib.domain.delivery import (
    Outcome,
    Verdict,
    parse_retry_after,
    response_excerpt,
    verdict_for_status,
)
from chalicelib.ports import Delivery
from chalicelib.settings import SettingsError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = "event-scheduler-webhooks/1"
_MAX_ERROR = 200
_MAX_DRAINED = 64 * 1024
"""A reply body up to this size is read, so the connection can carry the next POST; a longer
one is not worth the time: the connection is closed instead (only its first KB is kept, for
the ledger: `response_excerpt`)."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Vet = Callable[[str, int], list[IPAddress]]
"""Where a host name leads, every address checked: refused (NotPublic) unless all may be
connected to."""


class NotPublic(Exception):
    """A team's webhook URL that leads into the network the scheduler runs in."""


def signing_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("WEBHOOK_SECRET must be base64, optionally prefixed whsec_") from None
    if not key:
        raise SettingsError("WEBHOOK_SECRET must not be empty")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Target:
    """The webhook URL, parsed and checked once."""

    tls: bool
    host: str
    port: int | None
    path: str
    authorization: str | None = None

    @classmethod
    def parse(cls, url: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise SettingsError(f"WEBHOOK_URL is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError("WEBHOOK_URL must be an http:// or https:// URL with a host")
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme == "https", parts.hostname, port, path, authorization)


class HttpWebhookSender:
    """One keep-alive connection per thread (the worker's pool threads live as long as the
    container, so a batch reuses the connections the previous one opened)."""

    def __init__(
        self,
        url: str,
        secret: str | Sequence[str] | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        wall_clock: Callable[[], float] = time.time,
        tls: ssl.SSLContext | None = None,
        public_only: bool = False,
        vet: Vet | None = None,
    ) -> None:
        """`public_only`: a team's endpoint in a cloud stage. Every address its name resolves to
        must be a public one (`vet`, by default `public_addresses`), checked before any packet
        goes to it, and the connection goes to those very addresses: the name is not resolved
        again, so DNS rebinding does not get round the check."""
        self.url = url
        self._target = Target.parse(url)
        self._wall_clock = wall_clock
        secrets = [secret] if isinstance(secret, str) else list(secret or ())
        self._keys = [signing_key(s) for s in secrets if s]
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self._vet = (vet or public_addresses) if public_only else None
        self._local = threading.local()
        # Every thread's connection, so all are closed when this sender goes (a finalizer runs
        # before the garbage collector would find their sockets unclosed).
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._open, self._lock)

    def headers(self, delivery: Delivery) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Idempotency-Key": delivery.idempotency_key,
        }
        timestamp = int(self._wall_clock())
        headers["webhook-id"] = delivery.idempotency_key
        headers["webhook-timestamp"] = str(timestamp)
        if self._keys:
            headers["webhook-signature"] = " ".join(
                sign(key, delivery.idempotency_key, timestamp, delivery.body) for key in self._keys
            )
        return headers

    def deliver(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        headers = self.headers(delivery) | {"User-Agent": USER_AGENT}
        if self._target.authorization:
            headers["Authorization"] = self._target.authorization
        try:
            connection = self._connection()
        except NotPublic as exc:  # never sent: the address is the URL's owner's to fix
            return Outcome(Verdict.PERMANENT, error=str(exc), latency_ms=_ms(started))
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            return Outcome(Verdict.TRANSIENT, error=_describe(exc), latency_ms=_ms(started))
        try:
            connection.request("POST", self._target.path, delivery.body, headers)
            response = connection.getresponse()
            status, reason = response.status, response.reason
            retry_after_header = response.getheader("Retry-After")
            body = self._finish(response)
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, timed out, a bad certificate, a malformed reply: all may heal.
            self._drop()
            return Outcome(Verdict.TRANSIENT, error=_describe(exc), latency_ms=_ms(started))
        latency = _ms(started)
        verdict = verdict_for_status(status)
        error = None if verdict is Verdict.SUCCESS else (reason or None)
        # An HTTP-date in Retry-After is the receiver's real time, not the app's clock.
        real_now = datetime.fromtimestamp(self._wall_clock(), UTC)
        retry_after = parse_retry_after(retry_after_header, real_now)
        return Outcome(verdict, status, error, latency, retry_after, response_excerpt(body))

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and _dropped(connection):
            self._drop()
            connection = None
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._lock:
                self._open.add(connection)
        return connection

    def _connect(self) -> http.client.HTTPConnection:
        target = self._target
        connection: http.client.HTTPConnection
        if target.tls:
            connection = http.client.HTTPSConnection(
                target.host, target.port, timeout=self._connect_timeout, context=self._tls or _default_tls()
            )
        else:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=self._connect_timeout)
        if self._vet is not None:
            addresses = self._vet(target.host, connection.port)
            # http.client opens its socket through this hook; the Host header and TLS (its
            # server name, the certificate's check) keep the URL's name.
            connection._create_connection = functools.partial(_connect_to, addresses)  # type: ignore[attr-defined]
        connection.connect()  # the TCP connect (and TLS handshake) under the connect timeout...
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)  # ...every later send and read under this
        return connection

    def _finish(self, response: http.client.HTTPResponse) -> bytes:
        """Read the reply's body (so the connection can be reused), or close the connection;
        returns what was read."""
        body = response.read(_MAX_DRAINED)
        if not response.isclosed() or response.will_close:
            response.close()
            self._drop()
        return body

    def _drop(self) -> None:
        """Closes this thread's connection."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()
            with self._lock:
                self._open.discard(connection)


def public_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, if all are public (`is_global`: not loopback, private,
    link-local, shared, documentation or reserved); NotPublic names the first that is not. A
    name that does not resolve is an OSError (socket.gaierror), which may heal."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not address.is_global:
            raise NotPublic(f"refused: {host} is at {address}, not a public address")
        if address not in found:
            found.append(address)
    return found


def _connect_to(
    addresses: Sequence[IPAddress],
    address: tuple[str, int],
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """socket.create_connection to the vetted addresses in turn, on `address`'s port, in place
    of its name."""
    error = OSError("the name resolves to no address")
    for vetted in addresses:
        try:
            return socket.create_connection((str(vetted), address[1]), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error


def _close_all(connections: set[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        for connection in connections:
            connection.close()
        connections.clear()


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable was closed by the server (or sent something
    unasked): reusing it would fail the next POST. `connection.sock` is None once closed."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """certifi's bundle, as requests used: the same roots on a laptop and in Lambda. Built on
    the first https POST (loading the bundle takes ~20 ms), once per container."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe(exc: Exception) -> str:
    kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
    return f"{kind}: {exc}"[:_MAX_ERROR]
