"""`Database.outer_transaction()` against the real PostgreSQL: a `transaction()` opened inside it,
in the same context, joins it as a savepoint (one connection, one commit); outside one, or in
another thread, a `transaction()` has its own connection as before. And the idempotency keys'
queries: claim, wait on an uncommitted claim, renew, keep, forget."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from chalicelib.adapters.postgres import Database
from chalicelib.domain.errors import Conflict
from chalicelib.domain.idempotency import IdempotentRequest, KeptResponse, KeyRecord
from chalicelib.domain.users import User, UserFields
from scripts.devstack.store import tool_transaction
from tests.locks import until_a_session_waits

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ASKED = IdempotentRequest("team-a", "key-1", "f" * 64)


def user(external_id: str | None = None) -> User:
    fields = UserFields("Ada", "Lovelace", date(1990, 12, 10), "UTC", external_id=external_id)
    return User(uuid.uuid4(), fields, NOW, NOW)


@pytest.fixture
def database_url(database_url: str) -> str:
    """conftest's, with a lock timeout: a transaction that did not join would wait on its own
    outer one; this way it fails in seconds instead of hanging."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.execute(b"SELECT current_database()").fetchone()
        assert name is not None
        conn.execute(sql.SQL("ALTER DATABASE {} SET lock_timeout = '5s'").format(sql.Identifier(name[0])))
    return database_url


@pytest.fixture
def one_connection(database_url: str) -> Iterator[Database]:
    """A pool of one: a nested transaction that took a second connection would time out."""
    database = Database(database_url, max_size=1, timeout=2.0)
    yield database
    database.close()


def insert_two(db: Database, first: User, second: User) -> None:
    """A service's transaction: its own `transaction()`."""
    with db.transaction() as store:
        store.insert_user(first)
        store.insert_user(second)


def user_count(db: Database) -> int:
    with tool_transaction(db) as tools:
        row = tools.one("SELECT count(*) AS n FROM users")
    assert row is not None
    return int(row["n"])


def test_a_transaction_inside_the_outer_one_joins_it_on_its_one_connection(one_connection: Database) -> None:
    db = one_connection
    with db.outer_transaction() as outer:
        with db.transaction() as inner:
            assert inner.conn is outer.conn
            inner.insert_user(user())
        with db.transaction() as inner:  # a second service call: another savepoint
            inner.insert_user(user())
    assert user_count(db) == 2


def test_an_error_inside_the_joined_one_undoes_only_its_own_writes(db: Database) -> None:
    with db.outer_transaction() as outer:
        outer.insert_user(user("crm-1"))
        with pytest.raises(Conflict) as refused:  # a unique violation: still a Conflict
            insert_two(db, user(), user("crm-1"))
        assert refused.value.details[0].field == "externalId"
    assert user_count(db) == 1


def test_a_failure_in_the_outer_one_undoes_what_the_joined_ones_committed(db: Database) -> None:
    def crash_after_a_service_committed() -> None:
        with db.outer_transaction():
            insert_two(db, user(), user())
            raise RuntimeError("crash before the commit")

    with pytest.raises(RuntimeError):
        crash_after_a_service_committed()
    assert user_count(db) == 0


def test_without_an_outer_one_a_nested_transaction_has_its_own_connection(db: Database) -> None:
    with db.transaction() as first, db.transaction() as second:
        assert second.conn is not first.conn
        second.insert_user(user())
    assert user_count(db) == 1


def test_another_thread_does_not_join(db: Database) -> None:
    seen: list[object] = []

    def elsewhere() -> None:
        with db.transaction() as store:
            seen.append(store.conn)

    with db.outer_transaction() as outer:
        worker = threading.Thread(target=elsewhere)
        worker.start()
        worker.join(30)
    assert len(seen) == 1
    assert seen[0] is not outer.conn


def test_another_database_does_not_join(db: Database, database_url: str) -> None:
    other = Database(database_url, max_size=1)
    try:
        with db.outer_transaction() as outer, other.transaction() as store:
            assert store.conn is not outer.conn
    finally:
        other.close()


def test_outer_transactions_do_not_nest(db: Database) -> None:
    with db.outer_transaction(), pytest.raises(RuntimeError), db.outer_transaction():
        pass
    with db.outer_transaction():  # the context is clean again
        pass


# the idempotency keys' queries


def test_a_key_is_claimed_once_per_caller_and_kept_whole(db: Database) -> None:
    answer = KeptResponse(201, '{"id":"x"}', {"Content-Type": "application/json"})
    with db.transaction() as store:
        assert store.claim_idempotency_key(ASKED, NOW)
        assert not store.claim_idempotency_key(ASKED, NOW)
        assert store.claim_idempotency_key(IdempotentRequest("team-b", ASKED.key, "g" * 64), NOW)
        assert store.lock_idempotency_key(ASKED.caller, ASKED.key) == KeyRecord(ASKED.fingerprint, NOW, None)
        store.keep_idempotent_response(ASKED, answer)
    with db.transaction() as store:
        kept = store.lock_idempotency_key(ASKED.caller, ASKED.key)
        assert kept == KeyRecord(ASKED.fingerprint, NOW, answer)
        assert store.lock_idempotency_key("team-c", ASKED.key) is None
        later = NOW + timedelta(days=1)
        renewed = IdempotentRequest(ASKED.caller, ASKED.key, "h" * 64)
        store.renew_idempotency_key(renewed, later)
        assert store.lock_idempotency_key(ASKED.caller, ASKED.key) == KeyRecord("h" * 64, later, None)


class Rollback(Exception):
    pass


@pytest.mark.parametrize("holder_ends", ["commit", "rollback"])
def test_a_claim_waits_for_an_uncommitted_claim_of_the_same_key(
    db: Database, database_url: str, holder_ends: str
) -> None:
    """Then inserts nothing if that one committed, and claims the key if it rolled back."""
    results: list[bool] = []

    def claim() -> None:
        with db.transaction() as store:
            results.append(store.claim_idempotency_key(ASKED, NOW))

    waiter = threading.Thread(target=claim)
    with contextlib.suppress(Rollback), db.transaction() as holder:
        assert holder.claim_idempotency_key(ASKED, NOW)
        waiter.start()
        until_a_session_waits(database_url, "INSERT INTO idempotency_keys")
        assert results == []  # still waiting on the holder's uncommitted row
        if holder_ends == "rollback":
            raise Rollback()
    waiter.join(30)
    assert results == [holder_ends == "rollback"]


def test_forgetting_takes_the_oldest_expired_keys_a_bounded_batch_at_a_time(db: Database) -> None:
    with db.transaction() as store:
        for hours, key in ((0, "a"), (1, "b"), (2, "c"), (30, "live")):
            store.claim_idempotency_key(IdempotentRequest("team-a", key, "f"), NOW + timedelta(hours=hours))
            store.keep_idempotent_response(IdempotentRequest("team-a", key, "f"), KeptResponse(201, "{}"))
    cutoff = NOW + timedelta(hours=3)
    with db.transaction() as store:
        assert store.forget_idempotency_keys(cutoff, limit=2) == 2
        assert store.lock_idempotency_key("team-a", "c") is not None
        assert store.forget_idempotency_keys(cutoff, limit=2) == 1
        assert store.forget_idempotency_keys(cutoff, limit=2) == 0
        assert store.lock_idempotency_key("team-a", "live") is not None
