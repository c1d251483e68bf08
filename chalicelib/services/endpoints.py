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

from chalicelib.domain.endpoints import Endpoint, EndpointFields, Secret
from chalicelib.domain.errors import NotFound
from chalicelib.ports import Clock, Database, Store

SECRET_BYTES = 32


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


def _locked(store: Store, endpoint_id: UUID) -> Endpoint:
    return _found(store.get_endpoint(endpoint_id, lock=True))


def _found(endpoint: Endpoint | None) -> Endpoint:
    if endpoint is None:
        raise NotFound("no such endpoint")
    return endpoint
