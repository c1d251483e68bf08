from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.settings import Settings, SettingsError


def test_the_local_stack_can_shift_its_clock_both_ways() -> None:
    assert Settings.from_env({"CLOCK_OFFSET": "2h"}).clock_offset == timedelta(hours=2)
    assert Settings.from_env({"CLOCK_OFFSET": "-90s"}).clock_offset == timedelta(seconds=-90)
    assert Settings.from_env({}).clock_offset == timedelta(0)


def test_the_container_clock_reads_the_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_OFFSET", "1d")
    monkeypatch.setenv("STAGE", "local")
    bootstrap.install(None)
    try:
        before = datetime.now(UTC) + timedelta(days=1)
        now = bootstrap.container().clock.now()
        after = datetime.now(UTC) + timedelta(days=1)
    finally:
        bootstrap.install(None)
    assert before <= now <= after  # bracketed by two readings: no tolerance to guess


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_a_cloud_stage_refuses_a_clock_offset(stage: str) -> None:
    with pytest.raises(SettingsError, match="local stack only"):
        Settings.from_env({"STAGE": stage, "CLOCK_OFFSET": "1h"})
