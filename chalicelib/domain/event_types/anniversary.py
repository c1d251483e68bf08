"""Anniversaries: yearly on the optional anniversary date."""

from chalicelib.domain.event_types.base import EventType

EVENT_TYPE = EventType(
    name="anniversary",
    anchor=lambda user: user.anniversary_date,
    template="Hey, {first_name} {last_name} happy anniversary",
)
