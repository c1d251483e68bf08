"""The worker's pure decisions (chalicelib/domain/fate.py and domain/series.following),
each on its own, without PostgreSQL, a queue or a webhook."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.delivery import Message, Outcome, Verdict
from chalicelib.domain.events import Event, Status
from chalicelib.domain.fate import (
    TO_DLQ,
    WRITES,
    Fate,
    after_post,
    attempt_number,
    classify,
    is_current,
    lease_on_receive,
    seconds_until_due,
    transition,
    webhook_body,
)
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.series import KnownEvent, following
from chalicelib.domain.users import User, UserFields
from chalicelib.services.scheduling import builtin_series

TARGET = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
AGE = timedelta(days=7)
USER = User(
    uuid.UUID("00000000-0000-4000-8000-000000000007"),
    UserFields("Ada", "Lovelace", date(1990, 3, 2), "UTC"),
    TARGET - timedelta(days=60),
    TARGET - timedelta(days=60),
)


def claimed(event_type: str = "birthday") -> Event:
    event = Event.new(
        USER.id, event_type, Occurrence(date(2026, 3, 2), TARGET), "UTC", TARGET - timedelta(days=30)
    )
    return event.claim(TARGET, TARGET + timedelta(minutes=15))


def message_for(event: Event) -> Message:
    return Message(event.id, event.version, event.idempotency_key)


# classify


def test_a_current_message_for_a_live_user_is_sent() -> None:
    event = claimed()
    assert classify(message_for(event), event, USER, TARGET, AGE) == (Fate.UNDECIDED, "")


def test_a_message_for_no_event_is_dropped() -> None:
    event = claimed()
    assert classify(message_for(event), None, None, TARGET, AGE) == (Fate.DROPPED, "no such event")


@pytest.mark.parametrize(
    "moved",
    [
        lambda e: e.requeue(TARGET, TARGET + timedelta(minutes=30)),  # a newer message exists
        lambda e: e.complete(TARGET, 1),
        lambda e: e.cancel(TARGET),
        lambda e: e.fail(TARGET, 1, "HTTP 400").retry(TARGET),
    ],
)
def test_a_message_whose_event_moved_on_is_dropped_as_stale(moved: object) -> None:
    event = claimed()
    now_is = moved(event)  # type: ignore[operator]
    fate, reason = classify(message_for(event), now_is, USER, TARGET, AGE)
    assert fate is Fate.DROPPED
    assert reason.startswith("stale: the event is")


def test_a_message_whose_own_failure_is_stored_goes_to_the_dlq_again_without_a_post() -> None:
    event = claimed()
    failed = event.fail(TARGET, 1, "HTTP 400")
    assert classify(message_for(event), failed, USER, TARGET, AGE)[0] is Fate.DEAD_LETTERED
    older = Message(event.id, event.version - 1, event.idempotency_key)
    assert classify(older, failed, USER, TARGET, AGE)[0] is Fate.DROPPED


def test_a_message_for_a_deleted_user_cancels_the_event() -> None:
    event = claimed()
    assert classify(message_for(event), event, None, TARGET, AGE) == (Fate.CANCELLED, "the user was deleted")


def test_an_unknown_event_type_fails() -> None:
    event = claimed("retired-kind")
    assert classify(message_for(event), event, USER, TARGET, AGE) == (
        Fate.FAILED,
        "unknown event type 'retired-kind'",
    )


def test_an_event_older_than_max_event_age_is_skipped_and_exactly_that_age_is_sent() -> None:
    event = claimed()
    assert classify(message_for(event), event, USER, TARGET + AGE, AGE)[0] is Fate.UNDECIDED
    fate, reason = classify(message_for(event), event, USER, TARGET + AGE + timedelta(seconds=1), AGE)
    assert (fate, reason) == (Fate.SKIPPED, "older than MAX_EVENT_AGE (7d): due 2026-03-02T09:00:00Z")


def test_max_event_age_is_named_in_its_largest_whole_unit() -> None:
    event = claimed()
    late = TARGET + timedelta(days=30)
    for age, shown in [
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=61), "61s"),
    ]:
        assert f"({shown})" in classify(message_for(event), event, USER, late, age)[1]


def test_a_current_message_before_its_due_time_waits_for_the_seconds_left() -> None:
    event = claimed()
    early = TARGET - timedelta(seconds=42, milliseconds=300)
    assert classify(message_for(event), event, USER, early, AGE) == (Fate.EARLY, "due in 43 s")
    assert seconds_until_due(event, early) == 43  # rounded up: never early
    assert seconds_until_due(event, TARGET - timedelta(milliseconds=1)) == 1
    assert classify(message_for(event), event, USER, TARGET, AGE) == (Fate.UNDECIDED, "")


def test_an_early_message_that_is_stale_or_whose_user_is_gone_is_settled_at_once() -> None:
    event = claimed()
    early = TARGET - timedelta(minutes=2)
    stale = replace(message_for(event), version=event.version - 1)
    assert classify(stale, event, USER, early, AGE)[0] is Fate.DROPPED
    assert classify(message_for(event), event, None, early, AGE)[0] is Fate.CANCELLED


def test_a_received_message_holds_its_event_for_a_lease_from_now_or_from_its_due_time() -> None:
    lease = timedelta(minutes=15)
    event = claimed()  # held until TARGET + 15 min
    waited = TARGET + timedelta(minutes=12)  # most of the lease spent in a backlog
    assert lease_on_receive(event, waited, lease) == waited + lease
    early = replace(event, lease_until=TARGET - timedelta(minutes=1))
    assert lease_on_receive(early, TARGET - timedelta(minutes=2), lease) == TARGET + lease


def test_a_message_received_with_more_than_half_its_lease_left_writes_nothing() -> None:
    lease = timedelta(minutes=15)
    event = claimed()
    assert lease_on_receive(event, TARGET + timedelta(seconds=3), lease) is None  # on time
    assert lease_on_receive(event, TARGET + timedelta(minutes=7), lease) is None
    assert lease_on_receive(event, TARGET + timedelta(minutes=8), lease) == TARGET + timedelta(minutes=23)


def test_a_message_received_for_an_unsent_event_always_writes_its_lease() -> None:
    """The send was refused yet got through: the write ends `unsent`, so the next sweep does
    not send it again under a new version (which would make this message stale)."""
    lease = timedelta(minutes=15)
    unsent = replace(claimed(), unsent=True)  # its lease has all but three seconds left
    assert (
        lease_on_receive(unsent, TARGET + timedelta(seconds=3), lease)
        == TARGET + timedelta(seconds=3) + lease
    )


def test_only_a_current_message_moves_the_lease() -> None:
    event = claimed()
    assert is_current(message_for(event), event)
    assert not is_current(replace(message_for(event), version=event.version - 1), event)
    assert not is_current(message_for(event), replace(event, status=Status.COMPLETED))
    assert not is_current(message_for(event), None)


# after_post


def test_a_2xx_is_delivered() -> None:
    assert after_post(Outcome(Verdict.SUCCESS, 200), 1, 8) == (Fate.COMPLETED, "")


def test_a_transient_failure_is_retried_until_the_last_attempt_then_fails() -> None:
    outcome = Outcome(Verdict.TRANSIENT, 503, "Service Unavailable")
    assert after_post(outcome, 7, 8) == (Fate.DEFERRED, "HTTP 503: Service Unavailable")
    gave_up = "gave up after 8 attempts: HTTP 503: Service Unavailable"
    assert after_post(outcome, 8, 8) == (Fate.FAILED, gave_up)


def test_a_permanent_failure_fails_at_once() -> None:
    assert after_post(Outcome(Verdict.PERMANENT, 400, "Bad Request"), 1, 8) == (
        Fate.FAILED,
        "HTTP 400: Bad Request",
    )


def test_the_attempt_number_counts_posts_not_receives() -> None:
    # Receives that ended in an outage (database, ledger, DLQ) spent no attempt: only
    # PostgreSQL's count of POSTs does, whatever SQS's ApproximateReceiveCount says.
    event = claimed()
    assert attempt_number(None) == 1
    assert attempt_number(event) == 1
    assert attempt_number(replace(event, attempts=4)) == 5


# transition


def test_each_writing_fate_has_its_state_and_terminal_ones_schedule_the_next() -> None:
    event = claimed()
    now = TARGET + timedelta(seconds=2)
    lease = now + timedelta(minutes=20)
    expected = {
        Fate.COMPLETED: (Status.COMPLETED, True),
        Fate.COMPLETED_FROM_LEDGER: (Status.COMPLETED, True),
        Fate.SKIPPED: (Status.SKIPPED, True),
        Fate.FAILED: (Status.FAILED, True),
        Fate.CANCELLED: (Status.CANCELLED, False),
        Fate.DEFERRED: (Status.PROCESSING, False),
    }
    assert set(expected) == WRITES
    for fate, (status, terminal) in expected.items():
        new, is_terminal = transition(event, fate, now, attempts=2, reason="why", lease_until=lease)
        assert (new.status, is_terminal) == (status, terminal), fate


def test_a_retry_keeps_the_version_so_its_message_stays_current() -> None:
    event = claimed()
    lease = TARGET + timedelta(hours=1)
    new, _ = transition(event, Fate.DEFERRED, TARGET, attempts=3, lease_until=lease)
    assert (new.version, new.attempts, new.lease_until) == (event.version, 3, lease)


def test_a_completion_found_in_the_ledger_keeps_the_time_the_2xx_arrived() -> None:
    event = claimed()
    arrived = TARGET + timedelta(minutes=1)
    later = TARGET + timedelta(hours=1)
    new, _ = transition(event, Fate.COMPLETED_FROM_LEDGER, later, attempts=1, delivered_at=arrived)
    assert (new.delivered_at, new.late) == (arrived, False)


def test_a_failure_stores_its_reason_and_attempts() -> None:
    new, _ = transition(claimed(), Fate.FAILED, TARGET, attempts=3, reason="HTTP 400")
    assert (new.failure_reason, new.attempts) == ("HTTP 400", 3)


@pytest.mark.parametrize("fate", sorted(set(Fate) - WRITES))
def test_fates_that_write_nothing_have_no_transition(fate: Fate) -> None:
    with pytest.raises(ValueError, match="writes nothing"):
        transition(claimed(), fate, TARGET, attempts=1)


def test_failed_messages_and_only_they_go_to_the_dlq() -> None:
    assert frozenset({Fate.FAILED, Fate.DEAD_LETTERED}) == TO_DLQ


# webhook_body


def test_the_webhook_body_names_the_user_as_they_are_now_and_the_occurrence() -> None:
    event = claimed()
    renamed = replace(USER, fields=replace(USER.fields, first_name="Augusta"))
    assert json.loads(webhook_body(event, renamed)) == {
        "message": "Hey, Augusta Lovelace it's your birthday",
        "eventId": str(event.id),
        "eventType": "birthday",
        "userId": str(USER.id),
        "scheduledFor": "2026-03-02T09:00:00Z",
        "externalId": None,
        "metadata": None,
    }


def test_the_webhook_body_carries_the_teams_external_id_and_metadata_as_they_are_now() -> None:
    metadata = {"channel": "push", "tags": ["vip"], "score": 1.5, "nested": {"ok": True, "none": None}}
    theirs = replace(USER, fields=replace(USER.fields, external_id="crm-000123", metadata=metadata))
    body = json.loads(webhook_body(claimed(), theirs))
    assert (body["externalId"], body["metadata"]) == ("crm-000123", metadata)
    assert body["message"] == "Hey, Ada Lovelace it's your birthday"


# plan_following


def known(event: Event) -> KnownEvent:
    return KnownEvent(event.id, event.user_id, event.event_type, event.occurrence_date, event.status)


def plan_following(
    builtins: BuiltIns, finished: list[Event], users: dict[UUID, User], known: list[KnownEvent], now: datetime
) -> list[Event]:
    """The events the worker inserts after `finished`: each user's built-in series, planned."""
    series = {s.key: s for user in users.values() for s in builtin_series(builtins, user)}
    return following(finished, series, known, now).insert


