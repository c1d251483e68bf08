"""Endpoint use cases: create, read, list, change, delete, and the signing secrets (read,
rotate with a grace period), each in one transaction."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from chalicelib.domain.delivery import Message
from chalicelib.domain.endpoints import (
    STATS_WINDOW,
    AttemptFacts,
    DestinationRules,
    Endpoint,
    EndpointFields,
    EndpointStats,
    Secret,
    endpoint_stats,
)
from chalicelib.domain.errors import Conflict, NotFound, Unavailable, ValidationError
from chalicelib.domain.events import Status
from chalicelib.domain.instants import iso_utc
from chalicelib.ports import Clock, Database, DeliveryLedger, Notices, Queue, Store

SECRET_BYTES = 32
RECOVERY_WINDOW = timedelta(days=30)
"""As far back as the ledger remembers successes (adapters/ledger.RETENTION): older, a recovery
could not tell what the endpoint has."""
RECOVERY_PAGE = 500


@dataclass(frozen=True)
class EndpointPage:
    items: list[Endpoint]
    last_id: UUID | None
    """The id to continue after, when there may be more."""


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: `whsec_` + base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def create_endpoint(
    db: Database, clock: Clock, fields: EndpointFields, draw: Callable[[], str] = new_secret
) -> Endpoint:
    now = clock.now()
    endpoint = Endpoint(uuid.uuid4(), fields, (Secret(draw(), now),), True, 1, now, now)
    with db.transaction() as store:
        store.insert_endpoint(endpoint)
    return endpoint


def get_endpoint(db: Database, endpoint_id: UUID) -> Endpoint:
    with db.transaction() as store:
        return _found(store.get_endpoint(endpoint_id))


def list_endpoints(db: Database, limit: int, after: UUID | None) -> EndpointPage:
    with db.transaction() as store:
        found = store.list_endpoints(limit, after)
    return EndpointPage(found, found[-1].id if len(found) == limit else None)


def change_endpoint(
    db: Database, clock: Clock, endpoint_id: UUID, change: Callable[[EndpointFields], EndpointFields]
) -> Endpoint:
    """PATCH: the worker reads the new fields from its next batch on."""
    with db.transaction() as store:
        current = _locked(store, endpoint_id)
        changed = current.change(change(current.fields), clock.now())
        store.update_endpoint(changed)
    return changed


def delete_endpoint(db: Database, clock: Clock, endpoint_id: UUID) -> None:
    """Nothing more is sent to it; its deliveries' history stays in the ledger."""
    with db.transaction() as store:
        _locked(store, endpoint_id)
        store.delete_endpoint(endpoint_id, clock.now())


def secrets_in_force(db: Database, clock: Clock, endpoint_id: UUID) -> tuple[datetime, tuple[Secret, ...]]:
    """The secrets that sign now, newest first, and that `now`."""
    now = clock.now()
    return now, get_endpoint(db, endpoint_id).secrets_in_force(now)


def rotate_secret(
    db: Database, clock: Clock, endpoint_id: UUID, grace: timedelta, draw: Callable[[], str] = new_secret
) -> tuple[Secret, ...]:
    """A new secret signs from now; the old ones sign beside it until the grace ends."""
    now = clock.now()
    with db.transaction() as store:
        rotated = _locked(store, endpoint_id).rotate(draw(), grace, now)
        store.update_endpoint(rotated)
    return rotated.secrets_in_force(now)


def enable_endpoint(
    db: Database,
    clock: Clock,
    notices: Notices,
    queue: Queue,
    endpoint_id: UUID,
    max_event_age: timedelta,
) -> Endpoint:
    """Delivered to again from the next batch on, and what was held while it was disabled is
    sent: every event of its types that finished since it was disabled is queued to it, and the
    worker sends those it has not had, each once, with its original webhook-id (as a recovery
    does). What failed before it was disabled waits for a recovery (`recover`)."""
    now = clock.now()
    with db.transaction() as store:
        current = _locked(store, endpoint_id)
        enabled = current.enable(now)
        store.update_endpoint(enabled)
    announce(notices, "endpoint.enabled", endpoint_id, now)
    if current.disabled_at is not None:
        held_since = current.disabled_at
        # Finished since then, so targeted at most MAX_EVENT_AGE before (older ones are skipped).
        since = max(held_since - max_event_age, now - RECOVERY_WINDOW, current.created_at)
        try:
            _queue_finished(db, queue, current, since, held_since)
        except QueueUnavailable:
            raise QueueUnavailable(
                f"the endpoint is enabled, but not all it missed since {iso_utc(held_since)} was queued:"
                " recover since then (nothing is sent twice)"
            ) from None
    return enabled


def announce(notices: Notices | None, kind: str, endpoint_id: UUID, at: datetime) -> None:
    """An operational event: logged always (what `make run` prints), published to the
    operations topic when there is one; a topic that cannot be reached loses only its copy."""
    from chalicelib import observability as obs  # here: importing the API loads no Powertools

    notice = {"type": kind, "endpointId": str(endpoint_id), "at": iso_utc(at)}
    obs.log().warning(kind, extra=notice)
    if notices is None:
        return
    try:
        notices.publish(kind, endpoint_id, at)
    except Exception as exc:
        obs.log().error("the operations topic is unreachable", extra=notice | {"error": str(exc)[:300]})


class QueueUnavailable(Unavailable):
    """The delivery queue refused messages."""

    what = "the delivery queue"


