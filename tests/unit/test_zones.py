"""Which time-zone names the API accepts: IANA names only, never a path or the host's own zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import available_timezones

import pytest

from chalicelib.domain.zones import is_known_zone, known_zones, zone


@pytest.mark.parametrize(
    "name",
    ["Europe/London", "America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati", "UTC", "Etc/GMT+5"],
)
def test_iana_names_are_known(name: str) -> None:
    assert is_known_zone(name)
    assert zone(name).key == name


@pytest.mark.parametrize(
    "name",
    ["localtime", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "posixrules", "right/UTC", "utc", ""],
)
def test_other_names_are_not(name: str) -> None:
    assert not is_known_zone(name)
    with pytest.raises(KeyError):
        zone(name)


def test_every_known_zone_loads() -> None:
    instant = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert len(known_zones()) > 550
    assert known_zones() <= available_timezones()
    for name in known_zones():
        assert instant.astimezone(zone(name)).utcoffset() is not None


def test_zone_objects_are_kept() -> None:
    assert zone("Asia/Tokyo") is zone("Asia/Tokyo")
