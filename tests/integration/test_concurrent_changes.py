"""Concurrent changes to one user, through the API's entrypoints, in real separate transactions.

The interleaving is forced, not hoped for: the test holds the user's row lock in its own
transaction, starts the requests one by one, waits until PostgreSQL shows each one queued on
that lock, then lets go. PostgreSQL grants a row lock to its waiters in arrival order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from chalice.app import Response

from chalicelib import bootstrap
from chalicelib.adapters.sql_files import queries
from chalicelib.api import http
from chalicelib.api import users as api
from chalicelib.domain.events import ACTIVE, Status
from chalicelib.services.users import Users
from scripts.devstack.store import tool_transaction

pytestmark = pytest.mark.integration

# What the authorizer hands an admin's request: these tests exercise the entry points directly.
ADMIN = {"authorizer": {"userId": "00000000-0000-4000-8000-000000000001", "roles": "admin"}}

ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}
WAIT_LIMIT = 20.0  # seconds: only reached when something is broken


def as_json(value: Any) -> http.Body:
    return http.Body(json.dumps(value), "application/json")


def status_of(result: Any) -> int:
    return result.status_code if isinstance(result, Response) else 200


class Request(threading.Thread):
    """One API call on its own thread (its own pooled connection and transaction)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # a raised error would be a 500: record it for the test
            self.error = exc

    def status(self) -> int:
        self.join(WAIT_LIMIT)
        assert not self.is_alive(), "the request never finished"
        assert self.error is None, f"the request raised {self.error!r} (a 500)"
        return status_of(self.result)


def service() -> Users:
    """The user service, as app.py hands it to the routes."""
    return bootstrap.container().users


def create_user(body: dict[str, Any] | None = None) -> str:
    response = api.create(service(), ADMIN, as_json(body or ADA))
    assert response.status_code == 201, response.body
    return str(response.body["id"])


@contextmanager
def user_locked(database_url: str, user_id: str) -> Iterator[Callable[[int], None]]:
    """Hold the user's row lock; yields `wait_for(n)`, which returns once n requests queue on it."""
    with psycopg.connect(database_url) as holder, psycopg.connect(database_url, autocommit=True) as watcher:
        holder.execute(queries()["lock_user"].encode(), {"id": user_id})

        def wait_for(n: int) -> None:
            deadline = time.monotonic() + WAIT_LIMIT
            while time.monotonic() < deadline:
                row = watcher.execute(
                    b"SELECT count(*) FROM pg_stat_activity"
                    b" WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> %s",
                    (holder.info.backend_pid,),
                ).fetchone()
                if row and row[0] >= n:
                    return
                time.sleep(0.01)
            pytest.fail(f"{n} request(s) never queued on the user's lock")

        yield wait_for
        holder.commit()


def events(user_id: str) -> list[dict[str, Any]]:
    with tool_transaction(bootstrap.container().db) as tools:
        return tools.all("SELECT * FROM events WHERE user_id = %(id)s ORDER BY created_at", {"id": user_id})


def deleted_at(user_id: str) -> Any:
    with tool_transaction(bootstrap.container().db) as tools:
        row = tools.one("SELECT deleted_at FROM users WHERE id = %(id)s", {"id": user_id})
    assert row is not None
    return row["deleted_at"]


def test_a_patch_then_a_delete(container: bootstrap.Container, database_url: str) -> None:
    user_id = create_user()
    with user_locked(database_url, user_id) as wait_for:
        patch = Request(lambda: api.patch(service(), ADMIN, user_id, as_json({"timezone": "Asia/Tokyo"})))
        patch.start()
        wait_for(1)
        delete = Request(lambda: api.delete(service(), ADMIN, user_id))
        delete.start()
        wait_for(2)
    assert (patch.status(), delete.status()) == (200, 204)
    assert deleted_at(user_id) is not None
    [event] = events(user_id)
    # The patch landed first (the event moved to Tokyo's 09:00), then the delete cancelled it.
    assert (event["status"], event["timezone"], event["version"]) == ("CANCELLED", "Asia/Tokyo", 3)


def test_a_delete_then_a_patch(container: bootstrap.Container, database_url: str) -> None:
    user_id = create_user()
    with user_locked(database_url, user_id) as wait_for:
        delete = Request(lambda: api.delete(service(), ADMIN, user_id))
        delete.start()
        wait_for(1)
        patch = Request(lambda: api.patch(service(), ADMIN, user_id, as_json({"timezone": "Asia/Tokyo"})))
        patch.start()
        wait_for(2)
    assert (delete.status(), patch.status()) == (204, 404)
    assert deleted_at(user_id) is not None
    [event] = events(user_id)
    assert (event["status"], event["timezone"], event["version"]) == ("CANCELLED", "Europe/London", 2)


