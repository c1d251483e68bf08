"""Audience schedules through the one pipeline: each member's occurrence written by the sweep as
their zone's instant approaches, delivered once at their local time; membership decided when
that instant comes (joining, leaving, moving, deleting); pause, resume, PATCH and delete; and a
sweep that dies or runs out of budget half-way neither loses nor doubles a member.

The clock starts on Sunday 1 March 2026, 12:00 UTC (New York on EST until 8 March, Auckland
on NZDT, London on GMT).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import RFC_4122, UUID

import pytest

from chalicelib.domain.audience import Audience
from chalicelib.domain.events import EventFilter, Status, audience_key
from chalicelib.domain.planner import Rule
from chalicelib.domain.recurrence import parse
from chalicelib.domain.schedules import CatchUp, ScheduleFields, ScheduleStatus
from chalicelib.domain.users import User, UserFields
from chalicelib.ports import Claimed, Database, Store
from chalicelib.services import audiences, materialiser, schedules, users
from chalicelib.services.materialiser import AudiencePolicy
from chalicelib.services.schedules import ScheduleView
from scripts.devstack.store import tool_transaction
from tests.integration.pipeline.support import Pipeline

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MARCH_2 = date(2026, 3, 2)
# 09:00 on 2 March, local, in UTC:
AUCKLAND_9 = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
TOKYO_9 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
LONDON_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEW_YORK_9 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PRO = {"plan": "pro"}
EVERYONE = Audience()
LEASE = timedelta(minutes=15)


def member(pipeline: Pipeline, zone: str, metadata: dict[str, Any] | None = None, name: str = "Ada") -> User:
    fields = UserFields(name, "Lovelace", date(1990, 6, 15), zone, metadata=metadata)
    return users.create_user(pipeline.c.db, pipeline.clock, pipeline.c.builtins, fields)


def audience_schedule(
    pipeline: Pipeline,
    audience: Audience = EVERYONE,
    *,
    start: date = MARCH_2,
    at: time = time(9, 0),
    rule: str | None = None,
) -> ScheduleView:
    fields = ScheduleFields(
        "digest.daily", Rule(start, at, parse(rule) if rule else None), {"kind": "digest"}, None, audience
    )
    return schedules.create_audience_schedule(pipeline.c.db, pipeline.clock, fields)


def deliver_at(pipeline: Pipeline, instant: datetime) -> None:
    pipeline.at(instant)
    pipeline.sweep()
    pipeline.drain()


def received(pipeline: Pipeline) -> Counter[tuple[str, str]]:
    """(userId, localDate) of every POST the receiver got."""
    return Counter((r.json()["userId"], r.json()["occurrence"]["localDate"]) for r in pipeline.sink.requests)


def schedule_events(pipeline: Pipeline, schedule_id: UUID) -> list[tuple[UUID, date, Status]]:
    with pipeline.c.db.transaction() as store:
        found = store.list_events(EventFilter(schedule_id=schedule_id), 100)
    return sorted((e.user_id, e.occurrence_date, e.status) for e in found)


def test_each_member_receives_the_occurrence_once_at_their_own_local_time(pipeline: Pipeline) -> None:
    zones = ["Pacific/Auckland", "Asia/Tokyo", "Europe/London", "America/New_York"]
    people = {zone: member(pipeline, zone) for zone in zones}
    view = audience_schedule(pipeline)
    assert view.next is not None
    assert (view.timezone, view.next.local_date, view.next.target_utc) == (
        "Pacific/Auckland",
        MARCH_2,
        AUCKLAND_9,
    )
    assert schedule_events(pipeline, view.schedule.id) == []  # nothing is written at creation

    for instant in (AUCKLAND_9, TOKYO_9, LONDON_9, NEW_YORK_9, NEW_YORK_9 + timedelta(hours=1)):
        deliver_at(pipeline, instant)
    got = {r.json()["userId"]: r for r in pipeline.sink.requests}
    assert received(pipeline) == Counter({(str(u.id), "2026-03-02"): 1 for u in people.values()})
    for zone, user in people.items():
        body = got[str(user.id)].json()
        local = datetime.fromisoformat(body["occurrence"]["targetLocal"])
        assert (local.date(), local.time()) == (MARCH_2, time(9, 0)), zone
        assert body["scheduleId"] == str(view.schedule.id)
        assert body["payload"] == {"kind": "digest"}
        key = audience_key(user.id, view.schedule.id, MARCH_2)
        assert got[str(user.id)].headers["webhook-id"] == key
        assert got[str(user.id)].headers["idempotency-key"] == key
    assert [s for _, _, s in schedule_events(pipeline, view.schedule.id)] == [Status.COMPLETED] * 4


def test_an_instant_already_past_at_creation_is_not_delivered(pipeline: Pipeline) -> None:
    """A one-time schedule for today 09:00, made at 12:00 UTC: only where 09:00 is still ahead."""
    london, new_york, la = (
        member(pipeline, z) for z in ("Europe/London", "America/New_York", "America/Los_Angeles")
    )
    view = audience_schedule(pipeline, start=date(2026, 3, 1))
    for hour in (13, 14, 17, 18):
        deliver_at(pipeline, datetime(2026, 3, 1, hour, 0, tzinfo=UTC))
    assert received(pipeline) == Counter({(str(new_york.id), "2026-03-01"): 1, (str(la.id), "2026-03-01"): 1})
    assert london.id not in {u for u, _, _ in schedule_events(pipeline, view.schedule.id)}


def test_membership_is_decided_when_each_users_instant_comes(pipeline: Pipeline) -> None:
    stays = member(pipeline, "America/New_York", {"plan": "pro", "seats": 3}, "Stays")
    leaves = member(pipeline, "America/New_York", PRO, "Leaves")
    deleted = member(pipeline, "America/New_York", PRO, "Deleted")
    joins = member(pipeline, "America/New_York", {"plan": "free"}, "Joins")
    other = member(pipeline, "America/New_York", {"plan": "free"}, "Other")
    view = audience_schedule(pipeline, Audience(PRO))
    pipeline.at(NEW_YORK_9 - timedelta(minutes=10))
    materialise(pipeline, AudiencePolicy())  # written and claimed; sent when the instant comes
    assert {u for u, _, _ in schedule_events(pipeline, view.schedule.id)} == {stays.id, leaves.id, deleted.id}

    c = pipeline.c
    users.change_user(
        c.db, pipeline.clock, c.builtins, leaves.id, lambda f: replace(f, metadata={"plan": "free"})
    )
    users.change_user(c.db, pipeline.clock, c.builtins, joins.id, lambda f: replace(f, metadata=PRO))
    users.delete_user(c.db, pipeline.clock, deleted.id)
    newcomer = member(pipeline, "America/New_York", PRO, "New")
    deliver_at(pipeline, NEW_YORK_9)
    deliver_at(pipeline, NEW_YORK_9 + timedelta(minutes=1))
    assert received(pipeline) == Counter({(str(u.id), "2026-03-02"): 1 for u in (stays, joins, newcomer)})
    assert other.id not in {u for u, _, _ in schedule_events(pipeline, view.schedule.id)}


def test_a_user_who_moves_after_receiving_never_receives_that_date_again(pipeline: Pipeline) -> None:
    traveller = member(pipeline, "Asia/Tokyo")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    deliver_at(pipeline, TOKYO_9)
    c = pipeline.c
    users.change_user(
        c.db, pipeline.clock, c.builtins, traveller.id, lambda f: replace(f, timezone="America/New_York")
    )
    member(pipeline, "America/New_York", name="Local")  # the zone gets written for 2 March
    deliver_at(pipeline, NEW_YORK_9)
    deliver_at(pipeline, NEW_YORK_9 + timedelta(days=1))
    assert [d for u, d in received(pipeline) if u == str(traveller.id)] == ["2026-03-02", "2026-03-03"]
    assert max(received(pipeline).values()) == 1
    tokyo, new_york = (
        e
        for e in schedule_events(pipeline, view.schedule.id)
        if e[0] == traveller.id and e[2] is Status.COMPLETED
    )
    assert (tokyo[1], new_york[1]) == (MARCH_2, date(2026, 3, 3))


def test_a_member_leaving_after_the_write_is_cancelled_by_the_worker(pipeline: Pipeline) -> None:
    """Membership is checked again when the message comes: a change that raced the sweep."""
    user = member(pipeline, "Europe/London", PRO)
    view = audience_schedule(pipeline, Audience(PRO))
    pipeline.at(LONDON_9)
    assert pipeline.sweep()["enqueued"] == 1  # written, claimed and queued
    with pipeline.c.db.transaction() as store:  # behind the planner's back, as a race would
        store.conn.execute("UPDATE users SET metadata = %(m)s WHERE id = %(id)s", {"m": "{}", "id": user.id})
    deliver_at(pipeline, LONDON_9)
    assert pipeline.sink.requests == []
    assert schedule_events(pipeline, view.schedule.id) == [(user.id, MARCH_2, Status.CANCELLED)]


def test_events_are_listed_by_schedule_and_counted_by_local_date(pipeline: Pipeline) -> None:
    first, second = member(pipeline, "Europe/London", PRO), member(pipeline, "America/New_York", PRO)
    member(pipeline, "Europe/London", {"plan": "free"})
    view = audience_schedule(pipeline, Audience(PRO))
    deliver_at(pipeline, LONDON_9)
    counts = audiences.counts(pipeline.c.db, view.schedule, MARCH_2)
    assert (counts.audience, counts.received, counts.coming) == (2, 1, 0)
    deliver_at(pipeline, NEW_YORK_9 - timedelta(minutes=5))
    counts = audiences.counts(pipeline.c.db, view.schedule, MARCH_2)
    assert (counts.audience, counts.received, counts.coming) == (2, 1, 1)
    deliver_at(pipeline, NEW_YORK_9)
    assert {u for u, _, _ in schedule_events(pipeline, view.schedule.id)} == {first.id, second.id}


def test_pause_cancels_what_is_queued_and_resume_latest_delivers_it_late(pipeline: Pipeline) -> None:
    user = member(pipeline, "Europe/London")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    pipeline.at(LONDON_9)
    assert pipeline.sweep()["enqueued"] == 1
    schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    assert pipeline.drain() == 1
    deliver_at(pipeline, LONDON_9 + timedelta(days=1))
    assert pipeline.sink.requests == []
    pipeline.at(LONDON_9 + timedelta(days=1, hours=1))
    resumed = schedules.resume_schedule(
        pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id, CatchUp.LATEST
    )
    assert resumed.schedule.status is ScheduleStatus.ACTIVE
    deliver_at(pipeline, LONDON_9 + timedelta(days=1, hours=1))
    [late] = pipeline.sink.requests
    assert late.json()["occurrence"]["localDate"] == "2026-03-03"
    deliver_at(pipeline, LONDON_9 + timedelta(days=2))
    assert received(pipeline) == Counter({(str(user.id), "2026-03-03"): 1, (str(user.id), "2026-03-04"): 1})


def test_resume_without_catch_up_delivers_nothing_missed(pipeline: Pipeline) -> None:
    user = member(pipeline, "Europe/London")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    deliver_at(pipeline, LONDON_9 + timedelta(days=1))
    schedules.resume_schedule(
        pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id, CatchUp.NONE
    )
    deliver_at(pipeline, LONDON_9 + timedelta(days=1, minutes=1))
    deliver_at(pipeline, LONDON_9 + timedelta(days=2))
    assert received(pipeline) == Counter({(str(user.id), "2026-03-04"): 1})


def test_delete_cancels_what_is_queued(pipeline: Pipeline) -> None:
    member(pipeline, "Europe/London")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    pipeline.at(LONDON_9)
    assert pipeline.sweep()["enqueued"] == 1
    schedules.delete_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    assert pipeline.drain() == 1
    deliver_at(pipeline, LONDON_9 + timedelta(days=1))
    assert pipeline.sink.requests == []
    assert [s for _, _, s in schedule_events(pipeline, view.schedule.id)] == [Status.CANCELLED]


def test_a_new_time_moves_the_next_occurrence_for_everyone(pipeline: Pipeline) -> None:
    user = member(pipeline, "Europe/London")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    deliver_at(pipeline, LONDON_9 - timedelta(minutes=5))
    from chalicelib.api.schedule_input import parse_schedule_patch

    schedules.change_schedule(
        pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id,
        lambda current: parse_schedule_patch({"time": "10:00"}, current),
    )  # fmt: skip
    for instant in (LONDON_9, LONDON_9 + timedelta(hours=1)):
        deliver_at(pipeline, instant)
    [request] = pipeline.sink.requests
    assert request.json()["occurrence"]["targetLocal"] == "2026-03-02T10:00:00+00:00"
    assert request.json()["userId"] == str(user.id)


def unsent(pipeline: Pipeline) -> materialiser.Send:
    """What a sweep that dies before sending leaves: the claims marked unsent, for the next."""

    def mark(claims: Sequence[Claimed]) -> None:
        with pipeline.c.db.transaction() as store:
            store.mark_unsent([c.message for c in claims])

    return mark


def materialise(
    pipeline: Pipeline, policy: AudiencePolicy, deadline: float = float("inf"), **more: Any
) -> Any:
    return materialiser.materialise(
        pipeline.c.db, pipeline.clock, policy, LEASE, unsent(pipeline), deadline, **more
    )


def _everyone(pipeline: Pipeline, zones: list[str], per_zone: int) -> list[User]:
    return [member(pipeline, zone, name=f"U{i}") for zone in zones for i in range(per_zone)]


def test_a_sweep_that_runs_out_of_budget_goes_on_next_time_without_doubling(pipeline: Pipeline) -> None:
    zones = ["Europe/London", "Europe/Lisbon", "Africa/Abidjan"]  # one instant, three zones
    people = _everyone(pipeline, zones, 7)
    view = audience_schedule(pipeline)
    pipeline.at(LONDON_9 - timedelta(minutes=5))
    ticks = itertools.count()
    policy = AudiencePolicy(batch_size=3)
    first = materialise(pipeline, policy, deadline=4, monotonic=lambda: next(ticks))
    assert first.budget_spent
    assert 0 < first.written < len(people)
    second = materialise(pipeline, policy)
    assert first.written + second.written == len(people)
    assert Counter(u for u, _, _ in schedule_events(pipeline, view.schedule.id)) == Counter(
        {u.id: 1 for u in people}
    )
    deliver_at(pipeline, LONDON_9)
    assert received(pipeline) == Counter({(str(u.id), "2026-03-02"): 1 for u in people})


class _DiesOnProgress:
    """A database whose first write of progress fails: the batch it goes with is undone too."""

    def __init__(self, db: Database) -> None:
        self.db, self.failed = db, False

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.db.transaction() as store:
            yield self._wrap(store)

    def _wrap(self, store: Store) -> Store:
        outer = self

        class _Store:
            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            def save_audience_progress(self, *args: Any) -> None:
                if not outer.failed:
                    outer.failed = True
                    raise RuntimeError("the sweep died")
                store.save_audience_progress(*args)

        return _Store()  # type: ignore[return-value]


def test_a_sweep_that_dies_mid_batch_loses_and_doubles_nobody(pipeline: Pipeline) -> None:
    people = _everyone(pipeline, ["Europe/London"], 5)
    view = audience_schedule(pipeline)
    pipeline.at(LONDON_9 - timedelta(minutes=5))
    dying = _DiesOnProgress(pipeline.c.db)
    with pytest.raises(RuntimeError):
        materialiser.materialise(
            dying, pipeline.clock, AudiencePolicy(batch_size=2), LEASE, unsent(pipeline), float("inf")
        )  # type: ignore[arg-type]
    assert schedule_events(pipeline, view.schedule.id) == []  # the batch went with its progress
    # Some members planned their own meanwhile (a change to each): the sweep skips them.
    c = pipeline.c
    for user in people[:2]:
        users.change_user(
            c.db, pipeline.clock, c.builtins, user.id, lambda f: replace(f, first_name="Changed")
        )
    done = materialise(pipeline, AudiencePolicy(batch_size=2))
    assert done.written == 3
    deliver_at(pipeline, LONDON_9)
    deliver_at(pipeline, LONDON_9 + timedelta(minutes=1))
    assert received(pipeline) == Counter({(str(u.id), "2026-03-02"): 1 for u in people})


@pytest.mark.parametrize("concurrency", [1, 4])
def test_forty_zones_each_member_once(pipeline: Pipeline, concurrency: int) -> None:
    """400 users in 40 zones with small batches, zones one at a time or four at once: each
    member's event written once, under the key Python computes for it."""
    from chalicelib.domain.zones import known_zones

    zones = sorted(z for z in known_zones() if z.startswith(("Europe/", "America/", "Asia/")))[::7][:40]
    people = _everyone(pipeline, zones, 10)
    view = audience_schedule(pipeline, start=date(2026, 3, 3))
    policy = AudiencePolicy(lookahead=timedelta(days=3), batch_size=7, concurrency=concurrency)
    started = datetime.now(UTC).timestamp()
    first = materialise(pipeline, policy)
    finished = datetime.now(UTC).timestamp()
    again = materialise(pipeline, policy)
    assert (first.written, first.batches, again.written) == (400, 40 * 2, 0)  # 10 a zone: 7 + 3
    assert Counter(u for u, _, _ in schedule_events_all(pipeline, view.schedule.id)) == Counter(
        {u.id: 1 for u in people}
    )
    with tool_transaction(pipeline.c.db) as store:
        keys = store.all(
            "SELECT id, user_id, occurrence_date, idempotency_key FROM events WHERE schedule_id = %(id)s",
            {"id": view.schedule.id},
        )
    assert all(
        k["idempotency_key"] == audience_key(k["user_id"], view.schedule.id, k["occurrence_date"])
        for k in keys
    )
    # Ids are version 7 UUIDs: the milliseconds of the real time they were written, then random.
    assert {k["id"].version for k in keys} == {7}
    assert {k["id"].variant for k in keys} == {RFC_4122}
    assert all(int(started * 1000) - 1 <= k["id"].int >> 80 <= int(finished * 1000) + 1 for k in keys)


