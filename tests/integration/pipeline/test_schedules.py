"""A team's schedules through the one pipeline: the same sweeper and worker as birthdays, each
occurrence once, the next planned as one ends, and pause, resume, delete and zone changes that
never let a queued message deliver what no longer should be.

The clock starts on Sunday 1 March 2026, 12:00 UTC; London is on GMT until 29 March.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from chalicelib.domain.events import EventFilter, Status
from chalicelib.domain.planner import Rule
from chalicelib.domain.recurrence import parse
from chalicelib.domain.schedules import CatchUp, ScheduleFields, ScheduleStatus
from chalicelib.domain.users import User
from chalicelib.ports import Attempt
from chalicelib.services import schedules, users
from chalicelib.services.schedules import ScheduleView
from scripts.devstack.webhook_sink import Reply
from tests.integration.pipeline.support import Pipeline

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 08:00 GMT
WEEK = timedelta(weeks=1)
MONDAYS = parse("FREQ=WEEKLY;BYDAY=MO")


def weekly(
    pipeline: Pipeline, user: User, *, rule: str = "FREQ=WEEKLY;BYDAY=MO", zone: str | None = None
) -> ScheduleView:
    fields = ScheduleFields(
        "digest.weekly", Rule(date(2026, 3, 1), time(8, 0), parse(rule)), {"plan": "pro"}, zone
    )
    return schedules.create_schedule(pipeline.c.db, pipeline.clock, pipeline.c.builtins, user.id, fields)


def of(pipeline: Pipeline, schedule_id: UUID) -> list[tuple[date, Status]]:
    """The schedule's events, as GET /events?scheduleId= finds them."""
    with pipeline.c.db.transaction() as store:
        found = store.list_events(EventFilter(schedule_id=schedule_id), 100)
    return sorted((e.occurrence_date, e.status) for e in found)


def deliver_at(pipeline: Pipeline, instant: datetime) -> None:
    pipeline.at(instant)
    pipeline.sweep()
    pipeline.drain()


