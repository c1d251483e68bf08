"""The migration step of every deploy: a CloudFormation custom resource runs it.

The CDK's custom-resource provider invokes the `migrate` function with the resource's event
on create and update (each deploy changes a property, so each deploy runs it); this applies
every migration not yet applied, under the migrator's advisory lock. Deleting the stack never
drops the schema, and a stack rollback does not run down-migrations: both are decisions for a
person (`scripts/migrate.py down`, see docs/deploy.md, "Rollback"). After the migrations it
creates or updates the application's own database role (chalicelib/adapters/db_roles.py), when the
function is given one (APP_DB_SECRET_ARN).

Only the migrate function imports this module (app.py imports it inside the handler), so its
imports cost no other function's cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from chalicelib.adapters import db_roles, migrations
from chalicelib.settings import SettingsError

PHYSICAL_ID = "event-scheduler-schema"  # constant: an update must never look like a replacement

Upgrade = Callable[[str], list[migrations.Migration]]
AppLogin = Callable[[], db_roles.Login | None]
CONNECT_ATTEMPTS = 7  # waits of 5, 10, 20, 40, 60, 60 s: ~4 minutes, inside the 300-s timeout


def on_deploy(
    event: Mapping[str, Any],
    database_url: str | None,
    upgrade: Upgrade = migrations.upgrade,
    app_login: AppLogin = db_roles.login_from_env,
) -> dict[str, Any]:
    if event.get("RequestType") == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    if not database_url:
        raise SettingsError("DATABASE_URL, or DB_SECRET_ARN with DB_HOST, must be set to migrate")
    applied = _upgrade_when_reachable(upgrade, database_url, time.sleep)
    login = app_login()
    if login is not None:
        db_roles.ensure(database_url, login)
    latest = max((m.version for m in migrations.available()), default=0)
    return {
        "PhysicalResourceId": PHYSICAL_ID,
        "Data": {"Applied": ",".join(f"{m.version:04d}_{m.name}" for m in applied), "SchemaVersion": latest},
    }


def _upgrade_when_reachable(
    upgrade: Upgrade, url: str, sleep: Callable[[float], None], attempts: int = CONNECT_ATTEMPTS
) -> list[migrations.Migration]:
    """On a stack's first deploy the proxy may report its target unavailable for a few minutes
    after CloudFormation says it exists: wait for it rather than fail the deploy."""
    for attempt in range(1, attempts + 1):
        try:
            return upgrade(url)
        except psycopg.OperationalError:
            if attempt == attempts:
                raise
            sleep(min(60.0, 5.0 * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")  # pragma: no cover
