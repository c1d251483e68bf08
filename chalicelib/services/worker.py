"""The worker: one SQS batch in, the webhook called once per due event, PostgreSQL finalised.

Per batch:
1. read the messages' events and users (one transaction); drop what is stale, cancel what
   belongs to a deleted user, skip what is older than MAX_EVENT_AGE;
2. ask the ledger which keys already have a success (a 2xx whose PostgreSQL update failed):
   those are finalised without a POST;
3. POST the rest, one by one, writing each success to the ledger the moment the 2xx arrives;
4. one transaction, holding the users' locks in id order, moves each event to its new state
   and schedules the next occurrence after every terminal state (see `finalise`);
5. messages that must come back later get their visibility set to the backoff and are
   reported as `batchItemFailures`; permanent failures go to the DLQ and are acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.adapters import delivery_store
from chalicelib.domain import event_types
from chalicelib.domain.delivery import MalformedMessage, Message, Outcome, Verdict
from chalicelib.domain.events import Event, Status, is_late
from chalicelib.domain.instants import iso_utc
from chalicelib.domain.users import User
from chalicelib.services.delivery_jobs import Action, DeliveryPolicy, Job, Worker
from chalicelib.services.finalise import finalise
from chalicelib.services.ports import Attempt
from chalicelib.services.ports import Delivery as Post

__all__ = ["DeliveryPolicy", "Worker", "deliver_batch"]


def deliver_batch(worker: Worker, records: Sequence[dict[str, Any]]) -> list[str]:
    """Handles one SQS batch; returns the message ids that must come back (batchItemFailures)."""
    jobs = [_job(record) for record in records]
    _load(worker, jobs)
    _check_ledger(worker, jobs)
    for job in jobs:
        if job.action is Action.SEND:
            try:
                _post(worker, job)
            except Exception as exc:  # a bug or a broken template: this message only
                job.action, job.reason = Action.ERROR, f"could not send: {exc!r}"[:300]
    finalise(worker, jobs)
    failed = _requeue_failures(worker, jobs)
    _report(worker, jobs)
    return failed


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _job(record: dict[str, Any]) -> Job:
    attributes = record.get("attributes") or {}
    job = Job(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record.get("body", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )
    try:
        job.message = Message.decode(job.body)
    except MalformedMessage as exc:
        job.action, job.reason = Action.FAIL, str(exc)
    return job


def _load(worker: Worker, jobs: list[Job]) -> None:
    wanted = [job for job in jobs if job.message]
    if not wanted:
        return
    try:
        with worker.db.transaction() as store:
            events = delivery_store.events_by_ids(
                store, [job.message.event_id for job in wanted if job.message]
            )
            users = delivery_store.users_by_ids(store, [e.user_id for e in events.values()])
    except Exception as exc:
        _all_error(worker, wanted, f"could not read the events: {exc}")
        return
    now = worker.clock.now()
    for job in wanted:
        assert job.message is not None
        job.event = events.get(job.message.event_id)
        job.user = users.get(job.event.user_id) if job.event else None
        job.action, job.reason = _classify(worker, job.message, job.event, job.user, now)


def _classify(
    worker: Worker, message: Message, event: Event | None, user: User | None, now: datetime
) -> tuple[Action, str]:
    if event is None:
        return Action.DROP, "no such event"
    if event.status is not Status.PROCESSING or event.version != message.version:
        return Action.DROP, f"stale: the event is {event.status} at version {event.version}"
    if user is None:
        return Action.CANCEL, "the user was deleted"
    if event.event_type not in event_types.REGISTRY:
        return Action.FAIL, f"unknown event type {event.event_type!r}"
    age = now - event.due_utc
    if age > worker.policy.max_event_age:
        limit = _duration(worker.policy.max_event_age)
        return Action.SKIP, f"older than MAX_EVENT_AGE ({limit}): due {iso_utc(event.due_utc)}"
    return Action.SEND, ""


def _check_ledger(worker: Worker, jobs: list[Job]) -> None:
    sending = [job for job in jobs if job.action is Action.SEND and job.message]
    if not sending:
        return
    try:
        found = worker.ledger.find_successes([job.message.idempotency_key for job in sending if job.message])
    except Exception as exc:
        # Unsure whether it was delivered before: better later than twice.
        _all_error(worker, sending, f"the delivery ledger is unavailable: {exc}")
        return
    for job in sending:
        assert job.message is not None
        success = found.get(job.message.idempotency_key)
        if success is not None:
            job.action, job.delivered_at = Action.FINALISE, success.attempted_at
            job.ledger_attempt = success.attempt
            job.reason = "a success for this key is already in the ledger"


def _post(worker: Worker, job: Job) -> None:
    assert job.message is not None
    assert job.event is not None
    assert job.user is not None
    event_type = event_types.get(job.event.event_type)
    body = {
        "message": event_type.message(job.user.fields),
        "eventId": str(job.event.id),
        "eventType": job.event.event_type,
        "userId": str(job.event.user_id),
        "scheduledFor": iso_utc(job.event.target_utc),
        "externalId": job.user.external_id,  # the integrating team's own id and data, as now
        "metadata": job.user.metadata,
    }
    outcome = worker.sender.deliver(Post(job.message.idempotency_key, json.dumps(body).encode()))
    attempted_at = worker.clock.now()
    job.outcome = outcome
    attempt = _attempt(job, outcome, attempted_at)
    if outcome.verdict is Verdict.SUCCESS:
        job.action, job.delivered_at = Action.DELIVERED, attempted_at
        _ledger_write(worker, job, lambda: worker.ledger.record_success(attempt))
    elif outcome.verdict is Verdict.TRANSIENT and job.attempt < worker.policy.max_attempts:
        job.action, job.reason = Action.RETRY, outcome.reason
        job.retry_in = worker.policy.backoff.delay(job.attempt, outcome.retry_after, worker.rng)
    else:
        job.action = Action.FAIL
        job.reason = (
            outcome.reason
            if outcome.verdict is Verdict.PERMANENT
            else (f"gave up after {job.attempt} attempts: {outcome.reason}")
        )
    _ledger_write(worker, job, lambda: worker.ledger.record_attempt(attempt))


def _attempt(job: Job, outcome: Outcome, at: datetime) -> Attempt:
    assert job.message is not None
    return Attempt(
        event_id=job.message.event_id,
        idempotency_key=job.message.idempotency_key,
        attempt=job.attempt,
        attempted_at=at,
        outcome=outcome.verdict.value,
        status_code=outcome.status_code,
        error=outcome.error,
        latency_ms=outcome.latency_ms,
    )


def _ledger_write(worker: Worker, job: Job, write: Any) -> None:
    try:
        write()
    except Exception as exc:
        # PostgreSQL, written next, still records the outcome; only the audit trail is short.
        obs.log().error("ledger write failed", extra=job.log_fields() | {"error": str(exc)[:300]})


def _all_error(worker: Worker, jobs: Sequence[Job], reason: str) -> None:
    for job in jobs:
        job.action, job.reason = Action.ERROR, reason[:300]


def _requeue_failures(worker: Worker, jobs: list[Job]) -> list[str]:
    failed = []
    for job in jobs:
        if job.action is Action.ERROR:
            job.retry_in = worker.policy.backoff.delay(job.receive_count, None, worker.rng)
        elif job.action is not Action.RETRY:
            continue
        failed.append(job.message_id)
        seconds = int((job.retry_in or timedelta(0)).total_seconds())
        try:
            worker.queue.change_visibility(job.receipt_handle, seconds)
        except Exception as exc:  # it still comes back, after the queue's own visibility timeout
            obs.log().warning(
                "could not set the retry delay", extra=job.log_fields() | {"error": str(exc)[:300]}
            )
    return failed


def _report(worker: Worker, jobs: list[Job]) -> None:
    values: list[tuple[str, Any, float]] = []
    for job in jobs:
        fields = job.log_fields()
        if job.retry_in is not None:
            fields["retryInSeconds"] = int(job.retry_in.total_seconds())
        if job.action in (Action.DELIVERED, Action.FINALISE) and job.event and job.delivered_at:
            lateness = (job.delivered_at - job.event.target_utc).total_seconds()
            late = is_late(job.event.target_utc, job.delivered_at)
            fields |= {"late": late, "latenessSeconds": round(lateness, 3)}
            values += [("Delivered", obs.Count, 1), ("LatenessSeconds", obs.Seconds, lateness)]
            if late:
                values.append(("DeliveredLate", obs.Count, 1))
        elif job.action is Action.FAIL:
            values.append(("Failed", obs.Count, 1))
        elif job.action is Action.SKIP:
            values.append(("Skipped", obs.Count, 1))
        elif job.action is Action.RETRY:
            values.append(("Retried", obs.Count, 1))
        elif job.action is Action.DROP:
            values.append(("Dropped", obs.Count, 1))
        if job.outcome is not None:
            values.append(("DeliveryLatencyMs", obs.Milliseconds, job.outcome.latency_ms))
        level = "error" if job.action is Action.ERROR else "warning" if job.action is Action.FAIL else "info"
        getattr(obs.log(), level)(f"event {job.action.value}", extra=fields)
    obs.emit(values)