def test_each_occurrence_is_delivered_once_with_the_schedules_payload(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    assert view.next is not None
    assert (view.next.local_date, view.next.target_utc) == (date(2026, 3, 2), MONDAY)

    deliver_at(pipeline, MONDAY)
    deliver_at(pipeline, MONDAY + timedelta(minutes=1))  # a second sweep and drain: nothing more
    [request] = pipeline.sink.requests
    body = request.json()
    first = [
        e
        for e in pipeline.events(user.id)
        if e.schedule_id == view.schedule.id and e.status is Status.COMPLETED
    ]
    assert body == {
        "eventId": str(first[0].id),
        "eventType": "digest.weekly",
        "scheduleId": str(view.schedule.id),
        "payload": {"plan": "pro"},
        "scheduledFor": "2026-03-02T08:00:00Z",
        "occurrence": {"localDate": "2026-03-02", "targetLocal": "2026-03-02T08:00:00+00:00"},
        "userId": str(user.id),
        "externalId": None,
        "metadata": None,
    }
    assert request.headers["idempotency-key"] == first[0].idempotency_key
    # The next Monday was planned in the same transaction.
    assert of(pipeline, view.schedule.id) == [
        (date(2026, 3, 2), Status.COMPLETED),
        (date(2026, 3, 9), Status.PENDING),
    ]
    for monday in (
        MONDAY + WEEK,
        MONDAY + 2 * WEEK,
        MONDAY + 3 * WEEK,
        MONDAY + 4 * WEEK - timedelta(hours=1),
    ):
        deliver_at(pipeline, monday)  # the last on 30 March, 08:00 BST (07:00 UTC): BST began on the 29th
    assert [r.json()["scheduledFor"] for r in pipeline.sink.requests] == [
        "2026-03-02T08:00:00Z",
        "2026-03-09T08:00:00Z",
        "2026-03-16T08:00:00Z",
        "2026-03-23T08:00:00Z",
        "2026-03-30T07:00:00Z",
    ]


def test_a_rule_with_a_count_ends_the_schedule(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=2")
    deliver_at(pipeline, MONDAY)
    deliver_at(pipeline, MONDAY + WEEK)
    assert len(pipeline.sink.requests) == 2
    assert of(pipeline, view.schedule.id) == [
        (date(2026, 3, 2), Status.COMPLETED),
        (date(2026, 3, 9), Status.COMPLETED),
    ]
    ended = schedules.get_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    assert (ended.schedule.status, ended.next) == (ScheduleStatus.ENDED, None)


def test_a_failed_occurrence_still_plans_the_next(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    pipeline.sink.script(Reply(400))
    deliver_at(pipeline, MONDAY)
    assert of(pipeline, view.schedule.id) == [
        (date(2026, 3, 2), Status.FAILED),
        (date(2026, 3, 9), Status.PENDING),
    ]


def test_a_schedule_deleted_while_its_message_waits_sends_nothing(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    pipeline.at(MONDAY)
    assert pipeline.sweep()["enqueued"] == 1
    schedules.delete_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    assert pipeline.drain() == 1
    assert pipeline.sink.requests == []
    assert of(pipeline, view.schedule.id) == [(date(2026, 3, 2), Status.CANCELLED)]  # history stays


def test_a_paused_schedule_sends_nothing_even_what_was_queued(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    pipeline.at(MONDAY)
    assert pipeline.sweep()["enqueued"] == 1
    paused = schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    assert (paused.schedule.status, paused.next) == (ScheduleStatus.PAUSED, None)
    assert pipeline.drain() == 1
    deliver_at(pipeline, MONDAY + 2 * WEEK)
    assert pipeline.sink.requests == []


def resumed_after_three_mondays(pipeline: Pipeline, how: CatchUp) -> tuple[User, UUID]:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    pipeline.at(MONDAY - timedelta(hours=1))
    schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    pipeline.at(MONDAY + 2 * WEEK + timedelta(hours=2))  # 2, 9 and 16 March missed
    schedules.resume_schedule(pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id, how)
    pipeline.sweep()
    pipeline.drain()
    return user, view.schedule.id


def test_resume_without_catch_up_records_what_was_missed_as_skipped(pipeline: Pipeline) -> None:
    _, schedule_id = resumed_after_three_mondays(pipeline, CatchUp.NONE)
    assert pipeline.sink.requests == []
    assert of(pipeline, schedule_id) == [
        (date(2026, 3, 2), Status.CANCELLED),  # pending when paused
        (date(2026, 3, 2), Status.SKIPPED),
        (date(2026, 3, 9), Status.SKIPPED),
        (date(2026, 3, 16), Status.SKIPPED),
        (date(2026, 3, 23), Status.PENDING),
    ]


def test_resume_with_the_latest_delivers_only_the_most_recent_late(pipeline: Pipeline) -> None:
    _, schedule_id = resumed_after_three_mondays(pipeline, CatchUp.LATEST)
    assert [r.json()["occurrence"]["localDate"] for r in pipeline.sink.requests] == ["2026-03-16"]
    statuses = dict(of(pipeline, schedule_id)[1:])
    assert statuses == {
        date(2026, 3, 2): Status.SKIPPED,
        date(2026, 3, 9): Status.SKIPPED,
        date(2026, 3, 16): Status.COMPLETED,
        date(2026, 3, 23): Status.PENDING,
    }


def test_resume_with_all_delivers_each_missed_one_once_late(pipeline: Pipeline) -> None:
    user, schedule_id = resumed_after_three_mondays(pipeline, CatchUp.ALL)
    delivered = sorted(r.json()["occurrence"]["localDate"] for r in pipeline.sink.requests)
    assert delivered == ["2026-03-02", "2026-03-09", "2026-03-16"]
    done = [
        e for e in pipeline.events(user.id) if e.schedule_id == schedule_id and e.status is Status.COMPLETED
    ]
    assert all(e.late for e in done)
    assert of(pipeline, schedule_id)[-1] == (date(2026, 3, 23), Status.PENDING)
    deliver_at(pipeline, MONDAY + 3 * WEEK)  # 23 March, on time; nothing delivered twice
    assert len(pipeline.sink.requests) == 4


def test_a_success_already_in_the_ledger_is_not_posted_again_after_a_pause(pipeline: Pipeline) -> None:
    # The 2xx arrived and was recorded, then the pause cancelled the event before PostgreSQL
    # heard: the catch-up recreates the date under the same key, which the ledger knows.
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    [pending] = [e for e in pipeline.events(user.id) if e.schedule_id == view.schedule.id]
    recorded = Attempt(pending.id, pending.idempotency_key, 1, MONDAY, "success", 200, None, 12.0)
    assert pipeline.c.ledger.record_success(recorded)
    pipeline.at(MONDAY + timedelta(minutes=1))
    schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    schedules.resume_schedule(
        pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id, CatchUp.ALL
    )
    pipeline.sweep()
    pipeline.drain()
    assert pipeline.sink.requests == []
    assert (date(2026, 3, 2), Status.COMPLETED) in of(pipeline, view.schedule.id)


def test_a_schedule_follows_its_users_zone_unless_it_has_its_own(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    following = weekly(pipeline, user)
    own = weekly(pipeline, user, zone="Europe/London")
    pipeline.at(MONDAY)
    assert pipeline.sweep()["enqueued"] == 2
    users.change_user(
        pipeline.c.db,
        pipeline.clock,
        pipeline.c.builtins,
        user.id,
        lambda f: replace(f, timezone="America/New_York"),
    )
    pipeline.drain()  # the message for the following one is stale; the other one is delivered
    assert [r.json()["scheduleId"] for r in pipeline.sink.requests] == [str(own.schedule.id)]
    moved = schedules.get_schedule(pipeline.c.db, pipeline.clock, following.schedule.id)
    assert moved.timezone == "America/New_York"
    assert moved.next is not None
    assert (moved.next.local_date, moved.next.target_utc) == (
        date(2026, 3, 2),
        datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
    )
    deliver_at(pipeline, datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    assert [r.json()["scheduledFor"] for r in pipeline.sink.requests][-1] == "2026-03-02T13:00:00Z"


def test_deleting_the_user_deletes_its_schedules(pipeline: Pipeline) -> None:
    user = pipeline.user(date(1990, 6, 15), "Europe/London")
    view = weekly(pipeline, user)
    users.delete_user(pipeline.c.db, pipeline.clock, user.id)
    with pipeline.c.db.transaction() as store:
        assert store.get_schedule(view.schedule.id) is None
    deliver_at(pipeline, MONDAY)
    assert pipeline.sink.requests == []
