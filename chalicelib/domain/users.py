"""The user: who gets messages, and which dates of theirs matter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class UserFields:
    """What a client sets on a user; everything else the system owns."""

    first_name: str
    last_name: str
    date_of_birth: date
    timezone: str
    anniversary_date: date | None = None


@dataclass(frozen=True)
class User:
    id: UUID
    fields: UserFields
    created_at: datetime
    updated_at: datetime

    @property
    def first_name(self) -> str:
        return self.fields.first_name

    @property
    def last_name(self) -> str:
        return self.fields.last_name

    @property
    def timezone(self) -> str:
        return self.fields.timezone
