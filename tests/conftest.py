"""Shared fixtures: a real PostgreSQL (embedded unless DATABASE_URL names one), an empty migrated
database per test (a clone of the template, emptied and lent again: tests/databases.py), a
manual clock, and the app wired to both."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from chalicelib import bootstrap
from chalicelib.adapters import migrations
from chalicelib.adapters.postgres import Database
from chalicelib.settings import Settings
from scripts.devstack.clock import ManualClock
from scripts.devstack.postgres import create_database, drop_database
from tests.databases import DatabasePool

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class PostgresServer:
    """Creates and drops databases on one server: the embedded one, or DATABASE_URL's."""

    def __init__(self, admin_url: str, embedded: object | None = None) -> None:
        self.admin_url = admin_url
        self.embedded = embedded

    def url(self, database: str) -> str:
        return conninfo.make_conninfo(self.admin_url, dbname=database)

    def create(self, name: str, template: str | None = None) -> str:
        return create_database(self.admin_url, name, template)

    def drop(self, name: str) -> None:
        drop_database(self.admin_url, name)


@pytest.fixture
def postgres_safe_dir() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL's data, outside pytest's tmp_path (see pg_server)."""
    root = Path(tempfile.mkdtemp(prefix="event-scheduler-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield PostgresServer(external)
        return
    from scripts.devstack.postgres import EmbeddedPostgres

    # Not under pytest's tmp_path: run as root, PostgreSQL runs as the `pgserver` user, and any
    # other pytest starting on this machine resets /tmp/pytest-of-root to 0700, locking it out.
    root = Path(tempfile.mkdtemp(prefix="event-scheduler-pg-"))
    embedded = EmbeddedPostgres(root / "data")
    try:
        throwaway(embedded.url())
        yield PostgresServer(embedded.url(), embedded)
    finally:
        embedded.close()
        shutil.rmtree(root, ignore_errors=True)


THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""A test server's data dies with the session: no flush to disk for a commit, a checkpoint or a
database cloned from the template (each test's), which made up much of a test's set-up."""


def throwaway(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, value in THROWAWAY.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
def template_db(pg_server: PostgresServer) -> Iterator[str]:
    name = f"es_template_{uuid.uuid4().hex[:8]}"
    migrations.upgrade(pg_server.create(name))
    yield name
    pg_server.drop(name)


@pytest.fixture(scope="session")
def databases(pg_server: PostgresServer, template_db: str) -> Iterator[DatabasePool]:
    pool = DatabasePool(pg_server.admin_url, template_db, pg_server.create, pg_server.drop)
    yield pool
    pool.close()


@pytest.fixture
def database_url(databases: DatabasePool) -> Iterator[str]:
    """A migrated database with no rows, the test's alone (tests/databases.py)."""
    with databases.lend() as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, max_size=8)
    yield database
    database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def container(settings: Settings, clock: ManualClock, db: Database) -> Iterator[bootstrap.Container]:
    c = bootstrap.Container(settings, clock).use(db=db)  # the fixture's pool, not a second one
    bootstrap.install(c)
    yield c
    bootstrap.install(None)


GROUPS = {"tests/e2e/": "e2e", "tests/docs/": "e2e", "tests/infra/": "infra"}
"""Under pytest-xdist (make test, make check) each of these folders' tests runs on one worker, one
after the other: no two local stacks or simulator sets share the cores, and each session fixture
of the infra tests (the CDK synths, the package) is built once, not once per worker. By path, as
the controller knows a test by its node id alone (xdist_group marks are lost on pytest 9.2: xdist
3.8 renames node ids through an attribute pytest no longer reads)."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ByFolder(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return next((group for folder, group in GROUPS.items() if nodeid.startswith(folder)), nodeid)

    return ByFolder(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test on the moto server (tests/integration/pipeline) is a `stack` test: not in make check.
    for item in items:
        if "moto_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)