def test_a_put_racing_a_delete(container: bootstrap.Container, database_url: str) -> None:
    user_id = create_user()
    with user_locked(database_url, user_id) as wait_for:
        delete = Request(lambda: api.delete(service(), ADMIN, user_id))
        delete.start()
        wait_for(1)
        moved = as_json({**ADA, "dateOfBirth": "1991-05-05"})
        put = Request(lambda: api.replace(service(), ADMIN, user_id, moved))
        put.start()
        wait_for(2)
    assert (delete.status(), put.status()) == (204, 404)
    assert [e["status"] for e in events(user_id)] == ["CANCELLED"]


def test_two_patches_leave_one_active_event_per_type(
    container: bootstrap.Container, database_url: str
) -> None:
    user_id = create_user()
    with user_locked(database_url, user_id) as wait_for:
        anniversary = as_json({"anniversaryDate": "2015-08-01"})
        first = Request(lambda: api.patch(service(), ADMIN, user_id, anniversary))
        first.start()
        wait_for(1)
        second = Request(
            lambda: api.patch(
                service(),
                ADMIN,
                user_id,
                as_json({"anniversaryDate": "2016-09-02", "timezone": "Asia/Tokyo"}),
            )
        )
        second.start()
        wait_for(2)
    assert (first.status(), second.status()) == (200, 200)
    active = [e for e in events(user_id) if e["status"] in ACTIVE]
    assert sorted((e["event_type"], str(e["occurrence_date"]), e["timezone"]) for e in active) == [
        ("anniversary", "2026-09-02", "Asia/Tokyo"),
        ("birthday", "2026-12-10", "Asia/Tokyo"),
    ]
    assert len(events(user_id)) == 2  # moved in place, not added


def burst(user_id: str, zones: list[str]) -> list[int]:
    """Patches to every zone, an anniversary and a delete, released at the same moment."""
    calls: list[Callable[[], Any]] = [
        *(lambda z=zone: api.patch(service(), ADMIN, user_id, as_json({"timezone": z})) for zone in zones),
        lambda: api.patch(service(), ADMIN, user_id, as_json({"anniversaryDate": "2015-08-01"})),
        lambda: api.delete(service(), ADMIN, user_id),
    ]
    start = threading.Barrier(len(calls))

    def together(call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(WAIT_LIMIT)
            return call()

        return run

    requests = [Request(together(call)) for call in calls]
    for request in requests:
        request.start()
    return [request.status() for request in requests]


def test_many_requests_at_once_never_fail_and_end_consistent(container: bootstrap.Container) -> None:
    """No forced order here: several rounds of a burst; whatever the order, the end is sound."""
    for _ in range(5):
        user_id = create_user()
        statuses = burst(user_id, ["Asia/Tokyo", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
        assert statuses[-1] == 204
        assert set(statuses[:-1]) <= {200, 404}
        assert deleted_at(user_id) is not None
        found = events(user_id)
        assert found
        assert all(e["status"] == Status.CANCELLED for e in found)
        assert len({e["event_type"] for e in found}) == len(found)  # moved in place, never doubled


# --- two imports racing for the same new externalIds (issue 15) -------------------------------


@pytest.mark.parametrize(("rival_is_an_import", "status"), [(True, "unchanged"), (False, "conflict")])
def test_an_import_that_loses_the_race_for_an_external_id_redoes_its_chunk_and_duplicates_nobody(
    container: bootstrap.Container, database_url: str, rival_is_an_import: bool, status: str
) -> None:
    """Another transaction inserts crm-1 first and holds it uncommitted: the import's read does
    not see it, its INSERT waits on the unique index; once the other commits, the import's
    INSERT skips crm-1, the chunk is rolled back and redone, and finds crm-1 there: another
    import's user (same fields: unchanged) or one the import did not create (a conflict)."""
    users = [{**ADA, "externalId": "crm-1"}, {**ADA, "externalId": "crm-2", "firstName": "Alan"}]
    with psycopg.connect(database_url) as rival, psycopg.connect(database_url, autocommit=True) as watcher:
        rival.execute(
            b"INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, external_id,"
            b" created_at, updated_at, managed_by_import) VALUES (gen_random_uuid(), 'Ada', 'Lovelace',"
            b" '1990-12-10', 'Europe/London', 'crm-1', now(), now(), %s)",
            (rival_is_an_import,),
        )
        request = Request(
            lambda: api.import_batch(bootstrap.container().imports, ADMIN, as_json({"users": users}))
        )
        request.start()
        deadline = time.monotonic() + WAIT_LIMIT
        while time.monotonic() < deadline:
            row = watcher.execute(
                b"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                b" AND wait_event_type = 'Lock' AND pid <> %s",
                (rival.info.backend_pid,),
            ).fetchone()
            if row and row[0] >= 1:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the import never waited on the rival's externalId")
        rival.commit()
        assert request.status() == 200
    results = request.result["results"]
    assert [r["status"] for r in results] == [status, "created"]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(b"SELECT external_id, count(*) FROM users GROUP BY 1 ORDER BY 1").fetchall()
        events = conn.execute(b"SELECT count(*) FROM events").fetchone()
    assert rows == [("crm-1", 1), ("crm-2", 1)]
    assert events == (1,)  # crm-2's birthday; the rival made its user without events
