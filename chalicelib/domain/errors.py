"""One exception hierarchy for the whole application; each class's docstring is its message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class SchedulerError(Exception):
    """Something went wrong."""

    code = "error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class ValidationError(SchedulerError):
    """The request is not valid."""

    code = "validation_error"

    def __init__(self, details: list[FieldError], message: str | None = None) -> None:
        super().__init__(message)
        self.details = details

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls([FieldError(field, message)])


class Unavailable(Exception):
    """A dependency (the database, the delivery ledger) cannot be reached: try again later."""

    what = "a dependency"


class NotFound(SchedulerError):
    """No such resource."""

    code = "not_found"


class Conflict(SchedulerError):
    """The resource changed or conflicts with another one."""

    code = "conflict"

    def __init__(self, message: str | None = None, details: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class IllegalTransition(Conflict):
    """That change of event status is not allowed."""

    code = "illegal_transition"


class Unauthenticated(SchedulerError):
    """The request carries no identity this API accepts."""

    code = "unauthenticated"


class Forbidden(SchedulerError):
    """The caller's role does not allow this request."""

    code = "forbidden"

    def __init__(self, message: str | None = None, details: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.details = details or []
