"""POST /user/import: many users in one transaction per chunk, idempotent on externalId.

Per chunk: one locked read of the live users holding the chunk's externalIds; new users in
one INSERT and their events in another; a user whose fields differ is changed as PUT would
change it (its events follow only if a date or the zone changed); the same fields are left
alone. Requests are at most 1,000 users, so a chunk is a request.

The import updates only the users it created (`User.managed_by_import`): a live user made
otherwise (POST /user, or given its externalId by PUT or PATCH) is a `conflict`, unless the
team sends `adopt`, after which that user is the import's too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.errors import Conflict, FieldError, SchedulerError, ValidationError
from chalicelib.domain.users import User, UserFields
from chalicelib.ports import Clock, Database
from chalicelib.services.scheduling import first_events, sync_user

MAX_IMPORT = 1000
_ATTEMPTS = 3


@dataclass(frozen=True)
class Result:
    index: int
    status: str
    """created, unchanged, updated, invalid, or conflict (a user the import did not create)."""
    id: UUID | None = None
    error: SchedulerError | None = None


class _Raced(Exception):
    """Another transaction took one of the chunk's externalIds between our read and insert."""


def import_users(
    db: Database,
    clock: Clock,
    builtins: BuiltIns,
    parsed: list[UserFields | ValidationError],
    adopt: bool = False,
) -> list[Result]:
    """`parsed` is the request's users in order, each either valid fields or why it is not;
    `adopt` lets the import update (and own) live users it did not create."""
    results: dict[int, Result] = {}
    wanted: dict[str, int] = {}
    for index, item in enumerate(parsed):
        if isinstance(item, ValidationError):
            results[index] = Result(index, "invalid", error=item)
        elif item.external_id in wanted:
            first = wanted[item.external_id]
            error = ValidationError.single("externalId", f"appears earlier in this request, at index {first}")
            results[index] = Result(index, "invalid", error=error)
        else:
            assert item.external_id is not None
            wanted[item.external_id] = index
    valid = {index: parsed[index] for index in wanted.values()}
    for attempt in range(_ATTEMPTS):
        try:
            results.update(_write(db, clock, builtins, valid, adopt))
            break
        except _Raced:
            if attempt == _ATTEMPTS - 1:
                raise Conflict("other requests keep taking these externalIds; send the users again") from None
    return [results[index] for index in range(len(parsed))]


def _write(
    db: Database, clock: Clock, builtins: BuiltIns, valid: dict[int, Any], adopt: bool
) -> dict[int, Result]:
    now = clock.now()
    results: dict[int, Result] = {}
    with db.transaction() as store:
        found = store.lock_users_by_external_ids([f.external_id for f in valid.values()])
        existing = {u.external_id: u for u in found}
        new_users: list[User] = []
        for index, fields in valid.items():
            current = existing.get(fields.external_id)
            if current is None:
                user = User(uuid.uuid4(), fields, created_at=now, updated_at=now, managed_by_import=True)
                new_users.append(user)
                results[index] = Result(index, "created", user.id)
            elif not current.managed_by_import and not adopt:
                results[index] = Result(index, "conflict", error=not_the_imports())
            elif current.fields == fields and current.managed_by_import:
                results[index] = Result(index, "unchanged", current.id)
            else:
                changed = current.imported(fields, now)
                store.update_user(changed)  # an adoption alone writes only the ownership
                if changed.fields != current.fields:
                    sync_user(store, builtins, changed, now)
                status = "updated" if changed.fields != current.fields else "unchanged"
                results[index] = Result(index, status, current.id)
        if len(store.insert_users(new_users, now)) != len(new_users):
            raise _Raced()  # rolls the chunk back; the next attempt reads the winner's users
        audiences = store.audience_schedules() if new_users else []
        store.insert_events([e for user in new_users for e in first_events(builtins, user, now, audiences)])
    return results


def not_the_imports() -> Conflict:
    """The refusal of a live user the import did not create: it may belong to someone who set
    this externalId, so only the team may hand it over."""
    detail = (
        "belongs to a user the import did not create (made by POST /user, or given this externalId"
        ' by PUT or PATCH); to let the import update it, send it again with "adopt": true'
        " (scripts/import_users.py --adopt)"
    )
    return Conflict(
        "a user the import did not create has this externalId", [FieldError("externalId", detail)]
    )


@dataclass(frozen=True)
class Imports:
    """POST /user/import bound to its ports: what the container builds and the route calls."""

    db: Database
    clock: Clock
    builtins: BuiltIns

    def now(self) -> datetime:
        return self.clock.now()

    def run(self, parsed: list[UserFields | ValidationError], adopt: bool = False) -> list[Result]:
        return import_users(self.db, self.clock, self.builtins, parsed, adopt)
