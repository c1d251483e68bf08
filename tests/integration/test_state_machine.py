"""One state machine: every statement that moves an event in SQL agrees with domain/events.py.

Statically, each UPDATE of events with fixed statuses moves only along TRANSITIONS; and run
against PostgreSQL, each bulk statement leaves a row exactly as the domain method it stands
for would (claim_due = Event.claim, requeue_expired and resend_unsent = Event.requeue,
finish_events = whatever the worker's transition computed)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.adapters.postgres import Database, DatabaseUnavailable
from chalicelib.adapters.sql_files import queries
from chalicelib.domain.events import TRANSITIONS, Event, Status
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.users import User, UserFields
from scripts.devstack.store import tool_transaction

pytestmark = pytest.mark.integration

TARGET = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)
AHEAD = timedelta(seconds=150)
STATUS = re.compile(r"status = '(\w+)'")


def moves_in_sql() -> dict[str, tuple[set[Status], Status | None]]:
    """Each events UPDATE: the statuses it takes rows from, and the one it sets (None: kept)."""
    found: dict[str, tuple[set[Status], Status | None]] = {}
    for name, text in queries().items():
        sql = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        if not re.match(r"UPDATE events\b", sql, re.IGNORECASE):
            continue
        set_clause, _, rest = sql.partition("WHERE")
        to = STATUS.search(set_clause)
        found[name] = ({Status(s) for s in STATUS.findall(rest)}, Status(to[1]) if to else None)
    return found


def test_every_sql_statement_that_moves_an_event_moves_it_along_the_state_machine() -> None:
    moves = moves_in_sql()
    statements = {
        "claim_due",
        "requeue_expired",
        "resend_unsent",
        "mark_unsent",
        "update_event",
        "finish_events",
    }
    assert statements <= set(moves)
    # A recovery's late delivery: a COMPLETED event's lateness changes, its state does not.
    assert moves.pop("mark_delivered_late") == ({Status.COMPLETED}, None)
    for name, (sources, target) in moves.items():
        if not sources:
            continue  # update_event, finish_events: the status comes from the domain (tested below)
        for source in sources:
            assert (target or source) in TRANSITIONS[source], f"{name}: {source} → {target or source}"
    assert moves["claim_due"] == ({Status.PENDING}, Status.PROCESSING)
    assert moves["requeue_expired"] == moves["resend_unsent"] == ({Status.PROCESSING}, None)


def stored(db: Database, target: datetime = TARGET) -> Event:
    user = User(uuid.uuid4(), UserFields("Ada", "Lovelace", date(1990, 3, 2), "UTC"), TARGET, TARGET)
    event = Event.new(
        user.id, "birthday", Occurrence(target.date(), target), "UTC", target - timedelta(days=30)
    )
    with db.transaction() as store:
        store.insert_user(user)
        store.insert_events([event])
    return event


def read(db: Database, event: Event) -> Event:
    with db.transaction() as store:
        found = store.get_event(event.id)
    assert found is not None
    return found


@pytest.mark.parametrize("since_target", [timedelta(seconds=-75), timedelta(seconds=3), timedelta(minutes=6)])
def test_claim_due_is_event_claim(db: Database, since_target: timedelta) -> None:
    event = stored(db)
    now = TARGET + since_target  # ahead of the target (the look-ahead), just after, late
    with db.transaction() as store:
        [claimed] = store.claim_due(now, now + AHEAD, LEASE, 10)
    assert read(db, event) == event.claim(now, event.lease_from(now, LEASE))
    assert (claimed.message.version, claimed.target_utc, claimed.due_utc) == (
        event.version + 1,
        TARGET,
        TARGET,
    )


def test_requeue_expired_is_event_requeue(db: Database) -> None:
    event = stored(db)
    first = TARGET + timedelta(seconds=3)
    with db.transaction() as store:
        store.claim_due(first, first + AHEAD, LEASE, 10)
    claimed = read(db, event)
    now = first + timedelta(minutes=16)
    with db.transaction() as store:
        [again] = store.requeue_expired(now, LEASE, 10)
    assert read(db, event) == claimed.requeue(now, now + LEASE)
    assert again.message.version == claimed.version + 1


def test_resend_unsent_is_event_requeue_and_mark_unsent_only_marks(db: Database) -> None:
    event = stored(db)
    now = TARGET - timedelta(seconds=75)
    with db.transaction() as store:
        [claim] = store.claim_due(now, now + AHEAD, LEASE, 10)
        store.mark_unsent([claim.message])
    unsent = read(db, event)
    assert (unsent.status, unsent.version) == (Status.PROCESSING, claim.message.version)
    assert (unsent.unsent, unsent.lease_until) == (True, TARGET + LEASE)  # a state, not a lease
    later = now + timedelta(seconds=60)
    with db.transaction() as store:
        assert store.requeue_expired(later, LEASE, 10) == []  # not through the gated path
        [again] = store.resend_unsent(later, LEASE, 10)
    assert read(db, event) == unsent.requeue(later, TARGET + LEASE)
    assert again.message.version == claim.message.version + 1


WORKER_MOVES: dict[str, Callable[[Event, datetime], Event]] = {
    "complete": lambda e, now: e.complete(now, 1),
    "fail": lambda e, now: e.fail(now, 2, "HTTP 400: Bad Request"),
    "skip": lambda e, now: e.skip(now, "older than MAX_EVENT_AGE (7d)"),
    "cancel": lambda e, now: e.cancel(now),
    "defer": lambda e, now: e.defer(now, 1, now + timedelta(hours=1)),
}


@pytest.mark.parametrize("move", sorted(WORKER_MOVES))
def test_finish_events_writes_exactly_the_domain_transition(db: Database, move: str) -> None:
    event = stored(db)
    now = TARGET + timedelta(seconds=3)
    with db.transaction() as store:
        store.claim_due(now, now + AHEAD, LEASE, 10)
    claimed = read(db, event)
    new = WORKER_MOVES[move](claimed, now + timedelta(seconds=1))
    assert new.status in TRANSITIONS[claimed.status] or new.status is claimed.status
    with db.transaction() as store:
        assert store.finish_events([(new, claimed.version)]) == {event.id}
        assert store.finish_events([(new, claimed.version - 1)]) == set()  # a stale version lands nowhere
    assert read(db, event) == new


def test_finish_batch_writes_like_finish_events_and_reads_after_its_writes(db: Database) -> None:
    """The worker's one round trip: planning's reads see the batch's own new states."""
    event, other = stored(db), stored(db)
    now = TARGET + timedelta(seconds=3)
    with db.transaction() as store:
        store.claim_due(now, now + AHEAD, LEASE, 10)
    claimed, other_claimed = read(db, event), read(db, other)
    done = claimed.complete(now, 1)
    stale = other_claimed.complete(now, 1)
    since = TARGET - timedelta(days=4)
    with db.transaction() as store:
        batch = store.finish_batch(
            [event.user_id, other.user_id, event.user_id],
            [(done, claimed.version), (stale, other_claimed.version - 1)],
            [],
            since,
        )
        with pytest.raises(DatabaseUnavailable, match="could not obtain lock"), tool_transaction(db) as rival:
            rival.one("SELECT id FROM users WHERE id = %(id)s FOR UPDATE NOWAIT", {"id": other.user_id})
    assert batch.written == {event.id}
    assert set(batch.users) == {event.user_id, other.user_id}
    assert {(k.id, k.status) for k in batch.reads.known} == {
        (event.id, Status.COMPLETED),
        (other.id, Status.PROCESSING),
    }
    assert batch.reads.schedules == {}
    assert read(db, event) == done
    with db.transaction() as store:
        nothing = store.finish_batch([event.user_id], [], [], None)
    assert (nothing.written, nothing.reads.known) == (set(), [])
