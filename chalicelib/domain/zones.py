"""IANA time zones: validation and a strong cache of zone objects.

`ZoneInfo` keeps only a few zones strongly cached; looking one up per computation across many
zones re-reads files (~17x slower here), so every zone object is kept once built.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

# Files in the system's zoneinfo folder that are not IANA zones: `localtime` is this machine's
# own zone, so accepting it would make a user's zone depend on the server they landed on.
_NOT_ZONES = frozenset({"localtime"})


@cache
def known_zones() -> frozenset[str]:
    """The IANA names: the pinned tzdata package's list, the same here and on Lambda."""
    try:
        return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())
    except ModuleNotFoundError:
        return frozenset(available_timezones()) - _NOT_ZONES


def is_known_zone(name: str) -> bool:
    return name in known_zones()


@cache
def zone(name: str) -> ZoneInfo:
    """The zone for a name already validated by `is_known_zone` (never a path)."""
    if not is_known_zone(name):
        raise KeyError(name)
    return ZoneInfo(name)