def test_zones_written_at_once_stop_together_when_time_runs_out_and_the_next_sweep_goes_on(
    pipeline: Pipeline,
) -> None:
    zones = ["Europe/London", "Europe/Lisbon", "Africa/Abidjan", "Atlantic/Reykjavik"]  # one instant
    people = _everyone(pipeline, zones, 6)
    view = audience_schedule(pipeline)
    pipeline.at(LONDON_9 - timedelta(minutes=5))
    ticks = itertools.count()
    lock = threading.Lock()

    def monotonic() -> int:
        with lock:
            return next(ticks)

    policy = AudiencePolicy(batch_size=2, concurrency=4)
    first = materialise(pipeline, policy, deadline=6, monotonic=monotonic)
    assert first.budget_spent
    assert 0 < first.written < len(people)
    second = materialise(pipeline, policy)
    assert not second.budget_spent
    assert first.written + second.written == len(people)
    assert Counter(u for u, _, _ in schedule_events(pipeline, view.schedule.id)) == Counter(
        {u.id: 1 for u in people}
    )


def test_the_sweep_emits_the_members_it_wrote_as_a_metric(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    people = _everyone(pipeline, ["Europe/London", "Europe/Lisbon"], 3)
    audience_schedule(pipeline)
    pipeline.at(LONDON_9 - timedelta(minutes=5))
    capsys.readouterr()
    pipeline.sweep()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [emf] = [d for d in documents if "_aws" in d]
    assert emf["AudienceWritten"] == [float(len(people))]
    [summary] = [d for d in documents if d.get("message") == "sweep finished"]
    assert summary["audienceWritten"] == len(people)


def schedule_events_all(pipeline: Pipeline, schedule_id: UUID) -> list[tuple[UUID, date, Status]]:
    with tool_transaction(pipeline.c.db) as store:
        rows = store.all(
            "SELECT user_id, occurrence_date, status FROM events WHERE schedule_id = %(id)s",
            {"id": schedule_id},
        )
    return [(r["user_id"], r["occurrence_date"], Status(r["status"])) for r in rows]


def test_resume_with_all_delivers_each_missed_occurrence_once_late(pipeline: Pipeline) -> None:
    user = member(pipeline, "Europe/London")
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    schedules.pause_schedule(pipeline.c.db, pipeline.clock, view.schedule.id)
    pipeline.at(LONDON_9 + timedelta(days=2, hours=1))  # 2, 3 and 4 March missed
    schedules.resume_schedule(
        pipeline.c.db, pipeline.clock, pipeline.c.builtins, view.schedule.id, CatchUp.ALL
    )
    for _ in range(3):
        deliver_at(pipeline, LONDON_9 + timedelta(days=2, hours=1))
    assert received(pipeline) == Counter({(str(user.id), f"2026-03-0{d}"): 1 for d in (2, 3, 4)})
    assert all(e.late for e in pipeline.events(user.id) if e.schedule_id == view.schedule.id)


def test_after_downtime_the_missed_occurrence_is_written_and_delivered_late(pipeline: Pipeline) -> None:
    user = member(pipeline, "Europe/London")
    audience_schedule(pipeline)
    deliver_at(pipeline, LONDON_9 + timedelta(hours=3))  # no sweep ran from 12:00 the day before
    [late] = pipeline.sink.requests
    assert (late.json()["userId"], late.json()["occurrence"]["localDate"]) == (str(user.id), "2026-03-02")


def test_a_zone_first_seen_by_a_sweep_is_remembered_from_then(pipeline: Pipeline) -> None:
    """Its users' own planning gave them their occurrence; from then on the zone's progress is
    kept, so a downtime across a later instant still writes it."""
    view = audience_schedule(pipeline, rule="FREQ=DAILY")
    member(pipeline, "Asia/Tokyo")
    pipeline.at(NOW + timedelta(hours=1))
    materialise(pipeline, AudiencePolicy())
    with pipeline.c.db.transaction() as store:
        progress = store.audience_progress(view.schedule.id)
    assert progress["Asia/Tokyo"].through == NOW + timedelta(hours=1)
