"""The registry of event kinds. A new kind is one module here and one line in `REGISTRY`."""

from __future__ import annotations

from chalicelib.domain.event_types import anniversary, birthday
from chalicelib.domain.event_types.base import EventType

REGISTRY: dict[str, EventType] = {t.name: t for t in (birthday.EVENT_TYPE, anniversary.EVENT_TYPE)}


def get(name: str) -> EventType:
    return REGISTRY[name]


__all__ = ["REGISTRY", "EventType", "get"]
