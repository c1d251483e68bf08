"""Idempotency-Key on the POSTs that create (issue 20), through chalice.test.Client and a real
PostgreSQL: replays, reuse with another request, callers kept apart, two requests at once, a
crash before commit, the 24-hour lifetime, and bad keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from chalice.local import LocalChalice
from chalice.test import Client, HTTPResponse
from psycopg import sql

from app import app
from chalicelib import bootstrap, handlers
from chalicelib.adapters.postgres import Database, Store
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryQueue
from tests.conftest import START
from tests.functional.test_users_api import ADA, assert_error
from tests.locks import until_a_session_waits
from tests.tokens import bearer, token_for

KEY = "5f0c2a8e-7c1b-4a7e-9a61-2c5d8e0f4b13"
REPLAYED = "Idempotent-Replayed"


def post(
    client: Client, body: Any, key: str | None = KEY, path: str = "/user", token: str | None = None
) -> HTTPResponse:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if token is not None:
        headers.update(bearer(token))
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.request("POST", path, headers=headers, body=raw.encode())


def count(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def test_the_same_key_and_request_get_the_first_answer_again_and_create_nothing(
    client: Client, database_url: str
) -> None:
    first = post(client, ADA)
    assert first.status_code == 201, first.body
    assert REPLAYED not in first.headers
    events = count(database_url, "events")

    again = post(client, ADA)
    assert (again.status_code, again.body) == (201, first.body)
    assert again.headers[REPLAYED] == "true"
    assert again.headers["Content-Type"] == "application/json"
    # The same JSON spaced and ordered otherwise is the same request; the header's name is
    # case-insensitive.
    reordered = json.dumps(dict(reversed(list(ADA.items()))), indent=2)
    headers = {"Content-Type": "application/json", "idempotency-key": KEY}
    respelled = client.http.request("POST", "/user", headers=headers, body=reordered.encode())
    assert (respelled.status_code, respelled.body, respelled.headers[REPLAYED]) == (201, first.body, "true")
    assert (count(database_url, "users"), count(database_url, "events")) == (1, events)

    assert post(client, ADA, key=None).status_code == 201  # without a key, every POST creates
    assert count(database_url, "users") == 2


def test_the_same_key_with_another_request_is_a_409_naming_the_header(
    client: Client, database_url: str
) -> None:
    assert post(client, ADA).status_code == 201
    for refused in (
        post(client, {**ADA, "firstName": "Grace"}),  # another body
        post(client, {"users": [{**ADA, "externalId": "crm-1"}]}, path="/user/import"),  # another path
    ):
        error = assert_error(refused, 409, "Idempotency-Key")
        assert error["code"] == "idempotency_key_reused"
        assert REPLAYED not in refused.headers
    assert count(database_url, "users") == 1
    assert post(client, ADA).headers[REPLAYED] == "true"  # the first request still replays


def test_keys_are_each_callers_own(client: Client, database_url: str) -> None:
    first = post(client, ADA)
    other = post(client, ADA, token=token_for("service", "team-b"))
    assert other.status_code == 201, other.body
    assert REPLAYED not in other.headers
    assert other.json_body["id"] != first.json_body["id"]
    assert count(database_url, "users") == 2
    # ... and each caller's key replays to that caller only.
    assert post(client, ADA, token=token_for("service", "team-b")).json_body["id"] == other.json_body["id"]
    assert post(client, ADA).json_body["id"] == first.json_body["id"]


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "clé", "tab\there", "nul\x00", "del\x7f"],
    ids=["empty", "256 characters", "not ASCII", "a tab", "a NUL", "DEL"],
)
def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_a_400_naming_the_header(
    client: Client, database_url: str, key: str
) -> None:
    assert_error(post(client, ADA, key=key), 400, "Idempotency-Key")
    assert count(database_url, "users") == 0


def test_a_key_of_255_printable_characters_with_spaces_is_taken(client: Client) -> None:
    key = ("~ !" * 85)[:255]
    assert post(client, ADA, key=key).status_code == 201
    assert post(client, ADA, key=key).headers[REPLAYED] == "true"


def test_a_refusal_is_not_kept_so_a_corrected_request_may_use_the_key(
    client: Client, database_url: str
) -> None:
    """Stripe keeps no answer for a request that failed validation; a 409 that another record
    caused is not kept either: nothing was created, and a retry may succeed."""
    assert_error(post(client, {**ADA, "dateOfBirth": "1990-02-30"}), 400, "dateOfBirth")
    assert post(client, ADA).status_code == 201  # not idempotency_key_reused

    holder = post(client, {**ADA, "externalId": "crm-7"}, key=None).json_body
    taken = post(client, {**ADA, "externalId": "crm-7"}, key="second")
    assert assert_error(taken, 409, "externalId")["code"] == "conflict"
    assert client.http.delete(f"/user/{holder['id']}").status_code == 204
    retried = post(client, {**ADA, "externalId": "crm-7"}, key="second")
    assert retried.status_code == 201, retried.body
    assert REPLAYED not in retried.headers
    assert count(database_url, "idempotency_keys") == 2


def test_a_key_lives_24_hours_then_starts_a_new_request(
    client: Client, clock: ManualClock, database_url: str
) -> None:
    first = post(client, ADA)
    clock.set(START + timedelta(hours=24) - timedelta(microseconds=1))
    assert post(client, ADA).body == first.body
    assert_error(post(client, {**ADA, "firstName": "Grace"}), 409, "Idempotency-Key")

    clock.set(START + timedelta(hours=24))
    grace = post(client, {**ADA, "firstName": "Grace"})
    assert grace.status_code == 201, grace.body
    assert REPLAYED not in grace.headers
    assert post(client, {**ADA, "firstName": "Grace"}).body == grace.body  # the key's new request
    assert_error(post(client, ADA), 409, "Idempotency-Key")
    assert (count(database_url, "users"), count(database_url, "idempotency_keys")) == (2, 1)


def test_the_sweep_forgets_keys_older_than_24_hours(
    client: Client, container: bootstrap.Container, clock: ManualClock, database_url: str
) -> None:
    container.use(queue=MemoryQueue(clock))
    post(client, ADA, key="old")
    clock.advance(timedelta(hours=12))
    post(client, ADA, key="young")
    clock.set(START + timedelta(hours=24, seconds=1))
    assert handlers.sweep()["idempotencyKeysForgotten"] == 1
    with psycopg.connect(database_url) as conn:
        left = conn.execute(b"SELECT idempotency_key FROM idempotency_keys").fetchall()
    assert left == [("young",)]


def test_the_import_replays_its_first_answer(client: Client, database_url: str) -> None:
    batch = {"users": [{**ADA, "externalId": "crm-1"}, {**ADA, "externalId": "crm-2"}]}
    first = post(client, batch, path="/user/import")
    assert [r["status"] for r in first.json_body["results"]] == ["created", "created"]
    again = post(client, batch, path="/user/import")
    assert (again.status_code, again.body, again.headers[REPLAYED]) == (200, first.body, "true")
    unkeyed = post(client, batch, key=None, path="/user/import")  # idempotent on externalId anyway
    assert [r["status"] for r in unkeyed.json_body["results"]] == ["unchanged", "unchanged"]
    assert count(database_url, "users") == 2


# --- two at once, and a crash -----------------------------------------------------------------


class HookedDatabase:
    """The real database, with `before_keep` run in an idempotent request's transaction after
    its user is written and before its answer is kept and the transaction commits."""

    def __init__(self, inner: Database, before_keep: Callable[[], None]) -> None:
        self.inner = inner
        self.before_keep = before_keep

    def transaction(self) -> AbstractContextManager[Store]:
        return self.inner.transaction()

    @contextmanager
    def outer_transaction(self) -> Iterator[Any]:
        with self.inner.outer_transaction() as store:
            yield HookedStore(store, self.before_keep)


class HookedStore:
    def __init__(self, inner: Store, before_keep: Callable[[], None]) -> None:
        self.inner = inner
        self.before_keep = before_keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def keep_idempotent_response(self, *args: Any) -> None:
        self.before_keep()
        self.inner.keep_idempotent_response(*args)


class Gate:
    """Stops the first request to arrive until `release`."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.arrived.set()
        assert self.release.wait(30), "the test never let the first request commit"


