"""Event use cases for operators: read one, retry a FAILED one (attempts come from the ledger)."""

from __future__ import annotations

from uuid import UUID

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.events import Event
from chalicelib.ports import Clock, Database


def get_event(db: Database, event_id: UUID) -> Event:
    with db.transaction() as store:
        event = store.get_event(event_id)
    if event is None:
        raise NotFound("no event with that id")
    return event


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
