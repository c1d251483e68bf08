"""Waiting for PostgreSQL to report that a session waits on a lock: how a concurrency test knows
its second transaction is blocked behind the first before letting the first go on."""

from __future__ import annotations

import time

import psycopg

_WAITING = (
    b"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    b" AND wait_event_type = 'Lock' AND query LIKE %s"
)


def until_a_session_waits(database_url: str, statement: str = "", timeout: float = 30.0) -> None:
    """Returns once a session of this database waits on a lock in a statement containing
    `statement`; fails after `timeout` seconds."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute(_WAITING, (f"%{statement}%",)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.005)  # polls the server's own record of the wait; orders nothing
    raise AssertionError(f"no session waited on a lock in {statement!r} within {timeout} s")
