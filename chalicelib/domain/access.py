"""Who may do what: roles, actions and the ownership rule. Pure; the api layer applies it.

`admin` may do everything; `service` everything but retrying events and managing endpoints; `user` only what
concerns the user whose id is its token's `sub` (its schedules included), and never the list
of all users. A user's
`externalId` and `metadata` are the integrating team's: a `user` token reads its own but never
sets them (SET_TEAM_FIELDS), or it could claim an id the team's import then fills in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Role(StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    USER = "user"


class Action(StrEnum):
    CREATE_USER = "create_user"
    IMPORT_USERS = "import_users"
    LIST_USERS = "list_users"
    READ_USER = "read_user"
    CHANGE_USER = "change_user"
    DELETE_USER = "delete_user"
    READ_USER_EVENTS = "read_user_events"
    READ_EVENT = "read_event"
    LIST_EVENTS = "list_events"
    READ_DELIVERIES = "read_deliveries"
    RETRY_EVENT = "retry_event"
    SET_TEAM_FIELDS = "set_team_fields"
    """Set or change a user's externalId or metadata."""
    CREATE_SCHEDULE = "create_schedule"
    LIST_SCHEDULES = "list_schedules"
    """A user's schedules."""
    READ_SCHEDULE = "read_schedule"
    CHANGE_SCHEDULE = "change_schedule"
    DELETE_SCHEDULE = "delete_schedule"
    PAUSE_SCHEDULE = "pause_schedule"
    RESUME_SCHEDULE = "resume_schedule"
    PREVIEW_SCHEDULE = "preview_schedule"
    MANAGE_ENDPOINTS = "manage_endpoints"
    """Create, read, change, delete endpoints and read or rotate their secrets: admin only."""
    CREATE_AUDIENCE_SCHEDULE = "create_audience_schedule"
    LIST_ALL_SCHEDULES = "list_all_schedules"
    """Every schedule, users' and audiences'."""
    COUNT_AUDIENCE = "count_audience"
    READ_OVERVIEW = "read_overview"
    """GET /overview: the whole scheduler's counts, so no `user` token."""


# What a role may do to any record, and what it may do only to records its subject owns.
_ANY: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.SERVICE: frozenset(Action) - {Action.RETRY_EVENT, Action.MANAGE_ENDPOINTS},
    Role.USER: frozenset(),
}
_OWN: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(),
    Role.SERVICE: frozenset(),
    Role.USER: frozenset(
        {
            Action.READ_USER,
            Action.CHANGE_USER,
            Action.DELETE_USER,
            Action.READ_USER_EVENTS,
            Action.READ_EVENT,
            Action.READ_DELIVERIES,
            Action.CREATE_SCHEDULE,
            Action.LIST_SCHEDULES,
            Action.READ_SCHEDULE,
            Action.CHANGE_SCHEDULE,
            Action.DELETE_SCHEDULE,
            Action.PAUSE_SCHEDULE,
            Action.RESUME_SCHEDULE,
            Action.PREVIEW_SCHEDULE,
        }
    ),
}


def known_roles(names: Iterable[str]) -> list[Role]:
    """The roles among these names, matched exactly: "Admin", "admin " and "service user" are
    none of them (a role is never trimmed, case-folded or split)."""
    known = {r.value: r for r in Role}
    return [known[name] for name in names if name in known]


@dataclass(frozen=True)
class Principal:
    """The verified caller: its token's subject, roles (unknown ones dropped) and email."""

    subject: str
    roles: frozenset[Role]
    email: str | None = None

    @classmethod
    def of(cls, subject: str, roles: Iterable[str], email: str | None = None) -> Principal:
        return cls(subject, frozenset(known_roles(roles)), email or None)

    def owns(self, user_id: UUID) -> bool:
        """A subject that is not a UUID owns nothing (service principals, for instance)."""
        try:
            return UUID(self.subject) == user_id
        except ValueError:
            return False


def may_any(principal: Principal, action: Action) -> bool:
    """Whether the principal may do this to any record, whoever owns it."""
    return any(action in _ANY[role] for role in principal.roles)


def may_own(principal: Principal, action: Action) -> bool:
    """Whether the principal may do this to records it owns."""
    return any(action in _OWN[role] for role in principal.roles)


def allowed(principal: Principal, action: Action, owner: UUID | None = None) -> bool:
    """`owner` is the user the record belongs to; None for actions on no one record (list, create)."""
    if may_any(principal, action):
        return True
    return owner is not None and may_own(principal, action) and principal.owns(owner)
