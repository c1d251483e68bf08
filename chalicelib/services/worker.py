"""The worker: one SQS batch in, the webhook called once per due event, PostgreSQL finalised.

Per batch, in this order (each step a method below; the decisions are in domain/fate.py;
docs/delivery.md, "The worker, top to bottom"):
1. decode each message and read its event and user (one transaction); `classify` drops what
   is stale, cancels what belongs to a deleted user, skips what is older than MAX_EVENT_AGE,
   holds back what came before its event is due; the same transaction extends the lease of
   every event whose current message arrived (one UPDATE, no version bump), so the sweeper
   never re-sends an event that is being worked on;
2. ask the ledger which keys already have a success (a 2xx whose PostgreSQL update failed):
   those are finalised without a POST;
3. POST the rest concurrently (a pool of WEBHOOK_CONCURRENCY threads per worker, kept across
   batches with their keep-alive connections), each success written to the ledger by its own
   thread the moment its 2xx arrives;
4. one transaction, holding the users' locks in id order, moves each event to its new state
   and schedules the next occurrence after every terminal state;
5. only then do failed messages go to the DLQ: if the FAILED write fails, nothing is sent and
   the message comes back; if the DLQ send fails, the message comes back, finds its event
   FAILED by itself, and is sent to the DLQ again without a POST;
6. messages that must come back get their visibility set to the backoff (an early one: to the
   seconds left) and are reported as `batchItemFailures`.

`attempts` counts POSTs: a receive that ends in an error (database, ledger or DLQ unreachable)
is not an attempt; it is logged with its `receives` and counted by the `Unprocessed` metric.

A job's fate is decided once (`Job.decide`); a step that cannot carry it out records an
`error` instead, which makes the message come back (Fate.UNPROCESSED).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from chalicelib import observability as obs
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.delivery import (
    SQS_MAX_VISIBILITY,
    Backoff,
    MalformedMessage,
    Message,
    Outcome,
    Verdict,
)
from chalicelib.domain.endpoints import (
    RATE_AHEAD,
    Endpoint,
    delivery_key,
    take_slots,
)
from chalicelib.domain.events import Event, is_late
from chalicelib.domain.fate import (
    TO_DLQ,
    WRITES,
    Fate,
    after_posts,
    attempt_number,
    classify,
    classify_resend,
    is_current,
    lease_on_receive,
    seconds_until_due,
    transition,
)
from chalicelib.domain.fate import webhook_body as body_for
from chalicelib.domain.schedules import Schedule
from chalicelib.domain.users import User
from chalicelib.ports import (
    Attempt,
    Clock,
    Database,
    Delivery,
    DeliveryLedger,
    Destinations,
    Notices,
    Queue,
    Store,
    WebhookSender,
)
from chalicelib.services.endpoints import announce
from chalicelib.services.scheduling import plan_following, planning_asks

_MOVED = "the event moved on meanwhile; its new message decides"


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    backoff: Backoff
    lease: timedelta
    """After a deferral the lease covers the wait plus this much (the queue's visibility and then some)."""
    max_event_age: timedelta
    webhook_concurrency: int = 10
    """POSTs in flight at once, per worker (a batch is at most 10 messages)."""
    endpoint_disable_after: timedelta = timedelta(days=5)
    """An endpoint whose every delivery has failed for this long is disabled."""


@dataclass
class Pair:
    """One (event, endpoint) delivery of a job: the built-in endpoint is None."""

    endpoint: Endpoint | None
    key: str
    """Its Idempotency-Key and webhook-id (domain/endpoints.delivery_key)."""
    sender: WebhookSender | None = None
    outcome: Outcome | None = None
    delivered_at: datetime | None = None
    """When its success was recorded (by this POST, or one before it, in the ledger)."""
    ledger_attempt: int = 0
    error: str | None = None
    deferred: timedelta | None = None
    """Over the endpoint's rate limit: not sent this time; a slot is free after this long."""
    not_before: datetime | None = None
    """Its rate limit slot, when that is a moment away: the POST waits for it."""

    @property
    def label(self) -> str:
        """How a reason names it: "" for the built-in endpoint (reasons as they always were)."""
        return f"endpoint {self.endpoint.id}" if self.endpoint else ""


@dataclass
class Job:
    """One SQS record on its way through the batch."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    message: Message | None = None
    event: Event | None = None
    user: User | None = None
    schedule: Schedule | None = None
    decision: Fate | None = None
    reason: str = ""
    error: str | None = None
    outcome: Outcome | None = None
    delivered_at: datetime | None = None
    ledger_attempt: int = 0
    retry_in: timedelta | None = None
    pairs: list[Pair] = field(default_factory=list)
    """The endpoints it goes to, once classified SEND."""
    payload: bytes = b""
    """What each endpoint is sent."""

    def decide(self, fate: Fate, reason: str = "") -> None:
        assert self.decision is None, f"{self.message_id} is already {self.decision}"
        self.decision, self.reason = fate, reason

    def fail_step(self, error: str) -> None:
        if self.error is None:
            self.error = error[:300]

    @property
    def fate(self) -> Fate:
        if self.error is not None:
            return Fate.UNPROCESSED
        return self.decision or Fate.UNDECIDED

    @property
    def pending(self) -> bool:
        """Still to be sent: classified UNDECIDED, and nothing has gone wrong."""
        return self.decision is None and self.error is None and self.event is not None

    @property
    def resend(self) -> bool:
        """A finished event sent to one endpoint again (recover, replay): the event is not written."""
        return self.message is not None and self.message.endpoint_id is not None

    @property
    def attempt(self) -> int:
        return self.receive_count if self.resend else attempt_number(self.event)

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"messageId": self.message_id, "action": self.fate.value}
        if self.message:
            fields |= obs.event_fields(self.message.event_id, self.message.idempotency_key)
            fields["version"] = self.message.version
            fields["attempt"] = self.attempt
        fields["receives"] = self.receive_count  # minus the attempts: receives an outage cost
        reason = self.error or self.reason
        if reason:
            fields["reason"] = reason
        if self.outcome:
            fields |= {"statusCode": self.outcome.status_code, "latencyMs": round(self.outcome.latency_ms, 1)}
        return fields


@dataclass(frozen=True)
class Worker:
    """The SQS consumer: `deliver_batch` is one Lambda invocation."""

    db: Database
    clock: Clock
    builtins: BuiltIns
    queue: Queue
    dlq: Queue
    ledger: DeliveryLedger
    sender: WebhookSender | None
    """The built-in endpoint (WEBHOOK_URL), for every type; None when it is not set."""
    policy: DeliveryPolicy
    rng: random.Random = field(default_factory=random.Random)
    destinations: Destinations | None = None
    """The endpoints' senders; None delivers to the built-in endpoint alone (the benchmark)."""
    notices: Notices | None = None
    """Where `endpoint.failing` and `endpoint.disabled` go; None: nowhere."""

    def deliver_batch(self, records: Sequence[dict[str, Any]]) -> list[str]:
        """Handles one SQS batch; returns the message ids that must come back (batchItemFailures)."""
        jobs = [_job(record) for record in records]
        self._load(jobs)
        self._check_ledger(jobs)
        self._throttle([job for job in jobs if job.pending])
        self._post_all([job for job in jobs if job.pending])
        self._note_health(jobs)
        self._write([job for job in jobs if not job.resend])
        self._mark_late([job for job in jobs if job.resend])
        self._to_dlq(jobs)
        failed = self._come_back(jobs)
        _report(jobs)
        return failed

    # 1. read and classify
    def _load(self, jobs: list[Job]) -> None:
        wanted = [job for job in jobs if job.message and job.decision is None]
        if not wanted:
            return
        try:
            with self.db.transaction() as store:
                events = store.events_by_ids(job.message.event_id for job in wanted if job.message)
                users = store.users_by_ids(e.user_id for e in events.values())
                schedules = store.schedules_by_ids(e.schedule_id for e in events.values() if e.schedule_id)
                endpoints = store.live_endpoints() if self.destinations is not None else []
                now = self.clock.now()
                store.extend_leases(_leases(wanted, events, now, self.policy.lease))
        except Exception as exc:
            for job in wanted:
                job.fail_step(f"could not read the events: {exc}")
            return
        resending: set[tuple[UUID, UUID | None]] = set()
        for job in wanted:
            assert job.message is not None
            job.event = events.get(job.message.event_id)
            job.user = users.get(job.event.user_id) if job.event else None
            job.schedule = (
                schedules.get(job.event.schedule_id) if job.event and job.event.schedule_id else None
            )
            if job.resend:
                self._classify_resend(job, endpoints)
                pair = (job.message.event_id, job.message.endpoint_id)
                if job.pending and pair in resending:  # an enable and a recover, say: one POST
                    job.decide(Fate.DROPPED, "another message of this batch sends it")
                resending.add(pair)
                continue
            fate, reason = classify(
                job.message, job.event, job.user, now, self.policy.max_event_age, job.schedule
            )
            if fate is Fate.EARLY and job.event:
                job.retry_in = min(timedelta(seconds=seconds_until_due(job.event, now)), SQS_MAX_VISIBILITY)
            if fate is Fate.UNDECIDED and job.event:
                job.pairs = self._pairs(job.event, job.message.idempotency_key, endpoints)
                if not job.pairs:
                    fate, reason = Fate.HELD, f"no enabled endpoint takes {job.event.event_type!r}"
                    # Asked again later and later (up to BACKOFF_CAP); if SQS gives up on the
                    # message meanwhile, the lease running out makes the sweeper send a new one.
                    job.retry_in = self.policy.backoff.delay(job.receive_count, None, self.rng)
            if fate is not Fate.UNDECIDED:  # SEND is decided by the ledger or the POST
                job.decide(fate, reason)

    def _classify_resend(self, job: Job, endpoints: list[Endpoint]) -> None:
        assert job.message is not None
        endpoint = next((e for e in endpoints if e.id == job.message.endpoint_id), None)
        fate, reason = classify_resend(job.message, job.event, job.user, endpoint is not None, job.schedule)
        if fate is Fate.UNDECIDED and endpoint is not None and job.event is not None:
            if not endpoint.enabled:
                job.decide(Fate.HELD, f"endpoint {endpoint.id} is disabled")
                job.retry_in = self.policy.backoff.delay(job.receive_count, None, self.rng)
                return
            job.pairs = [Pair(endpoint, delivery_key(job.event.idempotency_key, endpoint.id))]
            return
        job.decide(fate, reason)

    def _pairs(self, event: Event, key: str, endpoints: list[Endpoint]) -> list[Pair]:
        """The built-in endpoint, if set, and every enabled endpoint that takes the event's type."""
        pairs = [Pair(None, key)] if self.sender is not None else []
        return pairs + [Pair(e, delivery_key(key, e.id)) for e in endpoints if e.takes(event.event_type)]

    # 2. the ledger: a success already recorded is finalised without a POST
    def _check_ledger(self, jobs: list[Job]) -> None:
        # A replay sends what the endpoint has already: its ledger is not asked.
        sending = [
            job for job in jobs if job.pending and job.pairs and not (job.message and job.message.replay)
        ]
        if not sending:
            return
        try:
            found = self.ledger.find_successes([pair.key for job in sending for pair in job.pairs])
        except Exception as exc:
            for job in sending:  # unsure whether it was delivered before: better later than twice
                job.fail_step(f"the delivery ledger is unavailable: {exc}")
            return
        for job in sending:
            for pair in job.pairs:
                success = found.get(pair.key)
                if success is not None:
                    pair.delivered_at, pair.ledger_attempt = success.attempted_at, success.attempt
            if all(pair.delivered_at for pair in job.pairs):
                job.decide(Fate.COMPLETED_FROM_LEDGER, "a success for this key is already in the ledger")
                job.delivered_at = max(p.delivered_at for p in job.pairs if p.delivered_at)
                job.ledger_attempt = max(pair.ledger_attempt for pair in job.pairs)

    # 2b. rate limits: the slots every container shares, taken in one transaction
    def _throttle(self, jobs: list[Job]) -> None:
        limited: dict[UUID, list[tuple[Job, Pair]]] = {}
        for job in jobs:
            for pair in job.pairs:
                if pair.endpoint and pair.endpoint.fields.rate_limit and pair.delivered_at is None:
                    limited.setdefault(pair.endpoint.id, []).append((job, pair))
        if not limited:
            return
        try:
            with self.db.transaction() as store:
                now = self.clock.now()
                tats = store.lock_rates(list(limited), now)
                taken = {}
                for endpoint_id, pairs in limited.items():
                    rate = pairs[0][1].endpoint.fields.rate_limit if pairs[0][1].endpoint else None
                    assert rate is not None
                    slots = take_slots(tats.get(endpoint_id, now), now, rate, len(pairs), RATE_AHEAD)
                    taken[endpoint_id] = slots.tat
                    for (_, pair), at in zip(pairs, slots.at, strict=False):
                        pair.not_before = at if at > now else None
                    for (_, pair), wait in zip(pairs[len(slots.at) :], slots.waits, strict=True):
                        pair.deferred = wait
                store.set_rates(taken)
        except Exception as exc:  # no slot can be had: nothing over the limit goes out
            for job in {id(j): j for pairs in limited.values() for j, _ in pairs}.values():
                job.fail_step(f"could not take rate limit slots: {exc}")

    # 3. the POSTs, at once
    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        """Kept for the container's life: its threads keep their keep-alive connections."""
        return ThreadPoolExecutor(self.policy.webhook_concurrency, thread_name_prefix="webhook")

    def _post_all(self, jobs: list[Job]) -> None:
        """Every pair without a success, at once; then each job's fate from its pairs'."""
        now = self.clock.now()
        posting = []
        for job in jobs:
            try:
                assert job.event is not None
                assert job.user is not None
                job.payload = body_for(job.event, job.user, job.schedule)
                for pair in job.pairs:
                    if pair.delivered_at is None and pair.deferred is None:
                        pair.sender = self._sender(pair, now)
                        posting.append((job, pair))
            except Exception as exc:  # a bug, a broken template, an endpoint we cannot send to
                job.fail_step(f"could not send: {exc!r}")
        posting = [(job, pair) for job, pair in posting if job.error is None]
        if len(posting) > 1 and self.policy.webhook_concurrency > 1:
            list(self._pool.map(lambda jp: self._post(*jp), posting))
        else:
            for job, pair in posting:
                self._post(job, pair)
        for job in jobs:  # here, not in the threads: the jitter's draws stay in batch order
            self._decide_after_posts(job)

    def _sender(self, pair: Pair, now: datetime) -> WebhookSender:
        if pair.endpoint is None:
            assert self.sender is not None
            return self.sender
        assert self.destinations is not None
        return self.destinations.sender_for(pair.endpoint, now)

    def _post(self, job: Job, pair: Pair) -> None:
        """One delivery and its ledger writes, in a pool thread; touches only its own pair."""
        assert job.message is not None
        assert pair.sender is not None
        if pair.not_before is not None:
            self.clock.sleep_until(pair.not_before)
        try:
            outcome = pair.sender.deliver(Delivery(pair.key, job.payload))
        except Exception as exc:  # a bug: this message only
            pair.error = f"could not send: {exc!r}"
            return
        attempted_at = self.clock.now()
        pair.outcome = outcome
        attempt = _attempt(job, pair, outcome, attempted_at)
        if outcome.verdict is Verdict.SUCCESS:
            pair.delivered_at = attempted_at
            self._ledger_write(job, lambda: self.ledger.record_success(attempt))
        self._ledger_write(job, lambda: self.ledger.record_attempt(attempt))

    def _decide_after_posts(self, job: Job) -> None:
        posted = [pair for pair in job.pairs if pair.outcome is not None or pair.error is not None]
        deferred = [pair for pair in job.pairs if pair.deferred is not None]
        if not (posted or deferred) or not job.pending:
            return
        broken = [pair.error for pair in posted if pair.error is not None]
        if broken:  # comes back; the pairs that succeeded are in the ledger
            job.fail_step(broken[0])
            return
        wait = max((pair.deferred for pair in deferred if pair.deferred is not None), default=timedelta(0))
        over = "; ".join(f"{pair.label}: over its rate limit" for pair in deferred)
        if not posted:  # nothing went out: not an attempt
            job.decide(Fate.HELD, over)
            job.retry_in = _whole_seconds(wait)
            return
        outcomes = [(pair.label, pair.outcome) for pair in posted if pair.outcome is not None]
        failed = [o for _, o in outcomes if o.verdict is not Verdict.SUCCESS]
        job.outcome = failed[0] if failed else outcomes[-1][1]
        fate, reason = after_posts(outcomes, job.attempt, self.policy.max_attempts)
        if deferred:  # the limited endpoints still wait for theirs: back, whatever the others did
            fate, reason = Fate.DEFERRED, "; ".join(r for r in (reason, over) if r)
        job.decide(fate, reason)
        if job.decision is Fate.COMPLETED:
            job.delivered_at = max(pair.delivered_at for pair in job.pairs if pair.delivered_at)
        elif job.decision is Fate.DEFERRED:
            waits = [o.retry_after for o in failed if o.retry_after is not None]
            backoff = self.policy.backoff.delay(job.attempt, max(waits, default=None), self.rng)
            job.retry_in = max(backoff if failed else timedelta(0), _whole_seconds(wait))

    # 3b. each endpoint's health: failing since its first failure after a success, disabled once
    # that has lasted ENDPOINT_DISABLE_AFTER (written only when its state changes)
    def _note_health(self, jobs: list[Job]) -> None:
        results: dict[UUID, tuple[Endpoint, bool, datetime]] = {}
        for job in jobs:
            for pair in job.pairs:
                if pair.endpoint is None or pair.outcome is None:
                    continue
                ok = pair.outcome.verdict is Verdict.SUCCESS
                _, was_ok, at = results.get(pair.endpoint.id, (pair.endpoint, False, self.clock.now()))
                results[pair.endpoint.id] = (pair.endpoint, was_ok or ok, at)
        cutoff = self.clock.now() - self.policy.endpoint_disable_after
        changing = [  # a write only where the state changes
            (e, ok, at)
            for e, ok, at in results.values()
            if (
                (e.failing_since is not None)
                if ok
                else (e.failing_since is None or e.failing_since <= cutoff)
            )
        ]
        if not changing:
            return
        notices: list[tuple[str, UUID, datetime]] = []
        try:
            with self.db.transaction() as store:
                for endpoint, ok, at in changing:
                    if ok:
                        store.mark_endpoint_healthy(endpoint.id)
                    elif endpoint.failing_since is None:
                        if store.mark_endpoint_failing(endpoint.id, at):
                            notices.append(("endpoint.failing", endpoint.id, at))
                    elif endpoint.failing_since <= cutoff and store.disable_failing_endpoint(
                        endpoint.id, at, cutoff
                    ):
                        notices.append(("endpoint.disabled", endpoint.id, at))
        except Exception as exc:  # the next batch's outcomes say it again
            obs.log().warning("could not note the endpoints' health", extra={"error": str(exc)[:300]})
            return
        for kind, endpoint_id, at in notices:
            announce(self.notices, kind, endpoint_id, at)

    def _ledger_write(self, job: Job, write: Any) -> None:
        try:
            write()
        except Exception as exc:
            # PostgreSQL, written next, still records the outcome; only the audit trail is short.
            obs.log().error("ledger write failed", extra=job.log_fields() | {"error": str(exc)[:300]})

    # 4b. a recovery's late delivery makes its event late (a re-send writes nothing else)
    def _mark_late(self, jobs: list[Job]) -> None:
        late = {
            job.event.id: job.delivered_at
            for job in jobs
            if job.fate is Fate.COMPLETED and not _repeat(job) and job.event and job.delivered_at
            if is_late(job.event.target_utc, job.delivered_at)
        }
        if not late:
            return
        try:
            with self.db.transaction() as store:
                store.mark_delivered_late(late)
        except Exception as exc:  # the delivery stands (the ledger has it); only the flag is missing
            obs.log().warning("could not mark recovered events late", extra={"error": str(exc)[:300]})

    # 4. PostgreSQL: the whole batch in a handful of statements; if that fails, event by event
    def _write(self, jobs: list[Job]) -> None:
        writing = [job for job in jobs if job.fate in WRITES and job.event]
        if not writing:
            return
        try:
            self._write_together(writing)
        except Exception as exc:
            obs.log().warning("batch write failed; writing event by event", extra={"error": str(exc)[:300]})
            self._write_one_by_one(writing)

    def _new_state(self, job: Job, now: datetime) -> tuple[Event, bool]:
        event = job.event
        assert event is not None
        if job.fate in (Fate.COMPLETED, Fate.COMPLETED_FROM_LEDGER):
            attempts = job.attempt if job.outcome else max(event.attempts, job.ledger_attempt)
        elif job.fate is Fate.FAILED:
            attempts = job.attempt if job.outcome else event.attempts
        else:
            attempts = job.attempt
        lease = now + (job.retry_in or timedelta(0)) + self.policy.lease
        return transition(
            event, job.fate, now, attempts=attempts, reason=job.reason,
            delivered_at=job.delivered_at, lease_until=lease,
        )  # fmt: skip

    def _write_together(self, jobs: list[Job]) -> None:
        """One round trip locks, writes and reads what planning needs; then the planned inserts."""
        with self.db.transaction() as store:
            now = self.clock.now()
            changes = [(job, *self._new_state(job, now)) for job in jobs]
            schedule_ids, since = planning_asks([new for _, new, terminal in changes if terminal])
            batch = store.finish_batch(
                (job.event.user_id for job in jobs if job.event),
                [(new, job.event.version) for job, new, _ in changes if job.event],
                schedule_ids,
                since,
            )
            for job, new, _ in changes:
                if new.id not in batch.written:
                    _note_moved(job)
            finished = [new for _, new, terminal in changes if terminal and new.id in batch.written]
            plan_following(store, self.builtins, finished, batch.users, now, batch.reads)

    def _write_one_by_one(self, jobs: list[Job]) -> None:
        """Each event in a savepoint, so one bad event fails only its own message."""
        try:
            with self.db.transaction() as store:
                users = _lock_users(store, jobs)
                now = self.clock.now()
                for job in jobs:
                    try:
                        with store.savepoint():
                            self._write_one(store, job, users, now)
                    except Exception as exc:
                        job.fail_step(f"could not finalise in PostgreSQL: {exc}")
        except Exception as exc:
            for job in jobs:
                job.fail_step(f"could not finalise in PostgreSQL: {exc}")

    def _write_one(self, store: Store, job: Job, users: dict[UUID, User], now: datetime) -> None:
        assert job.event is not None
        new, terminal = self._new_state(job, now)
        if not store.update_event(new, job.event.version):
            _note_moved(job)
        elif terminal:
            self._schedule_following(store, [new], users, now)

    def _schedule_following(
        self, store: Store, finished: list[Event], users: dict[UUID, User], now: datetime
    ) -> None:
        """Every terminal state plans its series' next occurrence (services/scheduling.py)."""
        plan_following(store, self.builtins, finished, users, now)

    # 5. the DLQ, once FAILED is stored
    def _to_dlq(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.fate not in TO_DLQ:
                continue
            try:
                self.dlq.send(job.body, {"failureReason": job.reason[:256], "messageId": job.message_id})
            except Exception as exc:
                job.fail_step(f"could not move to the DLQ: {exc}")

    # 6. what comes back, and when
    def _come_back(self, jobs: list[Job]) -> list[str]:
        failed = []
        for job in jobs:
            if job.fate is Fate.UNPROCESSED:
                # The receive count paces these: an outage's retries back off like any other.
                job.retry_in = self.policy.backoff.delay(job.receive_count, None, self.rng)
            elif job.fate not in (Fate.DEFERRED, Fate.EARLY, Fate.HELD):
                continue
            failed.append(job.message_id)
            seconds = int((job.retry_in or timedelta(0)).total_seconds())
            try:
                self.queue.change_visibility(job.receipt_handle, seconds)
            except Exception as exc:  # it still comes back, after the queue's own visibility timeout
                obs.log().warning(
                    "could not set the retry delay", extra=job.log_fields() | {"error": str(exc)[:300]}
                )
        return failed


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
        job.decide(Fate.FAILED, str(exc))
    return job


def _leases(
    jobs: list[Job], events: dict[UUID, Event], now: datetime, lease: timedelta
) -> list[tuple[Message, datetime]]:
    """The leases the received current messages extend (domain/fate.lease_on_receive)."""
    held = []
    for job in jobs:
        event = events.get(job.message.event_id) if job.message else None
        if job.message and event and is_current(job.message, event):
            until = lease_on_receive(event, now, lease)
            if until is not None:
                held.append((job.message, until))
    return held


def _attempt(job: Job, pair: Pair, outcome: Outcome, at: datetime) -> Attempt:
    assert job.message is not None
    return Attempt(
        event_id=job.message.event_id,
        idempotency_key=pair.key,
        attempt=job.attempt,
        attempted_at=at,
        outcome=outcome.verdict.value,
        status_code=outcome.status_code,
        error=outcome.error,
        latency_ms=outcome.latency_ms,
        endpoint_id=pair.endpoint.id if pair.endpoint else None,
        response_body=outcome.response_body,
    )


def _repeat(job: Job) -> bool:
    """A re-send that delivered nothing new: the ledger had it, or a replay of what was
    delivered. Not counted as a completion (a recovery's delivery is, late if it is)."""
    if not job.resend or job.message is None:
        return False
    return job.message.replay or job.fate is Fate.COMPLETED_FROM_LEDGER


def _whole_seconds(wait: timedelta) -> timedelta:
    """SQS hides a message for whole seconds: rounded up, so it never comes back too early."""
    return timedelta(seconds=math.ceil(wait.total_seconds()))


def _lock_users(store: Store, jobs: list[Job]) -> dict[UUID, User]:
    return store.users_by_ids((job.event.user_id for job in jobs if job.event), lock=True)


def _note_moved(job: Job) -> None:
    job.reason = f"{job.reason}; {_MOVED}" if job.reason else _MOVED


def _report(jobs: list[Job]) -> None:
    values: list[tuple[str, Any, float]] = []
    for job in jobs:
        fields = job.log_fields()
        fate = job.fate
        if job.retry_in is not None:
            fields["retryInSeconds"] = int(job.retry_in.total_seconds())
        completed = fate in (Fate.COMPLETED, Fate.COMPLETED_FROM_LEDGER) and not _repeat(job)
        if completed and job.event and job.delivered_at:
            lateness = (job.delivered_at - job.event.target_utc).total_seconds()
            late = is_late(job.event.target_utc, job.delivered_at)
            fields |= {"late": late, "latenessSeconds": round(lateness, 3)}
            values += [("Completed", obs.Count, 1), ("LatenessSeconds", obs.Seconds, lateness)]
            if late:
                values.append(("CompletedLate", obs.Count, 1))
        elif fate is Fate.FAILED or fate is Fate.DEAD_LETTERED:  # one count per message into the DLQ
            values.append(("Failed", obs.Count, 1))
        elif fate is Fate.SKIPPED:
            values.append(("Skipped", obs.Count, 1))
        elif fate is Fate.DEFERRED:
            values.append(("Deferred", obs.Count, 1))
        elif fate is Fate.DROPPED:
            values.append(("Dropped", obs.Count, 1))
        elif fate is Fate.HELD:
            values.append(("Held", obs.Count, 1))
        elif fate is Fate.UNPROCESSED:
            values.append(("Unprocessed", obs.Count, 1))
        if job.outcome is not None:
            values.append(("DeliveryLatencyMs", obs.Milliseconds, job.outcome.latency_ms))
        level = "error" if fate is Fate.UNPROCESSED else "warning" if fate in TO_DLQ else "info"
        getattr(obs.log(), level)(f"event {fate.value}", extra=fields)
    obs.emit(values)