def crash() -> None:
    raise RuntimeError("the Lambda died before the commit")


@pytest.fixture
def per_thread_requests() -> Iterator[None]:
    """Two requests in flight at once in one process: the app's current request per thread, as
    `chalice local` arranges it (chalice.local.create_local_server); put back afterwards."""
    original = app.__class__
    app.__class__ = type("PerThreadChalice", (LocalChalice, original), {})
    yield
    app.__class__ = original


def test_two_requests_with_one_key_at_once_create_one_user_and_get_one_answer(
    client: Client, container: bootstrap.Container, db: Database, database_url: str, per_thread_requests: None
) -> None:
    gate = Gate()
    container.use(db=HookedDatabase(db, gate))
    answers: dict[str, HTTPResponse] = {}

    def send(name: str) -> None:
        answers[name] = post(client, ADA)

    first = threading.Thread(target=send, args=("first",))
    second = threading.Thread(target=send, args=("second",))
    first.start()
    try:
        assert gate.arrived.wait(30)  # the first has written its user, uncommitted
        second.start()
        # The second is blocked on the key's unique index, behind the first's transaction.
        until_a_session_waits(database_url, "INSERT INTO idempotency_keys")
    finally:
        gate.release.set()
        first.join(30)
        if second.ident is not None:
            second.join(30)
    assert answers["first"].status_code == 201, answers["first"].body
    assert (answers["second"].status_code, answers["second"].body) == (201, answers["first"].body)
    assert answers["second"].headers[REPLAYED] == "true"
    assert count(database_url, "users") == 1


def test_a_crash_before_commit_keeps_nothing_and_the_retry_creates_once(
    client: Client, container: bootstrap.Container, db: Database, database_url: str
) -> None:
    container.use(db=HookedDatabase(db, crash))
    crashed = post(client, ADA)
    assert crashed.status_code == 500
    assert (count(database_url, "users"), count(database_url, "events")) == (0, 0)
    assert count(database_url, "idempotency_keys") == 0

    container.use(db=db)  # the Lambda comes back
    retried = post(client, ADA)
    assert retried.status_code == 201, retried.body
    assert REPLAYED not in retried.headers
    assert post(client, ADA).body == retried.body
    assert count(database_url, "users") == 1
