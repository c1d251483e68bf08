"""IANA time zones: validation and a strong cache of zone objects.

`ZoneInfo` keeps only a few zones strongly cached; looking one up per computation across many
zones re-reads files (~17x slower here), so every zone object is kept once built.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    return name in known_zones()


@cache
def zone(name: str) -> ZoneInfo:
    """The zone for a name already validated by `is_known_zone` (never a path)."""
    if not is_known_zone(name):
        raise KeyError(name)
    return ZoneInfo(name)
