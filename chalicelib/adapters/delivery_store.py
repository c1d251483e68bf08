"""The pipeline's reads and writes on a `Store` (one transaction), batched by id."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from chalicelib.adapters.postgres import Store, event_from_row, user_from_row
from chalicelib.adapters.sql_files import queries
from chalicelib.domain.events import Event
from chalicelib.domain.users import User


def events_by_ids(store: Store, ids: Iterable[UUID]) -> dict[UUID, Event]:
    rows = store.all(queries()["events_by_ids"], {"ids": list(set(ids))})
    return {row["id"]: event_from_row(row) for row in rows}


def users_by_ids(store: Store, ids: Iterable[UUID], *, lock: bool = False) -> dict[UUID, User]:
    """Live (not deleted) users; `lock` takes their row locks in id order, as the user services do."""
    rows = store.all(queries()["lock_users" if lock else "users_by_ids"], {"ids": sorted(set(ids))})
    return {row["id"]: user_from_row(row) for row in rows}


def other_active_event(store: Store, event: Event) -> bool:
    row = store.one(
        queries()["other_active_event"],
        {"user_id": event.user_id, "event_type": event.event_type, "id": event.id},
    )
    return bool(row and row["found"])
