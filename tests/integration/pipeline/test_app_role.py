"""The application's database role, as the migrate step creates it, on a real PostgreSQL: the
API, the sweeper and the worker do all their work logged in as it, and it can do nothing else
(no DDL, no TRUNCATE, no migrations). Every fixture below this module's `database_url` (the
pool, the pipeline) connects as that role, not as the owner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
import pytest
from chalice.test import Client
from psycopg import conninfo, errors, sql

from app import app
from chalicelib import deploy
from chalicelib.adapters import db_roles, migrations
from chalicelib.domain.events import Status
from scripts.devstack import migrations as schema_tools
from tests.conftest import PostgresServer
from tests.integration.pipeline.support import Pipeline
from tests.tokens import admin_token, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def login(pg_server: PostgresServer) -> Iterator[db_roles.Login]:
    suffix = uuid.uuid4().hex[:10]  # roles are per server, not per database: one per test
    yield db_roles.Login(login_name(suffix), f"pw-{suffix}")
    # after the test's database is dropped (owner_url depends on this fixture): it owns nothing
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login_name(suffix))))


def login_name(suffix: str) -> str:
    return f"scheduler_app_{suffix}"


@pytest.fixture
def owner_url(pg_server: PostgresServer, template_db: str, login: db_roles.Login) -> Iterator[str]:
    name = f"es_role_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def database_url(owner_url: str, login: db_roles.Login) -> str:
    """Overrides the shared fixture: the migrate step as a deploy runs it, then the app's login."""
    result = deploy.on_deploy({"RequestType": "Update"}, owner_url, app_login=lambda: login)
    assert result["PhysicalResourceId"] == deploy.PHYSICAL_ID
    return conninfo.make_conninfo(owner_url, user=login.username, password=login.password)


def current_user(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


def test_the_api_the_sweeper_and_the_worker_work_as_the_app_role(
    pipeline: Pipeline, database_url: str, login: db_roles.Login
) -> None:
    assert current_user(database_url) == login.username
    with Client(app) as client:
        assert client.http.get("/health").status_code == 200
        body = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-03-02", "timezone": "UTC"}
        headers = {**bearer(admin_token()), "Content-Type": "application/json"}
        created = client.http.post("/user", headers=headers, body=json.dumps(body))
        assert created.status_code == 201, created.body
        user_id = created.json_body["id"]
        patched = client.http.patch(
            f"/user/{user_id}", headers=headers, body=json.dumps({"lastName": "King"})
        )
        assert patched.status_code == 200, patched.body
    event = pipeline.only(uuid.UUID(user_id), Status.PENDING)

    pipeline.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert pipeline.sweep()["claimed"] == 1
    assert pipeline.drain() == 1
    assert pipeline.event(event.id).status is Status.COMPLETED
    assert pipeline.only(uuid.UUID(user_id), Status.PENDING).occurrence_date == date(2027, 3, 2)
    with Client(app) as client:
        assert client.http.delete(f"/user/{user_id}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE events",
        "TRUNCATE users CASCADE",
        "ALTER TABLE users ADD COLUMN nickname text",
        "CREATE TABLE notes (id int)",
        "DELETE FROM schema_migrations",
        "CREATE ROLE intruder",
    ],
)
def test_the_app_role_cannot_change_the_schema(database_url: str, statement: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_app_role_cannot_run_or_revert_migrations(database_url: str, owner_url: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        migrations.upgrade(database_url)
    with pytest.raises(errors.InsufficientPrivilege):
        schema_tools.downgrade(database_url)
    with psycopg.connect(owner_url) as conn:  # the owner's schema is untouched
        assert migrations.applied(conn) == [m.version for m in migrations.available()]


def test_the_migrate_step_is_repeatable_and_resets_the_password(
    owner_url: str, login: db_roles.Login
) -> None:
    db_roles.ensure(owner_url, login)
    db_roles.ensure(owner_url, db_roles.Login(login.username, "a-new-password"))
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s",
            (login.username,),
        ).fetchone()
    assert row == (False, False, False, True)
