"""The `migrate` Lambda as CloudFormation's custom resource invokes it, on a real, empty
PostgreSQL database: the first deploy creates the schema, the next changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters import migrations
from chalicelib.settings import Settings
from tests.conftest import PostgresServer

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database(pg_server: PostgresServer) -> Iterator[str]:
    name = f"es_empty_{uuid.uuid4().hex[:12]}"
    url = pg_server.create(name)
    yield url
    pg_server.drop(name)


def test_each_deploy_runs_the_pending_migrations(empty_database: str) -> None:
    bootstrap.install(bootstrap.Container(Settings(database_url=empty_database)))
    try:
        with Client(app) as client:
            first = client.lambda_.invoke("migrate", {"RequestType": "Create", "ResourceProperties": {}})
            again = client.lambda_.invoke("migrate", {"RequestType": "Update", "ResourceProperties": {}})
    finally:
        bootstrap.install(None)
    everything = ",".join(f"{m.version:04d}_{m.name}" for m in migrations.available())
    assert first.payload["Data"]["Applied"] == everything
    assert again.payload["Data"]["Applied"] == ""
    with psycopg.connect(empty_database) as conn:
        assert migrations.applied(conn) == [m.version for m in migrations.available()]
