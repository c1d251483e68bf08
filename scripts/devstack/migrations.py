"""Reverting migrations: `scripts/migrate.py down` and the tests; the Lambda only applies them
(chalicelib.adapters.migrations, which this shares its lock and bookkeeping with)."""

from __future__ import annotations

import psycopg

from chalicelib.adapters.migrations import LOCK_ID, Migration, applied, available


def downgrade(url: str, steps: int = 1) -> list[Migration]:
    """Reverts the last `steps` applied migrations, newest first."""
    by_version = {m.version: m for m in available()}
    undone: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(steps):
            with conn.transaction():
                conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
                versions = applied(conn)
                if not versions:
                    break
                migration = by_version[versions[-1]]
                conn.execute(migration.down.read_bytes())
                conn.execute(b"DELETE FROM schema_migrations WHERE version = %s", (migration.version,))
                undone.append(migration)
    return undone
