"""User use cases: create, read, change, delete and list, each in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.errors import NotFound
from chalicelib.domain.events import Event
from chalicelib.domain.users import User, UserFields
from chalicelib.ports import Clock, Database
from chalicelib.services.scheduling import cancel_events, first_events, sync_user


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    last_id: UUID | None
    """The id to continue after, when there may be more."""


def create_user(db: Database, clock: Clock, builtins: BuiltIns, fields: UserFields) -> User:
    now = clock.now()
    user = User(id=uuid.uuid4(), fields=fields, created_at=now, updated_at=now)
    with db.transaction() as store:
        store.insert_user(user)
        store.insert_events(first_events(builtins, user, now, store.audience_schedules()))
    return user


def get_user(db: Database, user_id: UUID) -> User:
    with db.transaction() as store:
        return _found(store.get_user(user_id))


def change_user(
    db: Database, clock: Clock, builtins: BuiltIns, user_id: UUID, change: Callable[[UserFields], UserFields]
) -> User:
    """PUT and PATCH: `change` maps the current fields, read under the user's lock, to the new."""
    now = clock.now()
    with db.transaction() as store:
        current = _found(store.get_user(user_id, lock=True))
        user = current.changed(change(current.fields), now)
        store.update_user(user)
        sync_user(store, builtins, user, now)
    return user


def delete_user(db: Database, clock: Clock, user_id: UUID) -> None:
    now = clock.now()
    with db.transaction() as store:
        _found(store.get_user(user_id, lock=True))
        cancel_events(store, store.active_events_for_user(user_id), now)
        store.delete_user(user_id, now)


def list_users(db: Database, limit: int, after: UUID | None) -> UserPage:
    with db.transaction() as store:
        items = store.list_users(limit, after)
    return UserPage(items, items[-1].id if len(items) == limit else None)


def find_by_external_id(db: Database, external_id: str, after: UUID | None) -> UserPage:
    """The page of the id-ordered list that holds this user: one user, or none."""
    with db.transaction() as store:
        user = store.user_by_external_id(external_id)
    found = user is not None and (after is None or user.id > after)
    return UserPage([user] if user is not None and found else [], None)


def user_events(db: Database, user_id: UUID) -> list[Event]:
    with db.transaction() as store:
        _found(store.get_user(user_id))
        return store.events_for_user(user_id)


def _found(user: User | None) -> User:
    if user is None:
        raise NotFound("no user with that id")
    return user


@dataclass(frozen=True)
class Users:
    """The user use cases bound to their ports: what the container builds and the routes call."""

    db: Database
    clock: Clock
    builtins: BuiltIns

    def now(self) -> datetime:
        return self.clock.now()

    def create(self, fields: UserFields) -> User:
        return create_user(self.db, self.clock, self.builtins, fields)

    def get(self, user_id: UUID) -> User:
        return get_user(self.db, user_id)

    def change(self, user_id: UUID, change: Callable[[UserFields], UserFields]) -> User:
        return change_user(self.db, self.clock, self.builtins, user_id, change)

    def delete(self, user_id: UUID) -> None:
        delete_user(self.db, self.clock, user_id)

    def page(self, limit: int, after: UUID | None) -> UserPage:
        return list_users(self.db, limit, after)

    def find_by_external_id(self, external_id: str, after: UUID | None) -> UserPage:
        return find_by_external_id(self.db, external_id, after)

    def events(self, user_id: UUID) -> list[Event]:
        return user_events(self.db, user_id)
