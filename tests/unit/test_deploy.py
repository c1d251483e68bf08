from __future__ import annotations

from pathlib import Path

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
