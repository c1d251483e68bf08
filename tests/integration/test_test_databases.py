"""The per-test databases (tests/databases.py): a database is lent again only emptied and as the
template left it; what a test changed beyond its rows makes the next test get a fresh clone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import PostgresServer
from tests.databases import DatabasePool

pytestmark = pytest.mark.integration
USER = b"""INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
VALUES (%s, 'Ada', 'Lovelace', '1815-12-10', 'Europe/London', now(), now())"""


@pytest.fixture
def pool(pg_server: PostgresServer, template_db: str) -> Iterator[DatabasePool]:
    databases = DatabasePool(pg_server.admin_url, template_db, pg_server.create, pg_server.drop)
    yield databases
    databases.close()


def dbname(url: str) -> str:
    with psycopg.connect(url) as conn:
        return str(conn.execute(b"SELECT current_database()").fetchone()[0])  # type: ignore[index]


def users(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(b"SELECT count(*) FROM users").fetchone()[0])  # type: ignore[index]


def others(url: str) -> int:
    """Connections to the database besides this one (a fresh clone has none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        count = b"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        return int(conn.execute(count).fetchone()[0]) - 1  # type: ignore[index]


def test_the_next_test_gets_the_same_database_without_the_rows(pool: DatabasePool) -> None:
    with pool.lend() as url, psycopg.connect(url) as conn:
        conn.execute(USER, (uuid.uuid4(),))
        conn.commit()
        first = dbname(url)
    with pool.lend() as url:
        assert others(url) == 0
        assert dbname(url) == first
        assert users(url) == 0
    assert (pool.reused, pool.dropped) == (2, 0)


def test_a_connection_left_open_in_a_transaction_is_ended_and_the_database_emptied(
    pool: DatabasePool,
) -> None:
    with pool.lend() as url:
        left = psycopg.connect(url)
        try:
            left.execute(USER, (uuid.uuid4(),))
        except psycopg.Error:
            left.close()
            raise
        left.execute(b"LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # uncommitted, never closed
    try:
        with pool.lend() as url:
            assert others(url) == 0
            assert users(url) == 0
        with pytest.raises(psycopg.OperationalError):
            left.execute(b"SELECT 1")  # its backend was ended
    finally:
        left.close()
    assert pool.dropped == 0


@pytest.mark.parametrize(
    "change",
    [
        b"ALTER TABLE users ADD COLUMN nickname text",
        b"CREATE INDEX users_by_name ON users (last_name)",
        b"GRANT SELECT ON users TO PUBLIC",
        b"ALTER TABLE users ALTER COLUMN timezone SET DEFAULT 'UTC'",
        b"CREATE TABLE scratch (id int)",
        b"DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)",
        b"CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
    ],
)
def test_a_database_changed_beyond_its_rows_is_dropped_and_the_next_is_a_fresh_clone(
    pool: DatabasePool, change: bytes
) -> None:
    with pool.lend() as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(change)
        changed = dbname(url)
    with pool.lend() as url:
        assert dbname(url) != changed
    assert pool.dropped == 1
    with psycopg.connect(pool_admin(pool), autocommit=True) as admin:
        assert admin.execute(b"SELECT 1 FROM pg_database WHERE datname = %s", (changed,)).fetchone() is None


def pool_admin(pool: DatabasePool) -> str:
    return pool._admin_url
