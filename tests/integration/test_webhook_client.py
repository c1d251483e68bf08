"""The webhook client over real sockets: what requests used to do for it, still done.

Each receiver here is a few lines over a real listening socket, so a test can do what a real
receiver may: close a keep-alive connection without saying so, answer with a large body, serve
TLS with a certificate the client must check."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.adapters.webhook import USER_AGENT, HttpWebhookSender, NotPublic, Target, public_addresses
from chalicelib.domain.delivery import Verdict
from chalicelib.ports import Delivery
from chalicelib.settings import SettingsError

DELIVERY = Delivery("key-1", b'{"hello": "world"}')
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Receiver:
    """Accepts connections; `answer` gets each request's head and returns the bytes to send and
    whether to close the connection afterwards (without a `Connection: close` header)."""

    answer: Callable[[bytes], tuple[bytes, bool]]
    tls: ssl.SSLContext | None = None
    heads: list[bytes] = field(default_factory=list)
    connections: int = 0

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, raw: socket.socket) -> None:
        conn = (
            raw
            if self.tls is None
            else self.tls.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        )
        with contextlib.suppress(OSError), contextlib.closing(conn):
            if isinstance(conn, ssl.SSLSocket):
                conn.do_handshake()
            reader = conn.makefile("rb")
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    (
                        int(h.split(b":")[1])
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                reader.read(length)
                self.heads.append(head)
                reply, close = self.answer(head)
                conn.sendall(reply)
                if close:
                    return


@contextlib.contextmanager
def listening(receiver: Receiver) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=receiver.serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        thread.join(5)


def test_a_keep_alive_connection_the_receiver_closed_is_noticed_before_it_is_reused() -> None:
    receiver = Receiver(lambda head: (OK, True))  # closes after each answer, unannounced
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook")
        outcomes = []
        for _ in range(3):
            outcomes.append(sender.deliver(DELIVERY))
            wait_for_the_close(sender)  # as after any idle gap: the close has arrived here
    assert [o.verdict for o in outcomes] == [Verdict.SUCCESS] * 3
    assert receiver.connections == 3


def wait_for_the_close(sender: HttpWebhookSender) -> None:
    """Peeks (without consuming) until the receiver's close reaches this thread's socket."""
    connection = sender._local.connection
    assert connection is not None
    assert connection.sock is not None
    connection.sock.settimeout(10)
    assert connection.sock.recv(1, socket.MSG_PEEK) == b""
    connection.sock.settimeout(5)


def test_connections_are_kept_alive_across_posts() -> None:
    receiver = Receiver(lambda head: (OK, False))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook")
        outcomes = [sender.deliver(DELIVERY) for _ in range(5)]
    assert [o.status_code for o in outcomes] == [200] * 5
    assert receiver.connections == 1


def test_a_large_reply_body_is_not_read_and_its_connection_not_reused() -> None:
    big = b"x" * (1024 * 1024)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    receiver = Receiver(lambda head: (reply, False))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook")
        outcomes = [sender.deliver(DELIVERY) for _ in range(2)]
    assert [o.verdict for o in outcomes] == [Verdict.SUCCESS] * 2
    assert receiver.connections == 2


def reply(status: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status, len(body)) + body


def test_the_reply_bodys_first_kb_is_kept_as_text_whatever_its_size_or_bytes() -> None:
    cut = "a" * 1023 + "é" + "b" * 2000  # é's two bytes straddle the 1,024th
    replies = iter(
        [
            (reply(b"503 Service Unavailable", cut.encode()), False),
            (reply(b"200 OK", b"ok \xff\xfe <script>"), False),  # not UTF-8: replaced, not refused
            (reply(b"204 No Content", b""), False),
            (reply(b"200 OK", b"z" * (1024 * 1024)), False),  # beyond what is drained
        ]
    )
    with listening(Receiver(lambda head: next(replies))) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook")
        bodies = [sender.deliver(DELIVERY).response_body for _ in range(4)]
    assert bodies == ["a" * 1023 + "\ufffd", "ok \ufffd\ufffd <script>", "", "z" * 1024]


def test_no_reply_no_body() -> None:
    with listening(Receiver(lambda head: (b"", True))) as port:  # closes without answering
        outcome = HttpWebhookSender(f"http://127.0.0.1:{port}/hook").deliver(DELIVERY)
    assert (outcome.verdict, outcome.response_body) == (Verdict.TRANSIENT, None)


def test_path_query_credentials_and_headers_arrive_as_given() -> None:
    receiver = Receiver(lambda head: (OK, False))
    with listening(receiver) as port:
        sender = HttpWebhookSender(
            f"http://hook%20user:p%40ss@127.0.0.1:{port}/in/hook?tenant=7", "whsec_c2VjcmV0"
        )
        assert sender.deliver(DELIVERY).verdict is Verdict.SUCCESS
    [head] = receiver.heads
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /in/hook?tenant=7 HTTP/1.1"
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
    assert headers["authorization"] == "Basic aG9vayB1c2VyOnBAc3M="  # "hook user:p@ss"
    assert headers["user-agent"] == USER_AGENT
    assert headers["content-length"] == str(len(DELIVERY.body))
    assert headers["idempotency-key"] == headers["webhook-id"] == "key-1"
    assert headers["webhook-signature"].startswith("v1,")


def test_without_a_secret_the_standard_webhooks_id_and_timestamp_still_go_but_no_signature() -> None:
    """Receivers deduplicate on webhook-id (docs/receiving-webhooks.md), signed or not."""
    receiver = Receiver(lambda head: (OK, False))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook", wall_clock=lambda: 1_767_225_600.5)
        assert sender.deliver(DELIVERY).verdict is Verdict.SUCCESS
    [head] = receiver.heads
    headers = {
        k.lower(): v for k, v in (line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
    }
    assert headers["webhook-id"] == headers["idempotency-key"] == "key-1"
    assert headers["webhook-timestamp"] == "1767225600"
    assert "webhook-signature" not in headers


def test_a_reply_slower_than_the_read_timeout_is_a_transient_timeout() -> None:
    gate = threading.Event()

    def slow(head: bytes) -> tuple[bytes, bool]:
        gate.wait(10)
        return OK, True

    with listening(Receiver(slow)) as port:
        outcome = HttpWebhookSender(f"http://127.0.0.1:{port}/hook", read_timeout=0.2).deliver(DELIVERY)
        gate.set()
    assert outcome.verdict is Verdict.TRANSIENT
    assert outcome.error is not None
    assert outcome.error.startswith("timeout")


def test_a_malformed_reply_is_transient_and_the_next_post_gets_a_new_connection() -> None:
    replies = iter([(b"this is not HTTP\r\n\r\n", False), (OK, False)])
    receiver = Receiver(lambda head: next(replies))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://127.0.0.1:{port}/hook")
        outcomes = [sender.deliver(DELIVERY), sender.deliver(DELIVERY)]
    assert [o.verdict for o in outcomes] == [Verdict.TRANSIENT, Verdict.SUCCESS]
    assert receiver.connections == 2


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/hook", "127.0.0.1:8080/hook", "http:///hook", "http://127.0.0.1:99999/hook", ""],
)
def test_a_url_that_is_not_http_is_a_settings_error(url: str) -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_URL"):
        Target.parse(url)


# --- TLS: the certificate is checked ---------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A test CA, and a certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "event-scheduler test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def tls_receiver(certificates: tuple[Path, Path, Path]) -> Receiver:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificates[1], certificates[2])
    return Receiver(lambda head: (OK, False), tls=server)


def test_https_to_a_receiver_whose_certificate_chains_to_a_trusted_root(
    certificates: tuple[Path, Path, Path],
) -> None:
    receiver = tls_receiver(certificates)
    trusting = ssl.create_default_context(cafile=str(certificates[0]))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"https://127.0.0.1:{port}/hook", tls=trusting)
        outcomes = [sender.deliver(DELIVERY) for _ in range(3)]
    assert [o.status_code for o in outcomes] == [200] * 3
    assert receiver.connections == 1  # one handshake, kept alive


def test_https_refuses_a_certificate_the_default_roots_do_not_trust(
    certificates: tuple[Path, Path, Path],
) -> None:
    receiver = tls_receiver(certificates)
    with listening(receiver) as port:
        outcome = HttpWebhookSender(f"https://127.0.0.1:{port}/hook").deliver(DELIVERY)
    assert outcome.verdict is Verdict.TRANSIENT  # the receiver can fix its certificate; retried
    assert outcome.error is not None
    assert outcome.error.startswith("SSLCertVerificationError")
    assert receiver.heads == []  # nothing was sent over the unverified connection


def test_a_team_endpoint_that_leads_into_the_network_is_refused_before_any_connection() -> None:
    """`public_only` (a team's endpoint in a cloud stage): every address the name resolves to is
    checked before a packet goes to it, so a name that resolves to loopback (`localhost`, or a
    rebinding name) is refused like a literal one; no TCP connection is even opened (nor a TLS
    handshake), nothing is sent, and it is not retried."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        for url in (
            f"http://127.0.0.1:{port}/hook",
            f"http://localhost:{port}/hook",
            f"https://localhost:{port}/",
        ):
            outcome = HttpWebhookSender(url, public_only=True).deliver(Delivery("k", b"{}"))
            assert outcome.verdict is Verdict.PERMANENT
            assert outcome.error is not None
            assert "not a public address" in outcome.error
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()  # no connection came
        local = HttpWebhookSender(f"http://127.0.0.1:{port}/hook", read_timeout=0.1)
        assert local.deliver(Delivery("k", b"{}")).verdict is Verdict.TRANSIENT  # no answer
        listener.accept()[0].close()  # locally, a connection does come


def test_a_vetted_connection_goes_to_the_addresses_checked_under_the_urls_name() -> None:
    """The name is resolved once, by the check: the socket goes to the addresses it returned
    (here a name no resolver knows), and the request still names the URL's host."""
    vetted: list[tuple[str, int]] = []

    def vet(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        vetted.append((host, port))
        return [ipaddress.ip_address("127.0.0.1")]

    receiver = Receiver(lambda head: (OK, False))
    with listening(receiver) as port:
        sender = HttpWebhookSender(f"http://hooks.example.invalid:{port}/hook", public_only=True, vet=vet)
        outcomes = [sender.deliver(DELIVERY) for _ in range(2)]
    assert [o.status_code for o in outcomes] == [200, 200]
    assert vetted == [("hooks.example.invalid", port)]  # once a connection, kept alive
    assert f"Host: hooks.example.invalid:{port}".encode() in receiver.heads[0]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # the instance metadata service
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_public_addresses_refuses_every_address_that_is_not_public(address: str, public: bool) -> None:
    if public:
        assert public_addresses(address, 443) == [ipaddress.ip_address(address)]
    else:
        with pytest.raises(NotPublic, match="not a public address"):
            public_addresses(address, 443)
