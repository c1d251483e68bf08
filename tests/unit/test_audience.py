"""The audience domain: JSON containment as PostgreSQL's `@>` has it, where a zone's
materialising goes next, where resume restarts it, local dates and their UTC spans, and the
worker's membership check."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from chalicelib.domain.audience import (
    Audience,
    ZoneProgress,
    by_local_date,
    contains,
    next_to_materialise,
    resumed_through,
)
from chalicelib.domain.delivery import Message
from chalicelib.domain.events import Event, audience_key, idempotency_key
from chalicelib.domain.fate import Fate, classify
from chalicelib.domain.planner import Occurrence, Rule
from chalicelib.domain.recurrence import parse
from chalicelib.domain.schedules import CatchUp, Schedule, ScheduleFields, ScheduleStatus
from chalicelib.domain.series import reconcile
from chalicelib.domain.users import User, UserFields

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAILY = Rule(date(2026, 3, 1), time(9, 0), parse("FREQ=DAILY"))
SID = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


@pytest.mark.parametrize(
    ("container", "contained", "expected"),
    [
        ({"plan": "pro", "seats": 3}, {"plan": "pro"}, True),
        ({"plan": "pro"}, {"plan": "free"}, False),
        ({"plan": "pro"}, {}, True),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, True),
        ({"tags": ["x", "y", "z"]}, {"tags": ["z", "x"]}, True),
        ({"tags": ["x"]}, {"tags": "x"}, False),  # below the top level an array holds no scalar
        ({"tags": [["x"]]}, {"tags": ["x"]}, False),
        ({"n": 1}, {"n": 1.0}, True),  # jsonb numbers compare by value
        ({"n": 1}, {"n": True}, False),  # true is not 1
        ({"n": None}, {"n": None}, True),
        ({"n": "1"}, {"n": 1}, False),
        ({"a": [{"b": 1, "c": 2}]}, {"a": [{"b": 1}]}, True),
    ],
)
def test_containment_is_postgresqls(container: object, contained: object, expected: bool) -> None:
    assert contains(container, contained) is expected


def test_an_audience_of_all_includes_a_user_without_metadata_and_a_metadata_one_does_not() -> None:
    assert Audience().includes(None)
    assert not Audience({"plan": "pro"}).includes(None)
    assert Audience({"plan": "pro"}).includes({"plan": "pro", "x": 1})
    assert Audience().as_json() == {"all": True}
    assert Audience({"a": 1}).as_json() == {"metadata": {"a": 1}}


def test_a_zone_goes_on_with_the_occurrence_under_way_else_the_next_within_the_horizon() -> None:
    idle = ZoneProgress(SID, "Europe/London", NOW)
    nine = Occurrence(date(2026, 3, 2), datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert next_to_materialise(DAILY, idle, NOW + timedelta(hours=20)) is None
    assert next_to_materialise(DAILY, idle, NOW + timedelta(hours=21)) == nine
    under_way = idle.started(nine).advanced(uuid.uuid4(), finished=False)
    assert under_way.current == nine
    assert next_to_materialise(DAILY, under_way, NOW) == nine  # whatever the horizon
    done = under_way.advanced(None, finished=True)
    assert (done.through, done.current, done.after_user) == (nine.target_utc, None, None)


def test_resume_restarts_a_zone_after_now_before_the_latest_missed_or_before_the_missed() -> None:
    paused = datetime(2026, 3, 1, 10, tzinfo=UTC)
    now = datetime(2026, 3, 4, 10, tzinfo=UTC)  # 2, 3 and 4 March at 09:00 missed
    zone = "Europe/London"
    assert resumed_through(DAILY, zone, paused, now, CatchUp.NONE) == now
    latest = resumed_through(DAILY, zone, paused, now, CatchUp.LATEST)
    assert latest < datetime(2026, 3, 4, 9, tzinfo=UTC) < latest + timedelta(seconds=1)
    every = resumed_through(DAILY, zone, paused, now, CatchUp.ALL)
    assert every < datetime(2026, 3, 2, 9, tzinfo=UTC) < every + timedelta(seconds=1)


def test_local_dates_carry_the_span_of_their_instants_across_zones() -> None:
    per_zone = {
        "Asia/Tokyo": [Occurrence(date(2026, 3, 2), datetime(2026, 3, 2, 0, tzinfo=UTC))],
        "America/New_York": [
            Occurrence(date(2026, 3, 1), datetime(2026, 3, 1, 14, tzinfo=UTC)),
            Occurrence(date(2026, 3, 2), datetime(2026, 3, 2, 14, tzinfo=UTC)),
        ],
    }
    [first, second] = by_local_date(per_zone, 2)
    assert (first.local_date, first.first_utc, first.last_utc, first.zones) == (
        date(2026, 3, 1), datetime(2026, 3, 1, 14, tzinfo=UTC), datetime(2026, 3, 1, 14, tzinfo=UTC), 1
    )  # fmt: skip
    assert (second.first_utc, second.last_utc, second.zones) == (
        datetime(2026, 3, 2, 0, tzinfo=UTC), datetime(2026, 3, 2, 14, tzinfo=UTC), 2
    )  # fmt: skip


def _schedule(audience: Audience | None, status: ScheduleStatus = ScheduleStatus.ACTIVE) -> Schedule:
    fields = ScheduleFields("digest", DAILY, {}, None, audience)
    return Schedule(SID, None, fields, status, 1, NOW, NOW)


def _user(metadata: dict[str, object] | None) -> User:
    return User(
        uuid.uuid4(), UserFields("A", "B", date(1990, 1, 1), "Europe/London", metadata=metadata), NOW, NOW
    )


def test_an_audience_series_keys_its_events_per_user_schedule_and_local_date() -> None:
    user = _user(None)
    series = _schedule(Audience()).series(user)
    [event] = reconcile([series], [], [], NOW).insert
    assert event.idempotency_key == audience_key(user.id, SID, date(2026, 3, 2))
    assert event.idempotency_key != idempotency_key(user.id, "digest", date(2026, 3, 2), SID)
    assert uuid.UUID(event.idempotency_key).version == 3


def test_an_audience_series_running_out_for_one_user_does_not_end_the_schedule() -> None:
    once = Rule(date(2026, 3, 1), time(9, 0))
    fields = ScheduleFields("digest", once, {}, None, Audience())
    series = Schedule(SID, None, fields, ScheduleStatus.ACTIVE, 1, NOW, NOW).series(_user(None))
    assert reconcile([series], [], [], NOW).ended == set()


@pytest.mark.parametrize(
    ("audience", "status", "metadata", "fate"),
    [
        (Audience({"plan": "pro"}), ScheduleStatus.ACTIVE, {"plan": "pro"}, Fate.UNDECIDED),
        (Audience({"plan": "pro"}), ScheduleStatus.ACTIVE, {"plan": "free"}, Fate.CANCELLED),
        (Audience({"plan": "pro"}), ScheduleStatus.ACTIVE, None, Fate.CANCELLED),
        (Audience(), ScheduleStatus.PAUSED, None, Fate.CANCELLED),
        (Audience(), ScheduleStatus.ENDED, None, Fate.UNDECIDED),  # its last occurrence still goes
    ],
)
def test_the_worker_decides_membership_when_the_occurrence_comes(
    audience: Audience, status: ScheduleStatus, metadata: dict[str, object] | None, fate: Fate
) -> None:
    user = _user(metadata)
    due = datetime(2026, 3, 2, 9, tzinfo=UTC)
    event = Event.new(user.id, "digest", Occurrence(date(2026, 3, 2), due), "Europe/London", NOW, SID)
    claimed = event.claim(due, due + timedelta(minutes=15))
    message = Message(claimed.id, claimed.version, claimed.idempotency_key)
    decided, _ = classify(message, claimed, user, due, timedelta(days=7), _schedule(audience, status))
    assert decided is fate


def test_the_audience_settings_come_from_the_environment_and_reach_the_sweep_policy() -> None:
    from chalicelib import bootstrap
    from chalicelib.settings import Settings

    s = Settings.from_env(
        {
            "AUDIENCE_LOOKAHEAD": "5m",
            "AUDIENCE_BATCH_SIZE": "2000",
            "AUDIENCE_TIME_BUDGET": "30s",
            "AUDIENCE_CONCURRENCY": "3",
        }
    )
    assert (s.audience_lookahead, s.audience_batch_size, s.audience_time_budget, s.audience_concurrency) == (
        timedelta(minutes=5), 2000, timedelta(seconds=30), 3
    )  # fmt: skip
    policy = bootstrap.Container(s).sweep_policy.audiences
    assert (policy.lookahead, policy.batch_size, policy.time_budget, policy.concurrency) == (
        timedelta(minutes=5), 2000, timedelta(seconds=30), 3
    )  # fmt: skip
    defaults = Settings.from_env({})
    assert (
        defaults.audience_lookahead,
        defaults.audience_batch_size,
        defaults.audience_time_budget,
        defaults.audience_concurrency,
    ) == (timedelta(minutes=10), 5000, timedelta(seconds=20), 2)


def test_the_sweeps_pool_has_a_connection_for_each_zone_written_at_once() -> None:
    from chalicelib import bootstrap
    from chalicelib.adapters.postgres import Database as PostgresDatabase
    from chalicelib.settings import Settings

    env = {"DATABASE_URL": "postgresql://nowhere/db", "DB_POOL_SIZE": "1", "AUDIENCE_CONCURRENCY": "3"}
    db = bootstrap.Container(Settings.from_env(env)).db
    assert isinstance(db, PostgresDatabase)  # not opened: no connection is made
    assert db._pool.max_size == 3
