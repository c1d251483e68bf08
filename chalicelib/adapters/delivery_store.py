"""The pipeline's reads and writes on a `Store` (one transaction), batched by id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from chalicelib.adapters.postgres import Store, event_from_row, user_from_row
from chalicelib.adapters.sql_files import queries
from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User


def events_by_ids(store: Store, ids: Iterable[UUID]) -> dict[UUID, Event]:
    rows = store.all(queries()["events_by_ids"], {"ids": list(set(ids))})
    return {row["id"]: event_from_row(row) for row in rows}


def users_by_ids(store: Store, ids: Iterable[UUID], *, lock: bool = False) -> dict[UUID, User]:
    """Live (not deleted) users; `lock` takes their row locks in id order, as the user services do."""
    rows = store.all(queries()["lock_users" if lock else "users_by_ids"], {"ids": sorted(set(ids))})
    return {row["id"]: user_from_row(row) for row in rows}


def finish_events(store: Store, changes: Sequence[tuple[Event, int]]) -> set[UUID]:
    """Writes each new event state if the row is still at the expected version; returns the
    ids written. Only the fields the worker's transitions change are written."""
    if not changes:
        return set()
    events = [new for new, _ in changes]
    params = {
        "ids": [e.id for e in events],
        "expected": [expected for _, expected in changes],
        "statuses": [e.status.value for e in events],
        "versions": [e.version for e in events],
        "attempts": [e.attempts for e in events],
        "leases": [e.lease_until for e in events],
        "delivered": [e.delivered_at for e in events],
        "late": [e.late for e in events],
        "reasons": [e.failure_reason for e in events],
        "updated": [e.updated_at for e in events],
    }
    return {row["id"] for row in store.all(queries()["finish_events"], params)}


@dataclass(frozen=True)
class KnownEvent:
    id: UUID
    user_id: UUID
    event_type: str
    occurrence_date: date
    status: Status


def event_dates_for_users(store: Store, user_ids: Iterable[UUID]) -> list[KnownEvent]:
    rows = store.all(queries()["event_dates_for_users"], {"user_ids": list(set(user_ids))})
    return [
        KnownEvent(r["id"], r["user_id"], r["event_type"], r["occurrence_date"], Status(r["status"]))
        for r in rows
    ]


def insert_events(store: Store, events: Sequence[Event]) -> None:
    if events:
        with store.conn.cursor() as cursor:
            cursor.executemany(queries()["insert_event"].encode(), [_params(e) for e in events])


_EVENT_FIELDS = tuple(Event.__dataclass_fields__)


def _params(event: Event) -> dict[str, object]:
    """`postgres.event_params` without `asdict`'s deep copies (a tenth of the worker's CPU)."""
    params = {name: getattr(event, name) for name in _EVENT_FIELDS}
    params["status"] = event.status.value
    return params
