"""The user use cases on the real PostgreSQL: one transaction each, and events kept in step."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.adapters.postgres import Database
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.errors import NotFound
from chalicelib.domain.event_types import EventType
from chalicelib.domain.events import Event, Status
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.planner import Rule
from chalicelib.domain.users import User, UserFields
from chalicelib.services import users
from scripts.devstack.clock import ManualClock

pytestmark = pytest.mark.integration

ADA = UserFields("Ada", "Lovelace", date(1990, 3, 1), "Europe/London")
SCHEDULE = BuiltIns()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events_of(db: Database, user: User) -> list[Event]:
    with db.transaction() as store:
        return store.events_for_user(user.id)


def the_event(db: Database, user: User, event_type: str = "birthday") -> Event:
    [event] = [e for e in events_of(db, user) if e.event_type == event_type]
    return event


def claim(db: Database, event: Event, now: datetime) -> Event:
    """What the sweeper does, with its own statement: PENDING to PROCESSING with a lease."""
    with db.transaction() as store:
        claimed = store.claim_due(now, now, timedelta(minutes=5), limit=100)
        assert [c.message.event_id for c in claimed] == [event.id]
        found = store.get_event(event.id)
    assert found is not None
    return found


def change(db: Database, clock: ManualClock, user: User, **fields: object) -> User:
    return users.change_user(db, clock, SCHEDULE, user.id, lambda current: replace(current, **fields))


def test_create_stores_the_user_and_its_next_events(db: Database, clock: ManualClock) -> None:
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, SCHEDULE, replace(ADA, anniversary_date=date(2015, 8, 1)))
    assert users.get_user(db, user.id) == user
    found = [(e.event_type, e.status, e.target_utc, e.version) for e in events_of(db, user)]
    assert found == [
        ("birthday", Status.PENDING, utc("2026-03-01T09:00:00Z"), 1),
        ("anniversary", Status.PENDING, utc("2026-08-01T08:00:00Z"), 1),  # BST
    ]


def test_create_is_one_transaction(db: Database, clock: ManualClock) -> None:
    class Broken(BuiltIns):
        def rule(self, event_type: EventType, user: UserFields) -> Rule | None:
            raise RuntimeError("no schedule today")

    with pytest.raises(RuntimeError):
        users.create_user(db, clock, Broken(), ADA)
    assert users.list_users(db, 100, None).items == []


def test_unknown_users_are_not_found(db: Database, clock: ManualClock) -> None:
    nobody = uuid.uuid4()
    with pytest.raises(NotFound):
        users.get_user(db, nobody)
    with pytest.raises(NotFound):
        users.change_user(db, clock, SCHEDULE, nobody, lambda f: f)
    with pytest.raises(NotFound):
        users.delete_user(db, clock, nobody)
    with pytest.raises(NotFound):
        users.user_events(db, nobody)


def test_a_zone_change_moves_the_event_in_place(db: Database, clock: ManualClock) -> None:
    user = users.create_user(db, clock, SCHEDULE, replace(ADA, date_of_birth=date(1990, 12, 10)))
    before = the_event(db, user)
    change(db, clock, user, timezone="Asia/Tokyo")
    after = the_event(db, user)
    assert after.id == before.id
    assert (after.target_utc, after.timezone, after.version) == (utc("2026-12-10T00:00:00Z"), "Asia/Tokyo", 2)
    assert after.idempotency_key == before.idempotency_key  # same occurrence date


def test_a_date_of_birth_change_moves_the_event_to_the_next_occurrence(
    db: Database, clock: ManualClock
) -> None:
    user = users.create_user(db, clock, SCHEDULE, replace(ADA, date_of_birth=date(1990, 12, 10)))
    key = the_event(db, user).idempotency_key
    change(db, clock, user, date_of_birth=date(1990, 2, 1))  # this year's has passed
    moved = the_event(db, user)
    assert (moved.occurrence_date, moved.target_utc) == (date(2027, 2, 1), utc("2027-02-01T09:00:00Z"))
    assert moved.idempotency_key != key


def test_an_anniversary_set_changed_and_cleared(db: Database, clock: ManualClock) -> None:
    user = users.create_user(db, clock, SCHEDULE, ADA)
    change(db, clock, user, anniversary_date=date(2015, 8, 1))
    assert the_event(db, user, "anniversary").occurrence_date == date(2026, 8, 1)
    change(db, clock, user, anniversary_date=date(2015, 9, 2))
    moved = the_event(db, user, "anniversary")
    assert (moved.occurrence_date, moved.status, moved.version) == (date(2026, 9, 2), Status.PENDING, 2)
    change(db, clock, user, anniversary_date=None)
    cleared = the_event(db, user, "anniversary")
    assert (cleared.status, cleared.version) == (Status.CANCELLED, 3)


def test_a_name_change_leaves_an_overdue_event_alone(db: Database, clock: ManualClock) -> None:
    # Due at 09:00 UTC on 1 March; the sweeper has not taken it yet (say, after downtime).
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, SCHEDULE, ADA)
    due = the_event(db, user)
    clock.set(utc("2026-03-01T10:00:00Z"))
    change(db, clock, user, last_name="King")
    assert the_event(db, user) == due  # still today's, to be delivered late: not next year's


def test_a_name_change_leaves_an_event_in_flight_alone(db: Database, clock: ManualClock) -> None:
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, SCHEDULE, ADA)
    clock.set(utc("2026-03-01T09:00:30Z"))
    claimed = claim(db, the_event(db, user), clock.now())
    change(db, clock, user, last_name="King")
    # Unchanged, so the queued message still matches its version; the worker reads the new name.
    assert the_event(db, user) == claimed


def test_a_zone_change_on_the_day_moves_an_event_in_flight(db: Database, clock: ManualClock) -> None:
    # 09:00 in London has come; 09:00 in New York (14:00 UTC) has not.
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, SCHEDULE, ADA)
    clock.set(utc("2026-03-01T09:00:30Z"))
    claimed = claim(db, the_event(db, user), clock.now())
    change(db, clock, user, timezone="America/New_York")
    moved = the_event(db, user)
    assert (moved.status, moved.target_utc, moved.lease_until) == (
        Status.PENDING,
        utc("2026-03-01T14:00:00Z"),
        None,
    )
    assert moved.version == claimed.version + 1  # the queued message is now stale
    assert moved.idempotency_key == claimed.idempotency_key


def test_a_delivered_occurrence_is_never_scheduled_again(db: Database, clock: ManualClock) -> None:
    # Delivered in Tokyo at 09:00 JST; the next year's event is pending. Moving to New York,
    # where 1 March 09:00 is still ahead, must not bring this year's birthday back.
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, replace(SCHEDULE), replace(ADA, timezone="Asia/Tokyo"))
    clock.set(utc("2026-03-01T00:00:30Z"))
    claimed = claim(db, the_event(db, user), clock.now())
    with db.transaction() as store:
        store.save_event(claimed.complete(clock.now(), attempts=1), claimed.version)
        next_year = Event.new(
            user.id,
            "birthday",
            Occurrence(date(2027, 3, 1), utc("2027-03-01T00:00:00Z")),
            "Asia/Tokyo",
            clock.now(),
        )
        store.insert_events([next_year])
    change(db, clock, user, timezone="America/New_York")
    found = {(e.occurrence_date, e.status, e.target_utc) for e in events_of(db, user)}
    assert found == {
        (date(2026, 3, 1), Status.COMPLETED, utc("2026-03-01T00:00:00Z")),
        (date(2027, 3, 1), Status.PENDING, utc("2027-03-01T14:00:00Z")),
    }


def test_delete_cancels_active_events_and_keeps_the_history(db: Database, clock: ManualClock) -> None:
    clock.set(utc("2026-02-28T12:00:00Z"))
    user = users.create_user(db, clock, SCHEDULE, replace(ADA, anniversary_date=date(2015, 8, 1)))
    clock.set(utc("2026-03-01T09:00:30Z"))
    claim(db, the_event(db, user), clock.now())  # one in flight, one pending
    users.delete_user(db, clock, user.id)
    assert {(e.event_type, e.status) for e in events_of(db, user)} == {
        ("birthday", Status.CANCELLED),
        ("anniversary", Status.CANCELLED),
    }
    with pytest.raises(NotFound):
        users.get_user(db, user.id)
    with pytest.raises(NotFound):
        users.delete_user(db, clock, user.id)


def test_list_users_pages(db: Database, clock: ManualClock) -> None:
    created = {users.create_user(db, clock, SCHEDULE, ADA).id for _ in range(5)}
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = users.list_users(db, 2, after)
        seen += [u.id for u in page.items]
        if page.last_id is None:
            break
        after = page.last_id
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(created)


def test_times_are_utc(db: Database, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    user = users.create_user(db, clock, SCHEDULE, ADA)
    assert users.get_user(db, user.id).created_at == clock.now()
