"""Bulk load for the benchmark and the volume tests: many users due at once, in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.postgres import Database
from scripts.devstack.store import tool_transaction


def seed_due_birthdays(
    db: Database,
    n: int,
    first: datetime,
    spacing: timedelta = timedelta(0),
    now: datetime | None = None,
    timezone: str = "UTC",
) -> None:
    """`n` users born on `first`'s date in 1990, each with a PENDING birthday at
    `first + i * spacing` (the occurrence date is `first`'s, whatever the spacing)."""
    day = first.astimezone(UTC).date()
    params = {
        "n": n,
        "first": first,
        "spacing": spacing,
        "now": now or first - timedelta(days=30),
        "timezone": timezone,
        "date_of_birth": day.replace(year=1990),
        "occurrence_date": day,
    }
    with tool_transaction(db) as tools:
        tools.seed_due_birthdays(**params)
