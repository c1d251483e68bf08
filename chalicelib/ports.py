"""What the services need from the outside world, stated as protocols.

The layers (docs/delivery.md): domain ← ports ← services ← api and handlers. Adapters
implement these protocols and import only the domain and this module; bootstrap builds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from chalicelib.domain.audience import Audience, ZoneProgress
from chalicelib.domain.delivery import Message, Outcome
from chalicelib.domain.endpoints import Endpoint
from chalicelib.domain.events import Event, EventFilter, Status
from chalicelib.domain.idempotency import IdempotentRequest, KeptResponse, KeyRecord
from chalicelib.domain.instants import iso_utc
from chalicelib.domain.overview import Finished, Lateness, QueueCounts
from chalicelib.domain.schedules import Schedule
from chalicelib.domain.series import KnownEvent
from chalicelib.domain.users import User


@dataclass(frozen=True)
class Claimed:
    """An event the sweeper just claimed (or re-queued): its message, and when it is meant to arrive."""

    message: Message
    target_utc: datetime
    due_utc: datetime
    """When the worker may deliver it: its message is delayed until then."""


@dataclass(frozen=True)
class Materialised:
    """One batch of an audience zone's members: the last user scanned (the keyset to go on
    after), how many were scanned, and the events written, claimed, for the sweeper to send."""

    last_user: UUID | None
    scanned: int
    claims: list[Claimed]


@dataclass(frozen=True)
class ScheduleFilter:
    """GET /schedules' filters; None means "any"."""

    audience: bool | None = None
    event_type: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class PlanningReads:
    """What planning the series' next occurrences after a batch reads (services/scheduling.py)."""

    schedules: dict[UUID, Schedule]
    known: list[KnownEvent]


@dataclass(frozen=True)
class FinishedBatch:
    """The worker's write of a batch: the users it locked, the events written, and the reads
    planning their series' next occurrences needs."""

    users: dict[UUID, User]
    written: set[UUID]
    reads: PlanningReads


