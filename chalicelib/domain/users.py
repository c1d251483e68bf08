"""The user: who gets messages, and which dates of theirs matter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

MAX_EXTERNAL_ID_LENGTH = 128
MAX_METADATA_BYTES = 4096


@dataclass(frozen=True)
class UserFields:
    """What a client sets on a user; everything else the system owns."""

    first_name: str
    last_name: str
    date_of_birth: date
    timezone: str
    anniversary_date: date | None = None
    external_id: str | None = None
    """The integrating team's own id for the user: unique among users that are not deleted."""
    metadata: dict[str, Any] | None = field(default=None, hash=False)
    """The team's own JSON object, echoed in every webhook; never read by the scheduler."""

    def keeping_team_data(self, current: UserFields) -> UserFields:
        """These fields with the current externalId and metadata: a `user` token's PUT, which
        may not set them, leaves them as they are."""
        return replace(self, external_id=current.external_id, metadata=current.metadata)


def metadata_size(metadata: dict[str, Any]) -> int:
    """The object's size as the limit counts it: compact UTF-8 JSON."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass(frozen=True)
class User:
    id: UUID
    fields: UserFields
    created_at: datetime
    updated_at: datetime
    managed_by_import: bool = False
    """The import created this user, or adopted it when the team said so: only such a user may
    the import update (a user that set its own externalId must not receive a CRM record)."""

    def changed(self, fields: UserFields, now: datetime) -> User:
        """PUT and PATCH: a new externalId is the team's hand, so the import no longer owns it."""
        managed = self.managed_by_import and fields.external_id == self.fields.external_id
        return User(self.id, fields, self.created_at, now, managed)

    def imported(self, fields: UserFields, now: datetime) -> User:
        """The import's update (or adoption): these fields, and the import's from now on."""
        updated_at = now if fields != self.fields else self.updated_at
        return User(self.id, fields, self.created_at, updated_at, managed_by_import=True)

    @property
    def first_name(self) -> str:
        return self.fields.first_name

    @property
    def last_name(self) -> str:
        return self.fields.last_name

    @property
    def timezone(self) -> str:
        return self.fields.timezone

    @property
    def external_id(self) -> str | None:
        return self.fields.external_id

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self.fields.metadata
