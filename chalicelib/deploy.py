"""The migration step of every deploy: a CloudFormation custom resource runs it.

The CDK's custom-resource provider invokes the `migrate` function with the resource's event
on create and update (each deploy changes a property, so each deploy runs it); this applies
every migration not yet applied, under the migrator's advisory lock. Deleting the stack never
drops the schema, and a stack rollback does not run down-migrations: both are decisions for a
person (`scripts/migrate.py down`, see the README's rollback section).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters import migrations
from chalicelib.settings import SettingsError

PHYSICAL_ID = "event-scheduler-schema"  # constant: an update must never look like a replacement

Upgrade = Callable[[str], list[migrations.Migration]]


def on_deploy(
    event: Mapping[str, Any], database_url: str | None, upgrade: Upgrade = migrations.upgrade
) -> dict[str, Any]:
    if event.get("RequestType") == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    if not database_url:
        raise SettingsError("DATABASE_URL, or DB_SECRET_ARN with DB_HOST, must be set to migrate")
    applied = upgrade(database_url)
    latest = max((m.version for m in migrations.available()), default=0)
    return {
        "PhysicalResourceId": PHYSICAL_ID,
        "Data": {"Applied": ",".join(f"{m.version:04d}_{m.name}" for m in applied), "SchemaVersion": latest},
    }
