"""Event use cases for operators: read one, retry a FAILED one (attempts come from the ledger)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.events import Event, EventFilter
from chalicelib.ports import Attempt, Clock, Database, DeliveryLedger


def get_event(db: Database, event_id: UUID) -> Event:
    with db.transaction() as store:
        event = store.get_event(event_id)
    if event is None:
        raise NotFound("no event with that id")
    return event


def list_events(db: Database, where: EventFilter, limit: int) -> list[Event]:
    with db.transaction() as store:
        return store.list_events(where, limit)


def deliveries(ledger: DeliveryLedger, event: Event) -> list[Attempt]:
    return ledger.attempts_for_event(event.id)


def retry_event(db: Database, clock: Clock, event_id: UUID) -> Event:
    """FAILED → PENDING, due now; the same idempotency key, so a receiver that did get it once
    can tell. Holds the user's lock, like every change to a user's events."""
    now = clock.now()
    with db.transaction() as store:
        event = store.get_event(event_id)
        if event is None:
            raise NotFound("no event with that id")
        if store.get_user(event.user_id, lock=True) is None:
            raise Conflict("the event's user was deleted")
        event = store.get_event(event_id)  # again, now that the user's lock is held
        assert event is not None
        retried = event.retry(now)
        store.save_event(retried, event.version)
    return retried


@dataclass(frozen=True)
class Events:
    """The event use cases bound to their ports: what the container builds and the routes call."""

    db: Database
    clock: Clock
    ledger: Callable[[], DeliveryLedger]
    """Asked for only by `deliveries`: the other routes never load the ledger's library."""

    def get(self, event_id: UUID) -> Event:
        return get_event(self.db, event_id)

    def find(self, where: EventFilter, limit: int) -> list[Event]:
        return list_events(self.db, where, limit)

    def retry(self, event_id: UUID) -> Event:
        return retry_event(self.db, self.clock, event_id)

    def deliveries(self, event: Event) -> list[Attempt]:
        """The POSTs the ledger keeps for an event the caller may see (checked before: a 404 or
        403 never reaches the ledger)."""
        return deliveries(self.ledger(), event)
