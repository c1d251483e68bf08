"""The event state machine: every move from every status, versions, and idempotency keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest

from chalicelib.domain.errors import Conflict, IllegalTransition
from chalicelib.domain.events import TRANSITIONS, Event, Status, idempotency_key, is_late
from chalicelib.domain.occurrence import Occurrence

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
TARGET = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
OCCURRENCE = Occurrence(date(2026, 6, 15), TARGET)
LATER = Occurrence(date(2027, 6, 15), datetime(2027, 6, 15, 8, 0, tzinfo=UTC))

# The contract, written out by hand (not read from TRANSITIONS): what each move does.
Move = Callable[[Event], Event]
MOVES: dict[str, tuple[Move, frozenset[Status], Status]] = {
    "claim": (
        lambda e: e.claim(NOW, NOW + timedelta(minutes=5)),
        frozenset({Status.PENDING}),
        Status.PROCESSING,
    ),
    "requeue": (
        lambda e: e.requeue(NOW, NOW + timedelta(minutes=10)),
        frozenset({Status.PROCESSING}),
        Status.PROCESSING,
    ),
    "reschedule": (
        lambda e: e.reschedule(LATER, "Europe/London", NOW),
        frozenset({Status.PENDING, Status.PROCESSING}),
        Status.PENDING,
    ),
    "cancel": (lambda e: e.cancel(NOW), frozenset({Status.PENDING, Status.PROCESSING}), Status.CANCELLED),
    "complete": (lambda e: e.complete(NOW, attempts=1), frozenset({Status.PROCESSING}), Status.COMPLETED),
    "fail": (
        lambda e: e.fail(NOW, attempts=3, reason="HTTP 400"),
        frozenset({Status.PROCESSING}),
        Status.FAILED,
    ),
    # PENDING too: an occurrence missed while its schedule was paused is recorded as SKIPPED.
    "skip": (
        lambda e: e.skip(NOW, reason="too old"),
        frozenset({Status.PENDING, Status.PROCESSING}),
        Status.SKIPPED,
    ),
    "retry": (lambda e: e.retry(NOW), frozenset({Status.FAILED}), Status.PENDING),
}

ALLOWED_PAIRS = {
    (Status.PENDING, Status.PROCESSING),
    (Status.PENDING, Status.PENDING),
    (Status.PENDING, Status.CANCELLED),
    (Status.PENDING, Status.SKIPPED),  # missed while its schedule was paused
    (Status.PROCESSING, Status.COMPLETED),
    (Status.PROCESSING, Status.FAILED),
    (Status.PROCESSING, Status.SKIPPED),
    (Status.PROCESSING, Status.PENDING),
    (Status.PROCESSING, Status.CANCELLED),
    (Status.PROCESSING, Status.PROCESSING),  # lease expired: sent again under a new version
    (Status.FAILED, Status.PENDING),
}


def new_event(occurrence: Occurrence = OCCURRENCE, timezone: str = "Europe/London") -> Event:
    return Event.new(USER, "birthday", occurrence, timezone, NOW - timedelta(days=30))


def in_status(status: Status) -> Event:
    """An event as it would be in `status`, reached only through legal moves."""
    event = new_event()
    lease = NOW + timedelta(minutes=5)
    paths: dict[Status, list[Move]] = {
        Status.PENDING: [],
        Status.PROCESSING: [lambda e: e.claim(NOW, lease)],
        Status.COMPLETED: [lambda e: e.claim(NOW, lease), lambda e: e.complete(NOW, 1)],
        Status.FAILED: [lambda e: e.claim(NOW, lease), lambda e: e.fail(NOW, 1, "HTTP 400")],
        Status.SKIPPED: [lambda e: e.claim(NOW, lease), lambda e: e.skip(NOW, "too old")],
        Status.CANCELLED: [lambda e: e.cancel(NOW)],
    }
    for step in paths[status]:
        event = step(event)
    assert event.status is status
    return event


def test_a_new_event_is_pending_at_version_1() -> None:
    event = new_event()
    assert (event.status, event.version, event.attempts) == (Status.PENDING, 1, 0)
    assert event.target_utc == event.due_utc == TARGET
    assert event.occurrence_date == date(2026, 6, 15)
    assert event.lease_until is None


@pytest.mark.parametrize(("start", "move"), list(product(Status, MOVES)), ids=lambda v: str(v))
def test_every_move_from_every_status(start: Status, move: str) -> None:
    apply, legal_from, lands_in = MOVES[move]
    event = in_status(start)
    if start in legal_from:
        moved = apply(event)
        assert moved.status is lands_in
        assert moved.version == event.version + 1
        assert moved.updated_at == NOW
        assert (moved.lease_until is not None) == (lands_in is Status.PROCESSING)
    else:
        with pytest.raises(IllegalTransition):
            apply(event)


@pytest.mark.parametrize(("start", "end"), list(product(Status, Status)), ids=lambda v: str(v))
def test_the_transition_table(start: Status, end: Status) -> None:
    assert (end in TRANSITIONS[start]) == ((start, end) in ALLOWED_PAIRS)


def test_an_illegal_transition_is_a_conflict() -> None:
    # The API turns Conflict into 409; an illegal move must never surface as a 500.
    with pytest.raises(Conflict):
        in_status(Status.COMPLETED).cancel(NOW)


def test_terminal_states_go_nowhere_but_failed_can_be_retried() -> None:
    for status in (Status.COMPLETED, Status.SKIPPED, Status.CANCELLED):
        assert TRANSITIONS[status] == frozenset()
    assert TRANSITIONS[Status.FAILED] == frozenset({Status.PENDING})


def test_every_change_bumps_the_version() -> None:
    event = new_event()
    versions = [event.version]
    for step in (
        lambda e: e.claim(NOW, NOW + timedelta(minutes=5)),
        lambda e: e.requeue(NOW, NOW + timedelta(minutes=10)),
        lambda e: e.reschedule(LATER, "Asia/Tokyo", NOW),
        lambda e: e.claim(NOW, NOW + timedelta(minutes=5)),
        lambda e: e.fail(NOW, 3, "HTTP 400"),
        lambda e: e.retry(NOW),
    ):
        event = step(event)
        versions.append(event.version)
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_claim_records_the_lease_and_lateness() -> None:
    on_time = new_event().claim(TARGET + timedelta(minutes=5), NOW + timedelta(minutes=10))
    assert on_time.lease_until == NOW + timedelta(minutes=10)
    assert on_time.late is False
    late = new_event().claim(TARGET + timedelta(minutes=5, seconds=1), NOW + timedelta(minutes=10))
    assert late.late is True


def test_a_lease_runs_from_when_the_event_is_due_or_from_now_when_it_is_overdue() -> None:
    lease = timedelta(minutes=15)
    event = new_event()  # due at TARGET
    assert event.lease_from(TARGET - timedelta(seconds=75), lease) == TARGET + lease
    assert event.lease_from(TARGET + timedelta(hours=3), lease) == TARGET + timedelta(hours=3) + lease


@pytest.mark.parametrize(
    "move",
    [
        lambda e: e.requeue(NOW, NOW + timedelta(minutes=10)),
        lambda e: e.defer(NOW, 1, NOW + timedelta(minutes=10)),
        lambda e: e.complete(NOW, 1),
        lambda e: e.fail(NOW, 1, "HTTP 400"),
        lambda e: e.skip(NOW, "too old"),
        lambda e: e.cancel(NOW),
        lambda e: e.reschedule(LATER, "Europe/London", NOW),
    ],
)
def test_an_unsent_claim_is_unsent_until_its_next_move(move: Move) -> None:
    claimed = new_event().claim(NOW, NOW + timedelta(minutes=5))
    assert claimed.unsent is False
    assert move(replace(claimed, unsent=True)).unsent is False


def test_is_late_is_more_than_five_minutes() -> None:
    assert not is_late(TARGET, TARGET + timedelta(minutes=5))
    assert is_late(TARGET, TARGET + timedelta(minutes=5, microseconds=1))


def test_complete_fail_and_skip_record_the_outcome() -> None:
    processing = in_status(Status.PROCESSING)
    done = processing.complete(NOW, attempts=2)
    assert (done.delivered_at, done.attempts, done.lease_until) == (NOW, 2, None)
    failed = processing.fail(NOW, attempts=3, reason="HTTP 400")
    assert (failed.failure_reason, failed.attempts, failed.delivered_at) == ("HTTP 400", 3, None)
    skipped = processing.skip(NOW, reason="older than MAX_EVENT_AGE")
    assert skipped.failure_reason == "older than MAX_EVENT_AGE"


def test_retry_makes_a_failed_event_due_now() -> None:
    retried = in_status(Status.FAILED).retry(NOW + timedelta(days=1))
    assert retried.status is Status.PENDING
    assert retried.due_utc == NOW + timedelta(days=1)
    assert retried.target_utc == TARGET  # lateness still counts from the original target
    assert retried.failure_reason is None


def test_reschedule_moves_target_and_due_and_drops_the_lease() -> None:
    moved = in_status(Status.PROCESSING).reschedule(LATER, "Asia/Tokyo", NOW)
    assert moved.status is Status.PENDING
    assert (moved.occurrence_date, moved.target_utc, moved.due_utc) == (
        LATER.local_date,
        LATER.target_utc,
        LATER.target_utc,
    )
    assert moved.timezone == "Asia/Tokyo"
    assert moved.lease_until is None
    assert moved.late is False


def test_idempotency_key_is_stable_when_only_the_zone_changes() -> None:
    event = new_event(timezone="Europe/London")
    tokyo = Occurrence(date(2026, 6, 15), datetime(2026, 6, 15, 0, 0, tzinfo=UTC))
    moved = event.reschedule(tokyo, "Asia/Tokyo", NOW)
    assert moved.target_utc != event.target_utc
    assert moved.idempotency_key == event.idempotency_key
    assert new_event(tokyo, "Asia/Tokyo").idempotency_key == event.idempotency_key


def test_idempotency_key_differs_per_occurrence_date_type_and_user() -> None:
    key = idempotency_key(USER, "birthday", date(2026, 6, 15))
    assert key == idempotency_key(USER, "birthday", date(2026, 6, 15))
    others = {
        idempotency_key(USER, "birthday", date(2027, 6, 15)),
        idempotency_key(USER, "birthday", date(2026, 6, 16)),
        idempotency_key(USER, "anniversary", date(2026, 6, 15)),
        idempotency_key(uuid.uuid4(), "birthday", date(2026, 6, 15)),
    }
    assert key not in others
    assert len(others) == 4
    assert new_event().reschedule(LATER, "Europe/London", NOW).idempotency_key == idempotency_key(
        USER, "birthday", LATER.local_date
    )


def test_idempotency_key_is_a_uuid() -> None:
    assert uuid.UUID(idempotency_key(USER, "birthday", date(2026, 6, 15))).version == 5


def test_events_are_immutable_values() -> None:
    event = new_event()
    event.claim(NOW, NOW + timedelta(minutes=5))
    assert event.status is Status.PENDING
    assert replace(event) == event
