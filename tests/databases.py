"""Each test's database: a clone of the migrated template, emptied after the test and lent to
the next one, instead of a clone per test (a CREATE DATABASE costs 0.1-0.5 s; emptying, ~0.03).

A database goes back to the pool only if it is as the template left it apart from its rows:
after the test every other connection to it is ended, and its schema, privileges and settings
(`FINGERPRINT`) are compared with the template's. A test that changed any of them (a downgrade,
a GRANT, an ALTER) leaves a database that is dropped, and the next test gets a fresh clone.
The tables are emptied with TRUNCATE, so each test starts as on a fresh clone: no rows, and the
template has none but schema_migrations' (checked once; if a migration ever seeds rows, every
test gets a fresh clone again).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
from psycopg import conninfo, sql

FINGERPRINT = b"""
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
    SELECT format('rel %s.%s %s %s %s', n.nspname, c.relname, c.relkind, c.relacl, c.reloptions)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL
    SELECT format('col %s.%s %s %s %s %s', a.attrelid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attacl,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND a.attnum > 0
      AND NOT a.attisdropped
    UNION ALL
    SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint
    WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    UNION ALL
    SELECT format('idx %s', pg_get_indexdef(indexrelid)) FROM pg_index
    WHERE indrelid::regclass::text NOT LIKE 'pg\\_%'
    UNION ALL
    SELECT format('fn %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT format('trg %s %s %s', tgrelid::regclass, tgname, tgenabled) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT format('type %s', t.oid::regtype) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL
    SELECT format('ns %s %s %s', nspname, nspowner, nspacl) FROM pg_namespace
    UNION ALL
    SELECT format('ext %s %s', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT format('acl %s %s %s', defaclrole, defaclobjtype, defaclacl) FROM pg_default_acl
    UNION ALL
    SELECT format('pol %s %s', polrelid::regclass, polname) FROM pg_policy
    UNION ALL
    SELECT format('db %s %s', datacl, datallowconn) FROM pg_database WHERE datname = current_database()
    UNION ALL
    SELECT format('set %s %s', setrole, setconfig) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT format('migration %s %s', version, name) FROM schema_migrations
) AS catalog (item)
"""
"""What a test may not change and leave behind: everything in the database but its rows."""

LEFT_ALONE_WITHIN = 30.0
"""Seconds for the backends of a test's connections to end before the database is dropped instead."""

TABLES = b"""
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> 'schema_migrations'
ORDER BY 1
"""


class DatabasePool:
    """Lends clones of `template` on one server (`admin_url`), emptied between tests."""

    def __init__(
        self,
        admin_url: str,
        template: str,
        create: Callable[[str, str], str],
        drop: Callable[[str], None],
    ) -> None:
        self._admin_url = admin_url
        self._template = template
        self._create = create
        self._drop = drop
        self._free: list[str] = []
        self._made: set[str] = set()
        self._fingerprint: bytes | None = None
        self._tables: list[str] = []
        self.reused = 0
        self.dropped = 0
        template_url = conninfo.make_conninfo(admin_url, dbname=template)
        with psycopg.connect(template_url, autocommit=True) as conn:
            self._tables = [row[0] for row in conn.execute(TABLES)]
            seeded = any(_has_rows(conn, table) for table in self._tables)
        self.reuses = not seeded
        """False when the template holds rows (a migration that seeds data): then every test
        gets a fresh clone, as TRUNCATE would take what a fresh clone has."""

    @contextlib.contextmanager
    def lend(self) -> Iterator[str]:
        name = self._free.pop() if self._free else self._new()
        try:
            yield conninfo.make_conninfo(self._admin_url, dbname=name)
        finally:
            if self._clean(name):
                self._free.append(name)
                self.reused += 1
            else:
                self._made.discard(name)
                self._drop(name)
                self.dropped += 1

    def _new(self) -> str:
        name = f"es_test_{uuid.uuid4().hex[:12]}"
        url = self._create(name, self._template)
        self._made.add(name)
        if self._fingerprint is None:  # a fresh clone's, before any test ran on it
            with psycopg.connect(url, autocommit=True) as conn:
                self._fingerprint = _fingerprint(conn)
        return name

    def _clean(self, name: str) -> bool:
        """Empties `name` for the next test; False if it is not as the template left it."""
        if not self.reuses:
            return False
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            # What the test left connected (a pool, a thread's connection) goes, as DROP ... FORCE did.
            admin.execute(
                b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                b" WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        url = conninfo.make_conninfo(self._admin_url, dbname=name)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                if _fingerprint(conn) != self._fingerprint:
                    return False
                conn.execute(b"SET lock_timeout = '5s'")
                tables = sql.SQL(", ").join(sql.SQL(t) for t in self._tables)
                conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
        except psycopg.Error:
            return False  # dropped by the test, locked by what survived it, ...: a fresh one next
        return self._left_alone(name)

    def _left_alone(self, name: str) -> bool:
        """A backend ends a moment after its client hangs up or is terminated: wait until none
        is on `name` (a test counts the connections to its database), as after a fresh clone."""
        deadline = time.monotonic() + LEFT_ALONE_WITHIN
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            while True:
                row = admin.execute(b"SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
                if row.fetchone() == (0,):
                    return True
                if time.monotonic() > deadline:
                    return False  # dropped instead (WITH FORCE)
                time.sleep(0.005)

    def close(self) -> None:
        for name in sorted(self._made):
            self._drop(name)
        self._made.clear()
        self._free.clear()


def _fingerprint(conn: psycopg.Connection[tuple[object, ...]]) -> bytes:
    row = conn.execute(FINGERPRINT).fetchone()
    assert row is not None
    return str(row[0]).encode()


def _has_rows(conn: psycopg.Connection[tuple[object, ...]], table: str) -> bool:
    return conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.SQL(table))).fetchone() == (
        True,
    )
