"""The worker's PostgreSQL step: each event to its new state, and the next occurrence after
every terminal state, in one transaction holding the users' locks (in id order).

The whole batch is written with a handful of statements (one UPDATE for every event, one
read of the users' dates, one pipelined INSERT). If that transaction fails, the batch is
written again event by event, each in a savepoint, so one bad event fails only its own
message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from chalicelib import observability as obs
from chalicelib.adapters import delivery_store
from chalicelib.adapters.delivery_store import KnownEvent
from chalicelib.adapters.postgres import Store
from chalicelib.domain import event_types
from chalicelib.domain.events import ACTIVE, Event
from chalicelib.domain.users import User
from chalicelib.services.delivery_jobs import WRITES, Action, Job, Worker
from chalicelib.services.scheduling import schedule_next

_MOVED = "the event moved on meanwhile; its new message decides"


def finalise(worker: Worker, jobs: Sequence[Job]) -> None:
    writing = [job for job in jobs if job.action in WRITES]
    for job in writing:
        if job.action is Action.FAIL and not _to_dlq(worker, job):
            job.action = Action.ERROR
    writing = [job for job in writing if job.action is not Action.ERROR and job.event]
    if not writing:
        return
    try:
        _together(worker, writing)
    except Exception as exc:
        obs.log().warning("batch write failed; writing event by event", extra={"error": str(exc)[:300]})
        _one_by_one(worker, writing)


def _transition(worker: Worker, job: Job, now: datetime) -> tuple[Event, bool]:
    """The event's new state, and whether it is terminal (so the next occurrence is due)."""
    event = job.event
    assert event is not None
    if job.action in (Action.DELIVERED, Action.FINALISE):
        attempts = job.attempt if job.outcome else max(event.attempts, job.ledger_attempt)
        return event.complete(now, attempts, job.delivered_at), True
    if job.action is Action.SKIP:
        return event.skip(now, job.reason), True
    if job.action is Action.FAIL:
        return event.fail(now, job.attempt if job.outcome else event.attempts, job.reason), True
    if job.action is Action.CANCEL:
        return event.cancel(now), False
    lease = now + (job.retry_in or timedelta(0)) + worker.policy.lease
    return event.defer(now, job.attempt, lease), False


def _together(worker: Worker, jobs: list[Job]) -> None:
    with worker.db.transaction() as store:
        users = _lock_users(store, jobs)
        now = worker.clock.now()
        changes = [(job, *_transition(worker, job, now)) for job in jobs]
        written = delivery_store.finish_events(
            store, [(new, job.event.version) for job, new, _ in changes if job.event]
        )
        for job, _, _ in changes:
            if job.event and job.event.id not in written:
                _note_moved(job)
        finished = [new for _, new, terminal in changes if terminal and new.id in written]
        _schedule_following(worker, store, finished, users, now)


def _one_by_one(worker: Worker, jobs: list[Job]) -> None:
    try:
        with worker.db.transaction() as store:
            users = _lock_users(store, jobs)
            now = worker.clock.now()
            for job in jobs:
                try:
                    with store.conn.transaction():
                        _apply(worker, store, job, users, now)
                except Exception as exc:
                    job.action, job.reason = Action.ERROR, f"could not finalise in PostgreSQL: {exc}"[:300]
    except Exception as exc:
        for job in jobs:
            job.action, job.reason = Action.ERROR, f"could not finalise in PostgreSQL: {exc}"[:300]


def _apply(worker: Worker, store: Store, job: Job, users: dict[UUID, User], now: datetime) -> None:
    assert job.event is not None
    new, terminal = _transition(worker, job, now)
    if not store.update_event(new, job.event.version):
        _note_moved(job)
    elif terminal:
        _schedule_following(worker, store, [new], users, now)


def _lock_users(store: Store, jobs: list[Job]) -> dict[UUID, User]:
    return delivery_store.users_by_ids(store, [job.event.user_id for job in jobs if job.event], lock=True)


def _note_moved(job: Job) -> None:
    job.reason = f"{job.reason}; {_MOVED}" if job.reason else _MOVED


def _schedule_following(
    worker: Worker, store: Store, finished: list[Event], users: dict[UUID, User], now: datetime
) -> None:
    """Every terminal state schedules the next occurrence, unless one is already coming (an
    operator retried an old FAILED event) or the user is gone."""
    finished = [e for e in finished if e.user_id in users and e.event_type in event_types.REGISTRY]
    if not finished:
        return
    plan = _Plan(delivery_store.event_dates_for_users(store, {e.user_id for e in finished}))
    for event in finished:
        if not plan.other_active(event):
            event_type = event_types.get(event.event_type)
            schedule_next(plan, worker.schedule, event_type, users[event.user_id], event.target_utc, now)
    delivery_store.insert_events(store, plan.inserted)


class _Plan:
    """Stands in for the Store while scheduling: answers from the users' known dates and
    collects the inserts, which are then written in one pipelined statement."""

    def __init__(self, known: list[KnownEvent]) -> None:
        self._dates = {(k.user_id, k.event_type, k.occurrence_date) for k in known}
        self._active = {(k.user_id, k.event_type, k.id) for k in known if k.status in ACTIVE}
        self.inserted: list[Event] = []

    def other_active(self, event: Event) -> bool:
        return any(
            (user_id, event_type) == (event.user_id, event.event_type) and event_id != event.id
            for user_id, event_type, event_id in self._active
        )

    def occurrence_exists(self, user_id: UUID, event_type: str, occurrence_date: Any) -> bool:
        return (user_id, event_type, occurrence_date) in self._dates

    def insert_event(self, event: Event) -> None:
        self._dates.add((event.user_id, event.event_type, event.occurrence_date))
        self._active.add((event.user_id, event.event_type, event.id))
        self.inserted.append(event)


def _to_dlq(worker: Worker, job: Job) -> bool:
    try:
        worker.dlq.send(job.body, {"failureReason": job.reason[:256], "messageId": job.message_id})
    except Exception as exc:
        job.reason = f"could not move to the DLQ: {exc}"[:300]
        return False
    return True
