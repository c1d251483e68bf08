"""The Store against the real PostgreSQL: round trips, every constraint, optimistic concurrency."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg import errors as pg_errors

from chalicelib.adapters.postgres import Database, DatabaseUnavailable, Store
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import Event, Status
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.users import User, UserFields
from scripts.devstack.store import ToolStore, tool_transaction

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_user(first_name: str = "Ada", **changes: object) -> User:
    fields = replace(UserFields(first_name, "Lovelace", date(1990, 12, 10), "Europe/London"), **changes)
    return User(id=uuid.uuid4(), fields=fields, created_at=NOW, updated_at=NOW)


def make_event(user: User, day: date = date(2026, 12, 10), event_type: str = "birthday") -> Event:
    target = datetime.combine(day, datetime.min.time(), UTC).replace(hour=9)
    return Event.new(user.id, event_type, Occurrence(day, target), user.timezone, NOW)


def stored_user(db: Database, **changes: object) -> User:
    user = make_user(**changes)
    with db.transaction() as store:
        store.insert_user(user)
    return user


def insert(db: Database, *events: Event) -> None:
    with db.transaction() as store:
        for event in events:
            store.insert_events([event])


def get(db: Database, event_id: uuid.UUID) -> Event:
    with db.transaction() as store:
        found = store.get_event(event_id)
    assert found is not None
    return found


# users


def test_a_user_round_trips(db: Database) -> None:
    user = make_user(first_name="Zoë 山田", anniversary_date=date(2015, 8, 1), timezone="Asia/Kathmandu")
    with db.transaction() as store:
        store.insert_user(user)
    with db.transaction() as store:
        assert store.get_user(user.id) == user
        assert store.get_user(user.id, lock=True) == user
        assert store.get_user(uuid.uuid4()) is None


def test_times_come_back_in_utc_whatever_the_session_zone(database_url: str) -> None:
    db = Database(database_url + " options='-c TimeZone=Asia/Kathmandu'")
    try:
        user = stored_user(db)
        with db.transaction() as store:
            found = store.get_user(user.id)
            assert ToolStore.beside(store).one("SHOW TimeZone") == {"TimeZone": "Asia/Kathmandu"}
        assert found is not None
        assert found.created_at.tzinfo is UTC
        assert found.created_at == NOW
    finally:
        db.close()


def test_update_user(db: Database) -> None:
    user = stored_user(db)
    later = NOW + timedelta(hours=1)
    changed = User(
        user.id, replace(user.fields, last_name="King", timezone="Asia/Tokyo"), user.created_at, later
    )
    with db.transaction() as store:
        store.update_user(changed)
    with db.transaction() as store:
        assert store.get_user(user.id) == changed


def test_a_deleted_user_is_gone_but_its_row_stays(db: Database) -> None:
    user = stored_user(db)
    with db.transaction() as store:
        assert store.delete_user(user.id, NOW) is True
        assert store.delete_user(user.id, NOW) is False
        assert store.get_user(user.id) is None
        assert store.get_user(user.id, lock=True) is None
        row = ToolStore.beside(store).one("SELECT deleted_at FROM users WHERE id = %(id)s", {"id": user.id})
        assert row == {"deleted_at": NOW}
        assert store.delete_user(uuid.uuid4(), NOW) is False


def test_list_users_pages_by_id_and_skips_the_deleted(db: Database) -> None:
    users = [stored_user(db) for _ in range(5)]
    with db.transaction() as store:
        store.delete_user(users[2].id, NOW)
    alive = sorted((u.id for i, u in enumerate(users) if i != 2), key=lambda i: i)  # uuid order = PG order
    with db.transaction() as store:
        first = store.list_users(2, None)
        second = store.list_users(2, first[-1].id)
        third = store.list_users(2, second[-1].id)
    assert [u.id for u in first + second + third] == alive


def test_names_are_checked_by_the_database_too(db: Database) -> None:
    for bad in ("", "x" * 101):
        with pytest.raises(pg_errors.CheckViolation), db.transaction() as store:
            store.insert_user(make_user(first_name=bad))


# events


def test_an_event_round_trips(db: Database) -> None:
    user = stored_user(db)
    event = make_event(user)
    insert(db, event)
    assert get(db, event.id) == event
    claimed = event.claim(NOW, NOW + timedelta(minutes=5))
    with db.transaction() as store:
        assert store.update_event(claimed, event.version) is True
    assert get(db, event.id) == claimed


def test_events_for_user_in_target_order_and_active_ones(db: Database) -> None:
    user = stored_user(db, anniversary_date=date(2015, 8, 1))
    later = make_event(user, date(2027, 12, 10))
    sooner = make_event(user, date(2026, 8, 1), event_type="anniversary")
    done = make_event(user, date(2025, 12, 10))
    done = done.claim(NOW, NOW + timedelta(minutes=5)).complete(NOW, 1)
    other_user = stored_user(db)
    insert(db, later, sooner, done, make_event(other_user))
    with db.transaction() as store:
        assert [e.id for e in store.events_for_user(user.id)] == [done.id, sooner.id, later.id]
        assert [e.id for e in store.active_events_for_user(user.id)] == [sooner.id, later.id]
        known = {
            (k.user_id, k.event_type, k.occurrence_date)
            for k in store.known_events([user.id, other_user.id], datetime(1970, 1, 1, tzinfo=UTC))
        }
        assert (user.id, "birthday", date(2025, 12, 10)) in known
        assert (user.id, "anniversary", date(2025, 12, 10)) not in known
        assert (other_user.id, "birthday", date(2025, 12, 10)) not in known


def test_a_second_event_for_the_same_occurrence_is_refused(db: Database) -> None:
    user = stored_user(db)
    first = make_event(user)
    insert(db, first)
    again = replace(make_event(user), idempotency_key="a different key")
    with pytest.raises(Conflict, match="an event for this user, type and occurrence already exists"):
        insert(db, again)
    # Another type, or another user, on the same date is fine.
    insert(db, make_event(user, event_type="anniversary"), make_event(stored_user(db)))


def test_the_same_occurrence_cannot_come_back_through_an_update(db: Database) -> None:
    user = stored_user(db)
    this_year, next_year = make_event(user), make_event(user, date(2027, 12, 10))
    insert(db, this_year, next_year)
    moved = next_year.reschedule(
        Occurrence(this_year.occurrence_date, this_year.target_utc), "Europe/London", NOW
    )
    with pytest.raises(Conflict), db.transaction() as store:
        store.update_event(moved, next_year.version)


def test_an_idempotency_key_is_unique(db: Database) -> None:
    user = stored_user(db)
    first = make_event(user)
    insert(db, first)
    copy = replace(make_event(user, date(2027, 12, 10)), idempotency_key=first.idempotency_key)
    with pytest.raises(Conflict, match="an event with this idempotency key already exists"):
        insert(db, copy)


def test_a_refused_insert_rolls_back_the_whole_transaction(db: Database) -> None:
    user = stored_user(db)
    first = make_event(user)
    insert(db, first)
    newcomer = stored_user(db)
    with pytest.raises(Conflict):
        insert(db, make_event(newcomer), replace(make_event(user), idempotency_key="x"))
    with db.transaction() as store:
        assert store.events_for_user(newcomer.id) == []


def test_an_unknown_status_is_refused(db: Database) -> None:
    event = make_event(stored_user(db))
    insert(db, event)
    with pytest.raises(pg_errors.CheckViolation, match="events_status_check"), db.transaction() as store:
        store.conn.execute(b"UPDATE events SET status = 'LOST' WHERE id = %(id)s", {"id": event.id})


@pytest.mark.parametrize(
    ("status", "lease"),
    [(Status.PROCESSING, None), (Status.PENDING, NOW), (Status.COMPLETED, NOW)],
)
def test_a_lease_goes_with_processing_and_nothing_else(
    db: Database, status: Status, lease: datetime | None
) -> None:
    event = make_event(stored_user(db))
    insert(db, event)
    broken = replace(event, status=status, lease_until=lease, version=2)
    with pytest.raises(pg_errors.CheckViolation, match="events_lease_check"), db.transaction() as store:
        store.update_event(broken, event.version)


@pytest.mark.parametrize(("column", "value"), [("version", 0), ("attempts", -1)])
def test_counters_are_checked(db: Database, column: str, value: int) -> None:
    event = make_event(stored_user(db))
    with pytest.raises(pg_errors.CheckViolation), db.transaction() as store:
        store.insert_events([replace(event, **{column: value})])


def test_an_event_needs_a_real_user(db: Database) -> None:
    with pytest.raises(pg_errors.ForeignKeyViolation), db.transaction() as store:
        store.insert_events([make_event(make_user())])


def test_update_event_with_a_stale_version_changes_nothing(db: Database) -> None:
    event = make_event(stored_user(db))
    insert(db, event)
    claimed = event.claim(NOW, NOW + timedelta(minutes=5))
    cancelled = event.cancel(NOW)  # decided from the same read, version 1
    with db.transaction() as store:
        assert store.update_event(claimed, expected_version=1) is True
        assert store.update_event(cancelled, expected_version=1) is False
    assert get(db, event.id) == claimed
    with pytest.raises(Conflict, match="changed meanwhile"), db.transaction() as store:
        store.save_event(cancelled, expected_version=1)
    assert get(db, event.id).status is Status.PROCESSING


def test_a_failed_transaction_writes_nothing(db: Database) -> None:
    user = make_user()

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with db.transaction() as store:
            store.insert_user(user)
            store.insert_events([make_event(user)])
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    with db.transaction() as store:
        assert store.get_user(user.id) is None
        assert store.events_for_user(user.id) == []


def test_ping(db: Database) -> None:
    assert db.ping() is True


def test_the_pool_connects_only_when_first_used(database_url: str) -> None:
    db = Database(database_url)
    # autocommit: pg_stat_activity is a snapshot taken once per transaction.
    with psycopg.connect(database_url, autocommit=True) as conn:
        count = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        assert conn.execute(count.encode()).fetchone() == (1,)  # this connection only
        assert db.ping()
        assert conn.execute(count.encode()).fetchone() != (1,)
    db.close()


def test_store_runs_named_queries(db: Database) -> None:
    with db.transaction() as store:
        assert isinstance(store, Store)
        assert store.run("delete_user", id=uuid.uuid4(), now=NOW) == 0


UNREACHABLE = "postgresql://nobody@/postgres?host=/nonexistent-socket-dir"


def test_an_unreachable_database_is_unavailable_not_a_crash() -> None:
    db = Database(UNREACHABLE, timeout=0.2)
    try:
        assert db.ping() is False
        with pytest.raises(DatabaseUnavailable), tool_transaction(db) as tools:
            tools.one("SELECT 1")
    finally:
        db.close()


def test_callers_wait_for_a_connection_seconds_not_half_a_minute() -> None:
    # API Gateway gives up after 29 s; the pool's own default wait is 30 s.
    db = Database(UNREACHABLE)
    try:
        assert db._pool.timeout <= 10
    finally:
        db.close()


def test_a_database_that_never_prepares_statements_still_answers(database_url: str) -> None:
    db = Database(database_url, max_size=1, prepare_threshold=None)
    try:
        for _ in range(8):  # past psycopg's default threshold of 5
            with db.transaction() as store:
                assert store.list_users(10, None) == []
            with tool_transaction(db) as tools:
                assert tools.one("SELECT count(*) AS n FROM pg_prepared_statements")["n"] == 0  # type: ignore[index]
    finally:
        db.close()
