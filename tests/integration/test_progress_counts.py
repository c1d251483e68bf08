"""make run's progress counts against the real PostgreSQL: deliveries inside the interval
only, whatever clock stamped the others."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.adapters.postgres import Database
from chalicelib.domain.events import Event, Status
from chalicelib.domain.occurrence import Occurrence
from chalicelib.domain.users import User, UserFields
from scripts.devstack.progress import postgres_in_flight

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def delivered(user: User, day: date, at: datetime) -> Event:
    target = datetime.combine(day, datetime.min.time(), UTC).replace(hour=9)
    event = Event.new(user.id, "birthday", Occurrence(day, target), user.timezone, NOW)
    return replace(event, status=Status.COMPLETED, version=3, attempts=1, delivered_at=at)


def test_only_deliveries_inside_the_interval_count(db: Database, database_url: str) -> None:
    fields = UserFields("Ada", "Lovelace", date(1990, 3, 1), "UTC")
    user = User(id=uuid.uuid4(), fields=fields, created_at=NOW, updated_at=NOW)
    since = NOW
    with db.transaction() as store:
        store.insert_user(user)
        store.insert_events([delivered(user, date(2026, 3, 1), since + timedelta(seconds=5))])  # this run's
        # make demo's, on a clock 7 hours ahead: "delivered" in this run's future
        store.insert_events([delivered(user, date(2027, 3, 1), since + timedelta(hours=7))])
        store.insert_events([delivered(user, date(2025, 3, 1), since)])  # the interval before
    counts = postgres_in_flight(database_url)
    assert counts(since, since + timedelta(seconds=10)) == (0, 1)
    assert counts(since + timedelta(seconds=10), since + timedelta(seconds=20)) == (0, 0)
