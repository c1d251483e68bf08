from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from chalicelib import deploy
from chalicelib.adapters import migrations
from chalicelib.settings import SettingsError


class RecordingUpgrade:
    def __init__(self, applies: list[migrations.Migration]) -> None:
        self.applies = applies
        self.urls: list[str] = []

    def __call__(self, url: str) -> list[migrations.Migration]:
        self.urls.append(url)
        return self.applies


def test_create_and_update_apply_pending_migrations() -> None:
    first = migrations.available()[0]
    for request in ("Create", "Update"):
        upgrade = RecordingUpgrade([first])
        response = deploy.on_deploy({"RequestType": request}, "postgresql://db", upgrade)
        assert upgrade.urls == ["postgresql://db"]
        assert response["PhysicalResourceId"] == deploy.PHYSICAL_ID
        assert response["Data"]["Applied"] == f"{first.version:04d}_{first.name}"
        assert response["Data"]["SchemaVersion"] == max(m.version for m in migrations.available())


def test_delete_never_touches_the_schema() -> None:
    upgrade = RecordingUpgrade([])
    response = deploy.on_deploy({"RequestType": "Delete", "PhysicalResourceId": "old-id"}, None, upgrade)
    assert response == {"PhysicalResourceId": "old-id"}
    assert upgrade.urls == []


def test_a_missing_database_fails_the_deploy() -> None:
    with pytest.raises(SettingsError):
        deploy.on_deploy({"RequestType": "Create"}, None, RecordingUpgrade([]))


def test_nothing_applied_reports_an_empty_list() -> None:
    response = deploy.on_deploy({"RequestType": "Update"}, "postgresql://db", RecordingUpgrade([]))
    assert response["Data"]["Applied"] == ""
    assert Path(migrations.MIGRATIONS_DIR).is_dir()


class FlakyUpgrade(RecordingUpgrade):
    def __init__(self, failures: int) -> None:
        super().__init__([])
        self.failures = failures

    def __call__(self, url: str) -> list[migrations.Migration]:
        self.urls.append(url)
        if len(self.urls) <= self.failures:
            raise psycopg.OperationalError("connection refused")
        return self.applies


def test_a_database_not_yet_reachable_is_waited_for_with_growing_pauses() -> None:
    waits: list[float] = []
    upgrade = FlakyUpgrade(failures=3)
    assert deploy._upgrade_when_reachable(upgrade, "postgresql://db", waits.append) == []
    assert len(upgrade.urls) == 4
    assert waits == [5.0, 10.0, 20.0]


def test_a_database_that_never_answers_fails_the_deploy() -> None:
    waits: list[float] = []
    upgrade = FlakyUpgrade(failures=100)
    with pytest.raises(psycopg.OperationalError):
        deploy._upgrade_when_reachable(upgrade, "postgresql://db", waits.append, attempts=3)
    assert len(upgrade.urls) == 3
    assert len(waits) == 2