class Store(Protocol):
    """Every read and write of one PostgreSQL transaction, by name; returns domain objects.

    The one implementation is `chalicelib.adapters.postgres.Store`, the only module that names
    a query (chalicelib/sql/queries/*.sql).
    """

    # users
    def insert_user(self, user: User) -> None: ...

    def get_user(self, user_id: UUID, *, lock: bool = False) -> User | None:
        """`lock` takes the user's row lock: every change to a user's events holds it first."""
        ...

    def update_user(self, user: User) -> None: ...

    def delete_user(self, user_id: UUID, now: datetime) -> bool:
        """Deletes the user and their schedules (their events are the caller's to cancel)."""
        ...

    def list_users(self, limit: int, after: UUID | None) -> list[User]: ...

    def users_by_ids(self, ids: Iterable[UUID], *, lock: bool = False) -> dict[UUID, User]:
        """Live users; `lock` takes their row locks in id order (so two workers never deadlock)."""
        ...

    def user_by_external_id(self, external_id: str) -> User | None:
        """The live user with this externalId."""
        ...

    def lock_users_by_external_ids(self, external_ids: Sequence[str]) -> list[User]:
        """Live users with these externalIds, locked in id order, in one statement."""
        ...

    def insert_users(self, users: Sequence[User], now: datetime) -> set[UUID]:
        """New users in one statement; the ids inserted (a user whose externalId another
        transaction took meanwhile is left out)."""
        ...

    # events
    def insert_events(self, events: Sequence[Event]) -> None:
        """New events, in one statement: the one way events are written first."""
        ...

    def list_events(self, where: EventFilter, limit: int) -> list[Event]:
        """GET /events: a page in (target_utc, id) order."""
        ...

    def update_event(self, event: Event, expected_version: int) -> bool:
        """Writes `event` if the row is still at `expected_version`; False if it moved on."""
        ...

    def save_event(self, event: Event, expected_version: int) -> None:
        """Like `update_event`, for callers that hold the row's lock: losing is a Conflict."""
        ...

    def get_event(self, event_id: UUID) -> Event | None: ...

    def events_by_ids(self, ids: Iterable[UUID]) -> dict[UUID, Event]: ...

    def events_for_user(self, user_id: UUID) -> list[Event]: ...

    def active_events_for_user(self, user_id: UUID) -> list[Event]:
        """PENDING and PROCESSING events, locked for this transaction."""
        ...

    def known_events(self, user_ids: Iterable[UUID], since: datetime) -> list[KnownEvent]:
        """The users' events targeted at or after `since`: what planning after `since` plus a
        margin must know (domain/series.py)."""
        ...

    # schedules
    def insert_schedule(self, schedule: Schedule) -> None: ...

    def update_schedule(self, schedule: Schedule) -> None: ...

    def get_schedule(self, schedule_id: UUID) -> Schedule | None:
        """A schedule that is not deleted."""
        ...

    def delete_schedule(self, schedule_id: UUID, now: datetime) -> None: ...

    def list_schedules(self, user_id: UUID, limit: int, after: UUID | None) -> list[Schedule]:
        """A user's schedules in id order, after the id `after`."""
        ...

    def schedules_for_users(self, user_ids: Iterable[UUID]) -> dict[UUID, list[Schedule]]: ...

    def schedules_by_ids(self, ids: Iterable[UUID]) -> dict[UUID, Schedule]: ...

    def end_schedules(self, ids: Sequence[UUID], now: datetime) -> None:
        """Active schedules whose rule has nothing more to deliver become `ended`."""
        ...

    def next_events_of_schedules(self, ids: Sequence[UUID]) -> dict[UUID, Event]:
        """Each schedule's earliest PENDING or PROCESSING event."""
        ...

    # endpoints
    def insert_endpoint(self, endpoint: Endpoint) -> None: ...

    def update_endpoint(self, endpoint: Endpoint) -> None: ...

    def get_endpoint(self, endpoint_id: UUID, *, lock: bool = False) -> Endpoint | None:
        """A live (not deleted) endpoint; `lock` takes its row lock."""
        ...

    def delete_endpoint(self, endpoint_id: UUID, now: datetime) -> None: ...

    def list_endpoints(self, limit: int, after: UUID | None) -> list[Endpoint]:
        """Live endpoints in id order, after the id `after`."""
        ...

    def live_endpoints(self) -> list[Endpoint]:
        """Every live endpoint, enabled or not, in id order (what the worker fans out to)."""
        ...

    def mark_endpoint_failing(self, endpoint_id: UUID, at: datetime) -> bool:
        """Its first failure after a success: True if this call marked it (once)."""
        ...

    def mark_endpoint_healthy(self, endpoint_id: UUID) -> None: ...

    def disable_failing_endpoint(self, endpoint_id: UUID, now: datetime, cutoff: datetime) -> bool:
        """Disables it if it is enabled and failing since `cutoff` or before; True if this call did."""
        ...

    def finished_events(
        self,
        types: Sequence[str] | None,
        since: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
        finished_since: datetime | None = None,
    ) -> list[Event]:
        """COMPLETED and FAILED events of these types (None: every type) targeted at or after
        `since`, in (target_utc, id) order after `after`: what a recovery sends again; with
        `finished_since`, only those whose last change (their finish) came at or after it."""
        ...

    def mark_delivered_late(self, delivered: dict[UUID, datetime]) -> None:
        """These COMPLETED events reached an endpoint late, at these instants, through a
        recovery: each counts as late from now on, delivered at the later of its two times."""
        ...

    def lock_rates(self, endpoint_ids: Sequence[UUID], now: datetime) -> dict[UUID, datetime]:
        """Each rate-limited endpoint's next free slot (`now` for one never limited before),
        locked for this transaction: every worker container takes its slots here."""
        ...

    def set_rates(self, tats: dict[UUID, datetime]) -> None: ...

    # audience schedules (services/audiences.py, services/materialiser.py)
    def audience_schedules(self) -> list[Schedule]:
        """The audience schedules that are not paused (active or ended)."""
        ...

    def list_all_schedules(self, where: ScheduleFilter, limit: int, after: UUID | None) -> list[Schedule]:
        """GET /schedules: users' and audience schedules in id order, after the id `after`."""
        ...

    def lock_schedule(self, schedule_id: UUID, *, shared: bool = False) -> Schedule | None:
        """A schedule that is not deleted, its row locked: to change its events, or `shared`
        for a sweep's batch of them."""
        ...

    def audience_zones(self, audience: Audience) -> list[str]:
        """The zones where the audience has a member now."""
        ...

    def audience_progress(self, schedule_id: UUID) -> dict[str, ZoneProgress]: ...

    def save_audience_progress(
        self, schedule_id: UUID, progress: Sequence[ZoneProgress], now: datetime
    ) -> None: ...

    def forget_audience_progress(self, schedule_id: UUID) -> None: ...

    def materialise_audience(
        self, schedule: Schedule, progress: ZoneProgress, limit: int, now: datetime, lease: timedelta
    ) -> Materialised:
        """The next `limit` of the zone's members after `progress.after_user` get its current
        occurrence, unless they have it, as events already claimed (`Event.claim`, leased for
        `lease` from when each is due)."""
        ...

    def cancel_schedule_events(self, schedule_id: UUID, now: datetime) -> int:
        """The schedule's PENDING and PROCESSING events become CANCELLED; how many."""
        ...

    def count_audience(self, audience: Audience) -> int:
        """Live users the audience includes now."""
        ...

    def count_occurrence_events(self, schedule_id: UUID, local_date: date) -> dict[Status, int]:
        """A local date's events of the schedule, by status."""
        ...

    # the sweeper
    def count_due(self, now: datetime, horizon: datetime) -> int:
        """PENDING events due by `horizon` plus PROCESSING events whose lease ran out or whose
        message never reached the queue (`Event.unsent`)."""
        ...

    def claim_due(self, now: datetime, horizon: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """PENDING → PROCESSING for up to `limit` events due by `horizon` (`Event.claim`, in
        bulk), each leased for `lease` from when it is due (`Event.lease_from`)."""
        ...

    def resend_unsent(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """A new version for claims whose message never reached the queue (`mark_unsent`)."""
        ...

    def requeue_expired(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """PROCESSING → PROCESSING, a new version, for sent claims whose lease ran out, oldest
        first (`Event.requeue`, in bulk)."""
        ...

    def count_expecting_a_message(self) -> int:
        """PROCESSING events whose message reached the queue."""
        ...

    def mark_unsent(self, claims: Sequence[Message]) -> None:
        """These claims' messages never reached the queue: `unsent`, so the next sweep sends
        them first."""
        ...

    def record_sweep(self, finished_at: datetime, summary: dict[str, Any]) -> None:
        """The run that finished at `finished_at`, over the one before (an older one finishing
        late changes nothing)."""
        ...

    # GET /overview (services/overview.py)
    def due_by_hour(self, hours: Sequence[datetime], until: datetime) -> dict[datetime, int]:
        """PENDING and PROCESSING events due before `until`, counted in the last of `hours`
        (their starts, in order) each falls in or after; any due before the first, in it."""
        ...

    def finished_by_hour(self, hours: Sequence[datetime], until: datetime) -> dict[datetime, Finished]:
        """COMPLETED, FAILED and SKIPPED events that finished from the first of `hours` (their
        starts, in order) until `until`, by hour."""
        ...

    def lateness(self, since: datetime, until: datetime) -> Lateness:
        """Of the events COMPLETED in [since, until)."""
        ...

    def last_sweep(self) -> datetime | None:
        """When the last sweep finished (`record_sweep`)."""
        ...

    # the worker
    def extend_leases(self, leases: Sequence[tuple[Message, datetime]]) -> None:
        """Each message's event, if still PROCESSING at its version, is held until at least
        the given instant (never shortened, no version bump). A row another transaction holds
        is skipped: that one is changing it anyway."""
        ...

    def finish_events(self, changes: Sequence[tuple[Event, int]]) -> set[UUID]:
        """Each (new state, expected version) written where the row is still at that version;
        returns the ids written."""
        ...

    def finish_batch(
        self,
        user_ids: Iterable[UUID],
        changes: Sequence[tuple[Event, int]],
        schedule_ids: Iterable[UUID],
        since: datetime | None,
    ) -> FinishedBatch:
        """In this order, in one round trip: the users' locks (in id order), `finish_events`,
        the schedules by id, and the users' events targeted at or after `since` (none if None)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an error inside undoes only what it wrote."""
        ...

    # Idempotency-Key (services/idempotency.py)
    def claim_idempotency_key(self, request: IdempotentRequest, now: datetime) -> bool:
        """Stores the key for this request unless the caller has it already (True: stored). A
        key another transaction holds uncommitted makes this wait for that one to end."""
        ...

    def lock_idempotency_key(self, caller: str, key: str) -> KeyRecord | None:
        """The caller's key as stored, locked for this transaction."""
        ...

    def renew_idempotency_key(self, request: IdempotentRequest, now: datetime) -> None:
        """An expired key (locked) taken anew for this request, its kept answer dropped."""
        ...

    def keep_idempotent_response(self, request: IdempotentRequest, response: KeptResponse) -> None: ...

    def forget_idempotency_keys(self, created_before: datetime, limit: int) -> int:
        """Deletes up to `limit` keys created before that instant, oldest first; how many."""
        ...


class Database(Protocol):
    """The way in to PostgreSQL: one transaction at a time, each a `Store`."""

    def transaction(self) -> AbstractContextManager[Store]:
        """Commits on exit, rolls back on error; unique violations arrive as `Conflict`,
        an unreachable database as `Unavailable`. Inside `outer_transaction()`, in the same
        context, it joins that one instead, as a savepoint."""
        ...

    def outer_transaction(self) -> AbstractContextManager[Store]:
        """A transaction that every `transaction()` opened in the same context (thread, task)
        joins until it ends: a service's writes and the caller's commit or roll back as one."""
        ...

    def ping(self) -> bool: ...


class TokenRejected(Exception):
    """The token is not acceptable; the message says why, for logs only (never for the caller)."""


class KeysUnavailable(TokenRejected):
    """The key set could not be fetched; verification fails closed."""


@dataclass(frozen=True)
class Claims:
    subject: str
    roles: tuple[str, ...]
    email: str | None = None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def sleep_until(self, instant: datetime) -> None:
        """Returns once `instant` has come (at once if it has): a delivery waiting for its
        rate limit slot."""
        ...


@dataclass(frozen=True)
class Received:
    """A message as a consumer sees it, with SQS's attributes (ApproximateReceiveCount, ...)."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]


class Queue(Protocol):
    """One SQS queue (the delivery queue or its DLQ)."""

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        """Sends up to 10 messages, `delays[i]` seconds hidden (SQS DelaySeconds, 0-900; none
        when empty); returns the indexes of those that were not accepted."""
        ...

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None: ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None: ...

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        """What the event source mapping does in AWS: the local runner, tests and tools use it."""
        ...

    def delete(self, receipt_handle: str) -> None: ...

    def depth(self) -> int:
        """Messages in the queue: visible, in flight and delayed (in SQS, approximate)."""
        ...

    def counts(self) -> QueueCounts:
        """The same three counts apart (GET /overview)."""
        ...


@dataclass(frozen=True)
class Attempt:
    """One delivery to one endpoint (a POST, or a message to a team's queue, topic or bus), as
    the delivery ledger keeps it; `idempotency_key` is the pair's (domain/endpoints.delivery_key)."""

    event_id: UUID
    idempotency_key: str
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    latency_ms: float
    endpoint_id: UUID | None = None
    """The endpoint it went to; None for the built-in one (WEBHOOK_URL)."""
    response_body: str | None = None
    """The first KB of the reply (`Outcome.response_body`)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "eventId": str(self.event_id),
            "endpointId": str(self.endpoint_id) if self.endpoint_id else None,
            "idempotencyKey": self.idempotency_key,
            "attempt": self.attempt,
            "attemptedAt": iso_utc(self.attempted_at),
            "outcome": self.outcome,
            "statusCode": self.status_code,
            "error": self.error,
            "latencyMs": round(self.latency_ms, 1),
            "responseBody": self.response_body,
        }


class DeliveryLedger(Protocol):
    def record_attempt(self, attempt: Attempt) -> None: ...

    def record_success(self, attempt: Attempt) -> bool:
        """Writes the key's success once (a conditional put); False if one was already there."""
        ...

    def find_successes(self, keys: Sequence[str]) -> dict[str, Attempt]:
        """The recorded success of each key that has one."""
        ...

    def attempts_for_event(self, event_id: UUID) -> list[Attempt]:
        """Oldest first."""
        ...

    def attempts_for_endpoint(self, endpoint_id: UUID, since: datetime) -> list[Attempt]:
        """Every attempt to this endpoint at or after `since`, oldest first."""
        ...


@dataclass(frozen=True)
class Delivery:
    """What the webhook is sent for one event."""

    idempotency_key: str
    body: bytes


class WebhookSender(Protocol):
    def deliver(self, delivery: Delivery) -> Outcome: ...


class Destinations(Protocol):
    """The senders of the endpoints: one per endpoint as it is now (its destination and the
    secrets in force), kept while it stays so, with its connections."""

    def sender_for(self, endpoint: Endpoint, now: datetime) -> WebhookSender: ...


class Notices(Protocol):
    """Operational events about endpoints (`endpoint.failing`, `endpoint.disabled`,
    `endpoint.enabled`): to the operations topic in AWS, printed locally."""

    def publish(self, kind: str, endpoint_id: UUID, at: datetime, detail: str = "") -> None: ...
