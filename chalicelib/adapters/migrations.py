"""Versioned schema migrations: `NNNN_name.up.sql` with a matching `.down.sql`.

Applied in order inside one transaction each, under an advisory lock so that two migrators
(two deploys, two test workers) never race; recorded in `schema_migrations`, so running twice
changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from chalicelib.adapters.sql_files import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
_FILE = re.compile(r"(?P<version>[0-9]{4})_(?P<name>\w+)\.up\.sql")
LOCK_ID = 7_201_114  # any constant shared by every migrator of this schema

_CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.up.sql")):
        match = _FILE.fullmatch(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.up.sql")
        down = path.with_name(path.name.replace(".up.sql", ".down.sql"))
        if not down.exists():
            raise ValueError(f"migration {path.name} has no {down.name}")
        found.append(Migration(int(match["version"]), match["name"], path, down))
    return found


def applied(conn: psycopg.Connection[Any]) -> list[int]:
    conn.execute(_CREATE_TABLE)
    return [row[0] for row in conn.execute(b"SELECT version FROM schema_migrations ORDER BY version")]


def upgrade(url: str, target: int | None = None) -> list[Migration]:
    """Applies every migration not yet applied (up to `target`); returns what it applied."""
    done: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in available():
            if target is not None and migration.version > target:
                break
            with conn.transaction():
                conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
                if migration.version in applied(conn):
                    continue
                conn.execute(migration.up.read_bytes())
                conn.execute(
                    b"INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                done.append(migration)
    return done