def recover(db: Database, clock: Clock, queue: Queue, endpoint_id: UUID, since: datetime) -> int:
    """Sends every finished event of the endpoint's types targeted since `since` (and since the
    endpoint was created) to it again, each as its own message; the worker skips those the
    endpoint has already (the ledger), so what failed or was held arrives, each once, with its
    original webhook-id. Returns how many were queued."""
    if clock.now() - since > RECOVERY_WINDOW:
        raise ValidationError.single("since", f"must be within the ledger's {RECOVERY_WINDOW.days} days")
    endpoint = get_endpoint(db, endpoint_id)
    return _queue_finished(db, queue, endpoint, max(since, endpoint.created_at))


def _queue_finished(
    db: Database, queue: Queue, endpoint: Endpoint, since: datetime, finished_since: datetime | None = None
) -> int:
    """Queues each finished event of the endpoint's types targeted since `since` (and, given
    `finished_since`, finished since then) to it, as its own message; returns how many."""
    queued, after = 0, None
    while True:
        with db.transaction() as store:
            page = store.finished_events(
                endpoint.fields.event_types, since, after, RECOVERY_PAGE, finished_since
            )
        bodies = [Message(e.id, e.version, e.idempotency_key, endpoint.id).encode() for e in page]
        for start in range(0, len(bodies), 10):
            if queue.send_batch(bodies[start : start + 10]):
                raise QueueUnavailable(
                    "some messages were not accepted; recover again (nothing is sent twice)"
                )
        queued += len(bodies)
        if len(page) < RECOVERY_PAGE:
            return queued
        after = (page[-1].target_utc, page[-1].id)


def replay(db: Database, queue: Queue, event_id: UUID, endpoint_id: UUID) -> None:
    """Sends one finished event to the endpoint again, with its original webhook-id, even if the
    endpoint has it (a receiver that does ignores it)."""
    with db.transaction() as store:
        event = store.get_event(event_id)
        if event is None:
            raise NotFound("no such event")
        _found(store.get_endpoint(endpoint_id))
    if event.status not in (Status.COMPLETED, Status.FAILED):
        raise Conflict(f"only a finished event is sent again; this one is {event.status}")
    queue.send(Message(event.id, event.version, event.idempotency_key, endpoint_id, replay=True).encode())


def stats(db: Database, clock: Clock, ledger: DeliveryLedger, endpoint_id: UUID) -> EndpointStats:
    """The last 24 hours of attempts to the endpoint, from the ledger."""
    get_endpoint(db, endpoint_id)
    found = ledger.attempts_for_endpoint(endpoint_id, clock.now() - STATS_WINDOW)
    facts = [
        AttemptFacts(a.attempted_at, a.outcome == "success", a.latency_ms, _failure(a.status_code, a.error))
        for a in found
    ]
    return endpoint_stats(facts)


def _failure(status: int | None, error: str | None) -> str | None:
    if status is not None:
        return f"HTTP {status}" + (f": {error}" if error else "")
    return error


def _locked(store: Store, endpoint_id: UUID) -> Endpoint:
    return _found(store.get_endpoint(endpoint_id, lock=True))


def _found(endpoint: Endpoint | None) -> Endpoint:
    if endpoint is None:
        raise NotFound("no such endpoint")
    return endpoint


@dataclass(frozen=True)
class Endpoints:
    """The endpoint use cases bound to their ports: what the container builds and the routes
    call. The queue, the ledger and the operations topic are built only by the routes that use
    them (recover, replay and enable; stats; enable)."""

    db: Database
    clock: Clock
    rules: DestinationRules
    queue: Callable[[], Queue]
    ledger: Callable[[], DeliveryLedger]
    notices: Callable[[], Notices]
    max_event_age: timedelta
    """The stage's MAX_EVENT_AGE: how far before an endpoint was disabled `enable` reaches."""

    def now(self) -> datetime:
        return self.clock.now()

    def create(self, fields: EndpointFields) -> Endpoint:
        return create_endpoint(self.db, self.clock, fields)

    def get(self, endpoint_id: UUID) -> Endpoint:
        return get_endpoint(self.db, endpoint_id)

    def list(self, limit: int, after: UUID | None) -> EndpointPage:
        return list_endpoints(self.db, limit, after)

    def change(self, endpoint_id: UUID, change: Callable[[EndpointFields], EndpointFields]) -> Endpoint:
        return change_endpoint(self.db, self.clock, endpoint_id, change)

    def delete(self, endpoint_id: UUID) -> None:
        delete_endpoint(self.db, self.clock, endpoint_id)

    def secrets(self, endpoint_id: UUID) -> tuple[datetime, tuple[Secret, ...]]:
        return secrets_in_force(self.db, self.clock, endpoint_id)

    def rotate(self, endpoint_id: UUID, grace: timedelta) -> tuple[Secret, ...]:
        return rotate_secret(self.db, self.clock, endpoint_id, grace)

    def stats(self, endpoint_id: UUID) -> EndpointStats:
        return stats(self.db, self.clock, self.ledger(), endpoint_id)

    def enable(self, endpoint_id: UUID) -> Endpoint:
        queue, notices = self.queue(), self.notices()
        return enable_endpoint(self.db, self.clock, notices, queue, endpoint_id, self.max_event_age)

    def recover(self, endpoint_id: UUID, since: datetime) -> int:
        return recover(self.db, self.clock, self.queue(), endpoint_id, since)

    def replay(self, event_id: UUID, endpoint_id: UUID) -> None:
        replay(self.db, self.queue(), event_id, endpoint_id)
