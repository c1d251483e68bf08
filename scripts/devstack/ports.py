"""`make run`'s ports, checked before anything starts.

A server that cannot bind its port must not leave the stack talking to whatever holds it (the
API's health check answered by another checkout's API, a webhook receiver that is someone
else's): each port that is taken is refused, naming the setting that moves it and, where the
system says, the process that holds it.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

HOST = "127.0.0.1"


class PortsUnavailable(Exception):
    """One or more ports make run needs cannot be used; the message says which setting to change."""


@dataclass(frozen=True)
class Wanted:
    setting: str
    """The environment variable that chooses the port (API_PORT, SINK_PORT, AWS_ENDPOINT_URL)."""
    port: int
    host: str = HOST
    value: str = "{port}"
    """The setting's value for another port (AWS_ENDPOINT_URL's is a URL)."""
    purpose: str = ""
    """What would listen there: "the API", "the webhook receiver"."""

    def with_port(self, port: int) -> str:
        return self.value.format(port=port)


def parse_port(setting: str, value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise PortsUnavailable(f"{setting} must be a port number from 1 to 65535, not {value!r}")
    return int(text)


def check(wanted: Sequence[Wanted]) -> None:
    """Raises PortsUnavailable naming every port that is taken, shared or unusable at once."""
    problems = []
    by_port: dict[int, list[str]] = {}
    for w in wanted:
        by_port.setdefault(w.port, []).append(w.setting)
    for port, settings in by_port.items():
        if len(settings) > 1:
            each = "both" if len(settings) == 2 else "all"
            problems.append(f"{' and '.join(settings)} are {each} {port}: give each its own port")
    avoid = set(by_port)  # each suggestion differs from every wanted port and from the others
    for w in wanted:
        problem = _problem(w, avoid)
        if problem:
            problems.append(problem)
    if problems:
        raise PortsUnavailable("\n".join(problems))


def _problem(wanted: Wanted, avoid: set[int]) -> str | None:
    error = _bind_error(wanted.host, wanted.port)
    if error is None:
        return None
    free = next_free(wanted.host, wanted.port, avoid)
    if free:
        avoid.add(free)
    fix = f"set {wanted.setting}={wanted.with_port(free)}" if free else f"set {wanted.setting} to a free port"
    port = f"port {wanted.port}" + (f" ({wanted.purpose})" if wanted.purpose else "")
    if error.errno != errno.EADDRINUSE:  # a privileged port, an address that is not this machine's
        return f"{wanted.setting}: {port} cannot be used on {wanted.host} ({error.strerror}); {fix}"
    by = holder(wanted.port)
    return f"{wanted.setting}: {port} is in use{f' (by {by})' if by else ''}; stop that, or {fix}"


def holder(port: int) -> str | None:
    """'pid N: command in its folder' for the process listening on `port`, when the system
    says: which other checkout's stack holds it, say."""
    process = listener(port)
    if process is None:
        return None
    try:
        args = process.cmdline()
        # The interpreter's and the script's paths shortened to their names; the folder says where.
        command = " ".join([Path(a).name for a in args[:2]] + args[2:]) or process.name()
        folder = process.cwd()
    except psutil.Error:
        return f"pid {process.pid}"
    if len(command) > 100:
        command = command[:99] + "…"
    return f"pid {process.pid}: {command} in {folder}"


def listener(port: int) -> psutil.Process | None:
    """The process with a TCP socket listening on `port`, if the system lets us see it (Linux
    shows other users' processes' sockets without their pid; macOS needs root for any)."""
    try:
        for connection in psutil.net_connections("tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
                return psutil.Process(connection.pid)
    except psutil.Error:
        return None
    return None


def next_free(host: str, port: int, avoid: set[int]) -> int | None:
    """The first free port above `port` (a suggestion; it may be taken by the time it is used)."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        if candidate not in avoid and _bind_error(host, candidate) is None:
            return candidate
    return None


def _bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port now, or None. SO_REUSEADDR as the servers
    here set it (http.server, werkzeug): a connection closing on that port is not a conflict,
    a listener is."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:  # socket.gaierror too: a host name that does not resolve
        return exc
    return None
