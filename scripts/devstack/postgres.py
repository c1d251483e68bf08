"""An embedded PostgreSQL 16 from the pgserver wheel, for `make run`, the tests and the tools.

It listens on a Unix socket in its data folder only. `stop()` and `start()` exist so fault
tests can take the database away and bring it back. `stop_leftover()` stops a server that a
killed process left behind (`make run` calls it first, while it holds its folder's lock).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pgserver
import psutil
import psycopg
from pgserver.utils import PostmasterInfo
from psycopg import conninfo, sql

from chalicelib.adapters import migrations


class EmbeddedPostgres:
    def __init__(
        self, data_dir: Path, *, keep_running: bool = False, settings: Mapping[str, str] | None = None
    ) -> None:
        """`keep_running` leaves the server up when this process exits (pgserver's refcount);
        `settings` are written to the server's configuration (ALTER SYSTEM), which then restarts."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
        if settings:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                for name, value in settings.items():
                    conn.execute(
                        sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
                    )
            self.stop()
            self.start()

    def url(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    def _pg_ctl(self, *args: str) -> None:
        pgserver._commands.pg_ctl(list(args), pgdata=self.data_dir, user=self._server.system_user)

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in an outage."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start again after `stop()`, on the same socket."""
        socket_dir = self._server.get_postmaster_info().socket_dir
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.data_dir / "log"), "start")
        # pgserver stops the server it knows at exit: tell it about the new one.
        self._server._postmaster_info = PostmasterInfo.read_from_pgdata(self.data_dir)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._server.cleanup()


HANDLES = ".handle_pids.json"
"""pgserver's list of the processes using a server; the last one to leave stops it."""


def stop_leftover(data_dir: Path, timeout: float = 30.0) -> int | None:
    """Stops the postmaster a killed process left running on `data_dir`, and forgets the dead
    handles that would keep pgserver from ever stopping it; returns its pid, None if none ran.

    Only the pid named in postmaster.pid is signalled, and only once it is verified to be a
    postgres process on this very data folder (a pid is reused after a reboot)."""
    (data_dir / HANDLES).unlink(missing_ok=True)
    try:
        info = PostmasterInfo.read_from_pgdata(data_dir)
    except (AssertionError, ValueError):  # a file half written by a start that was cut short
        info = None
    if info is None or info.process is None or not _serves(info.process, data_dir):
        return None
    process: psutil.Process = info.process
    for how in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):  # fast, immediate, kill
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(how)
        deadline = time.monotonic() + timeout / 3
        while _alive(process) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(process):
            break
    if _alive(process):
        raise RuntimeError(f"the PostgreSQL left on {data_dir} (pid {process.pid}) does not stop")
    return process.pid


def _alive(process: psutil.Process) -> bool:
    """Not our child, so a zombie until its parent (often no init in a container) reaps it."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _serves(process: psutil.Process, data_dir: Path) -> bool:
    try:
        if process.name() != "postgres":
            return False
        args = process.cmdline()
        folder = args[args.index("-D") + 1] if "-D" in args else process.cwd()
    except (psutil.Error, IndexError):
        return False
    return Path(folder).resolve() == data_dir.resolve()


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """Creates `name` on admin_url's server (a copy of `template` when given); returns its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)
    return conninfo.make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def fresh_database(
    prefix: str, *, durable: bool = True, settings: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A new, migrated database, dropped afterwards: on DATABASE_URL's server when that is set,
    else on an embedded server in a temporary folder (the benchmark's and the simulator's),
    configured with `settings` (DATABASE_URL's server keeps its own).

    `durable=False` (the simulator's) commits without waiting for the WAL flush
    (`synchronous_commit = off`): a crash of the server could lose the last commits of a
    database thrown away anyway, nothing else changes (no transaction sees another half done),
    and the flush was a fifth of a simulated year. Benchmarks keep the production setting."""
    admin = os.environ.get("DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if not admin:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{prefix}-pg-"))
            embedded = EmbeddedPostgres(Path(tmp) / "data", settings=settings)
            stack.callback(embedded.close)
            admin = embedded.url()
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        url = create_database(admin, name)
        stack.callback(drop_database, admin, name)
        if not durable:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name))
                )
        migrations.upgrade(url)
        yield url
