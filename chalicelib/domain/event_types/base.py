"""What an event kind must say: which date of the user it follows, and what it sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

from chalicelib.domain.users import UserFields


@dataclass(frozen=True)
class EventType:
    name: str
    anchor: Callable[[UserFields], date | None]
    """The user's date this kind repeats yearly; None when the user has no such date."""
    template: str
    """The message, formatted with the user's current `first_name` and `last_name`."""
    default_delivery_time: time = time(9, 0)

    def message(self, fields: UserFields) -> str:
        return self.template.format(first_name=fields.first_name, last_name=fields.last_name)