def test_a_finished_event_is_followed_by_next_years() -> None:
    done = claimed().complete(TARGET, 1)
    [following] = plan_following(BuiltIns(), [done], {USER.id: USER}, [known(done)], TARGET)
    assert (following.status, following.target_utc, following.user_id) == (Status.PENDING, NEXT_YEAR, USER.id)


def test_nothing_follows_when_another_event_of_the_type_is_coming_or_the_user_is_gone() -> None:
    done = claimed().complete(TARGET, 1)
    coming = Event.new(USER.id, "birthday", Occurrence(date(2027, 3, 2), NEXT_YEAR), "UTC", TARGET)
    assert plan_following(BuiltIns(), [done], {USER.id: USER}, [known(done), known(coming)], TARGET) == []
    assert plan_following(BuiltIns(), [done], {}, [known(done)], TARGET) == []


def test_an_occurrence_that_already_has_an_event_is_passed_over() -> None:
    done = claimed().complete(TARGET, 1)
    taken = replace(
        Event.new(USER.id, "birthday", Occurrence(date(2027, 3, 2), NEXT_YEAR), "UTC", TARGET),
        status=Status.SKIPPED,
    )
    [following] = plan_following(BuiltIns(), [done], {USER.id: USER}, [known(done), known(taken)], TARGET)
    assert following.occurrence_date == date(2028, 3, 2)


def test_two_finished_events_of_one_user_and_type_plan_one_follower() -> None:
    done = claimed().complete(TARGET, 1)
    old = replace(claimed(), id=uuid.uuid4()).fail(TARGET, 1, "HTTP 400")
    planned = plan_following(BuiltIns(), [done, old], {USER.id: USER}, [known(done), known(old)], TARGET)
    assert [e.target_utc for e in planned] == [NEXT_YEAR]
