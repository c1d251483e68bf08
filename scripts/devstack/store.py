"""The local stack's own store: the queries of the tools (the simulator, the benchmark, `make
run`'s progress line, the volume tests' load) and raw `one`/`all` for tests that inspect the
database. None of it is the app's: chalicelib's `Store` names only what the app runs.

Its queries are the named blocks of scripts/devstack/tools.sql, read here only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import psycopg

from chalicelib import ports
from chalicelib.adapters.postgres import Store
from chalicelib.adapters.sql_files import parse_named_queries


@cache
def tool_queries() -> dict[str, str]:
    return parse_named_queries((Path(__file__).resolve().parent / "tools.sql").read_text())


class ToolStore:
    """The tools' queries in one transaction of the app's database."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    @classmethod
    def beside(cls, store: ports.Store) -> ToolStore:
        """The same transaction as one of the app's stores (PostgreSQL's, the only kind)."""
        return cls(cast("Store", store).conn)

    def one(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return self.conn.execute(sql.encode(), params).fetchone()

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.conn.execute(sql.encode(), params).fetchall()

    def _named(self, name: str, **params: Any) -> dict[str, Any]:
        row = self.one(tool_queries()[name], params)
        assert row is not None, f"{name} answers one row"
        return row

    def next_work(self) -> tuple[datetime | None, datetime | None]:
        """The earliest PENDING event to fall due, and the earliest lease to run out."""
        row = self._named("next_work")
        return _utc(row["due"]), _utc(row["lease"])

    def event_counts(self) -> list[dict[str, Any]]:
        return self.all(tool_queries()["event_counts"])

    def seed_due_birthdays(self, **params: Any) -> None:
        self.conn.execute(tool_queries()["seed_due_birthdays"].encode(), params)

    def progress_counts(self, since: datetime, until: datetime) -> tuple[int, int]:
        """make run's progress line: PROCESSING now, and COMPLETED in (`since`, `until`]."""
        row = self._named("progress_counts", since=since, until=until)
        return int(row["processing"]), int(row["completed"])

    def cancel_processing(self) -> None:
        self.conn.execute(tool_queries()["cancel_processing"].encode())

    def lateness(self, target: datetime) -> dict[str, Any]:
        return self._named("lateness", target=target)


@contextmanager
def tool_transaction(db: ports.Database) -> Iterator[ToolStore]:
    """A transaction of `db` (joining its outer transaction, if one is open) for the tools."""
    with db.transaction() as store:
        yield ToolStore.beside(store)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value
