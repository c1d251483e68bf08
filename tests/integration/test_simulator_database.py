"""The simulator's database: a throwaway one that commits without waiting for the WAL flush, read
between instants on a connection of its own, and a pool that does not probe its connections
(and what that costs when the server does cut one); a benchmark's, on a server configured as
asked."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from chalicelib.adapters.postgres import Database, DatabaseUnavailable
from scripts.devstack.postgres import fresh_database
from scripts.devstack.store import ToolStore, tool_transaction
from tests.conftest import PostgresServer

pytestmark = pytest.mark.integration


@pytest.fixture
def on_the_test_server(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """fresh_database on the tests' server rather than a new embedded one."""
    monkeypatch.setenv("DATABASE_URL", pg_server.admin_url)


def setting(url: str, name: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SHOW {name}".encode()).fetchone()
    assert row is not None
    return str(row[0])


def own_settings(url: str) -> list[str]:
    """The settings the database itself carries (ALTER DATABASE … SET), whatever the server's."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            b"SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
            b" WHERE d.datname = current_database() AND s.setrole = 0"
        ).fetchone()
    return list(row[0]) if row else []


@pytest.mark.usefixtures("on_the_test_server")
def test_the_simulators_database_commits_without_waiting_for_the_flush() -> None:
    with fresh_database("simtest", durable=False) as url:
        assert setting(url, "synchronous_commit") == "off"
        assert "synchronous_commit=off" in own_settings(url)


@pytest.mark.usefixtures("on_the_test_server")
def test_other_fresh_databases_keep_the_servers_setting() -> None:
    """(The tests' own server runs without durability, so the database is asked, not SHOW.)"""
    with fresh_database("simtest") as url:
        assert not [s for s in own_settings(url) if s.startswith("synchronous_commit")]


def test_an_embedded_servers_settings_are_the_ones_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audience benchmark's server runs with the production database's cache."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with fresh_database("simtest", settings={"shared_buffers": "24MB"}) as url:
        assert setting(url, "shared_buffers") == "24MB"


def test_the_reader_answers_in_autocommit_and_holds_no_transaction(database_url: str) -> None:
    with ToolStore.reader(database_url) as tools:
        assert tools.next_work() == (None, None)
        assert tools.conn.info.transaction_status == TransactionStatus.IDLE


def cut(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            time.sleep(0.01)


@pytest.mark.parametrize("check", [True, False], ids=["checked", "unchecked"])
def test_a_connection_the_server_cut_is_replaced_only_by_a_checked_pool(
    database_url: str, check: bool
) -> None:
    pool = Database(database_url, max_size=1, check=check)
    try:
        with tool_transaction(pool) as tools:
            row = tools.one("SELECT pg_backend_pid() AS pid")
        assert row is not None
        cut(database_url, row["pid"])
        if check:
            with tool_transaction(pool) as tools:
                assert tools.one("SELECT 1 AS ok") == {"ok": 1}
        else:
            with pytest.raises(DatabaseUnavailable), tool_transaction(pool) as tools:
                tools.one("SELECT 1 AS ok")
    finally:
        pool.close()
