"""Birthdays: yearly on the date of birth."""

from chalicelib.domain.event_types.base import EventType

EVENT_TYPE = EventType(
    name="birthday",
    anchor=lambda user: user.date_of_birth,
    template="Hey, {first_name} {last_name} it's your birthday",
)
