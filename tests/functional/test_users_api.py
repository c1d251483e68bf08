"""The users API through chalice.test.Client: every route, every bad input, rescheduling.

The `clock` fixture (a ManualClock at 2026-03-01T12:00Z) is the app's clock, so a test travels
in time with `clock.set(...)`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.postgres import Database
from chalicelib.settings import Settings
from scripts.devstack.clock import ManualClock
from tests.conftest import PostgresServer
from tests.functional.conftest import AuthorizedClient
from tests.tokens import admin_token

JSON = {"Content-Type": "application/json"}
ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}
NOBODY = "3f1e9a52-8d4c-4b7e-9a61-2c5d8e0f4b13"
EVENT_KEYS = {
    "id",
    "userId",
    "scheduleId",
    "eventType",
    "status",
    "occurrenceDate",
    "targetUtc",
    "targetLocal",
    "timezone",
    "idempotencyKey",
    "attempts",
    "deliveredAt",
    "late",
    "failureReason",
    "version",
}


@pytest.fixture(scope="module")
def module_database(pg_server: PostgresServer, template_db: str) -> Iterator[str]:
    name = f"es_api_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def database_url(module_database: str) -> str:
    """Overrides conftest's: one database for this module, emptied before each test.

    These tests share no state, and a fresh database per test costs ~0.3 s here (a few ms to
    empty one); `client`, `container` and `db` are conftest's as they are.
    """
    with psycopg.connect(module_database, autocommit=True) as conn:
        conn.execute(b"TRUNCATE events, audience_progress, schedules, users")
    return module_database


def send(client: Client, method: str, path: str, body: Any = None, raw: str | bytes | None = None) -> Any:
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return client.http.request(method, path, headers=JSON, body=data)


def create(client: Client, **changes: Any) -> dict[str, Any]:
    response = send(client, "POST", "/user", {**ADA, **changes})
    assert response.status_code == 201, response.body
    return dict(response.json_body)


def events(client: Client, user_id: str) -> list[dict[str, Any]]:
    response = client.http.get(f"/user/{user_id}/events")
    assert response.status_code == 200, response.body
    return list(response.json_body["items"])


def active(client: Client, user_id: str) -> dict[str, dict[str, Any]]:
    return {e["eventType"]: e for e in events(client, user_id) if e["status"] in ("PENDING", "PROCESSING")}


def assert_error(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The API's one error shape (docs/api.md, "Validation"), and (for a 400) the field it names."""
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    body = response.json_body
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    for detail in error["details"]:
        assert set(detail) == {"field", "message"}
        assert detail["message"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return dict(error)


# --- every route ------------------------------------------------------------------------------


def test_health(client: Client) -> None:
    response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok", "database": "ok"}


def test_create(client: Client) -> None:
    response = send(client, "POST", "/user", {**ADA, "firstName": "  Ada  "})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    user = response.json_body
    assert uuid.UUID(user.pop("id")).version == 4
    assert user == {
        **ADA,
        "anniversaryDate": None,
        "externalId": None,
        "metadata": None,
        "createdAt": "2026-03-01T12:00:00Z",
        "updatedAt": "2026-03-01T12:00:00Z",
    }


def test_create_with_an_anniversary_schedules_both_events(client: Client) -> None:
    user = create(client, anniversaryDate="2015-08-01")
    assert user["anniversaryDate"] == "2015-08-01"
    found = [
        (e["eventType"], e["status"], e["targetUtc"], e["targetLocal"]) for e in events(client, user["id"])
    ]
    assert found == [
        ("anniversary", "PENDING", "2026-08-01T08:00:00Z", "2026-08-01T09:00:00+01:00"),
        ("birthday", "PENDING", "2026-12-10T09:00:00Z", "2026-12-10T09:00:00+00:00"),
    ]


def test_read(client: Client) -> None:
    user = create(client)
    response = client.http.get(f"/user/{user['id']}")
    assert response.status_code == 200
    assert response.json_body == user


def test_events_of_a_user(client: Client) -> None:
    user = create(client, timezone="Asia/Kathmandu")
    [event] = events(client, user["id"])
    assert set(event) == EVENT_KEYS
    assert event["userId"] == user["id"]
    assert (event["eventType"], event["status"], event["timezone"]) == (
        "birthday",
        "PENDING",
        "Asia/Kathmandu",
    )
    assert (event["targetUtc"], event["targetLocal"]) == ("2026-12-10T03:15:00Z", "2026-12-10T09:00:00+05:45")
    assert (event["attempts"], event["deliveredAt"], event["late"], event["failureReason"]) == (
        0,
        None,
        False,
        None,
    )
    assert uuid.UUID(event["idempotencyKey"])


def test_put_replaces_every_field(client: Client, clock: ManualClock) -> None:
    user = create(client, anniversaryDate="2015-08-01")
    clock.set(datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    new = {
        "firstName": "Grace",
        "lastName": "Hopper",
        "dateOfBirth": "1906-12-09",
        "timezone": "America/New_York",
    }
    response = send(client, "PUT", f"/user/{user['id']}", new)
    assert response.status_code == 200, response.body
    replaced = response.json_body
    assert replaced == {
        **new,
        "id": user["id"],
        "anniversaryDate": None,  # left out of a PUT: gone
        "externalId": None,
        "metadata": None,
        "createdAt": "2026-03-01T12:00:00Z",
        "updatedAt": "2026-03-02T08:30:00Z",
    }
    assert client.http.get(f"/user/{user['id']}").json_body == replaced
    assert {t: e["targetUtc"] for t, e in active(client, user["id"]).items()} == {
        "birthday": "2026-12-09T14:00:00Z"
    }


def test_put_needs_every_required_field(client: Client) -> None:
    user = create(client)
    response = send(client, "PUT", f"/user/{user['id']}", {"firstName": "Grace"})
    error = assert_error(response, 400)
    assert {d["field"] for d in error["details"]} == {"lastName", "dateOfBirth", "timezone"}


def test_patch_changes_only_what_it_names(client: Client, clock: ManualClock) -> None:
    user = create(client)
    clock.set(datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    response = send(client, "PATCH", f"/user/{user['id']}", {"lastName": "King "})
    assert response.status_code == 200, response.body
    assert response.json_body == {**user, "lastName": "King", "updatedAt": "2026-03-01T13:00:00Z"}
    assert client.http.get(f"/user/{user['id']}").json_body == response.json_body


def test_an_empty_patch_changes_nothing_but_the_update_time(client: Client) -> None:
    user = create(client)
    before = events(client, user["id"])
    response = send(client, "PATCH", f"/user/{user['id']}", {})
    assert response.status_code == 200
    assert response.json_body == user
    assert events(client, user["id"]) == before


def test_delete(client: Client) -> None:
    user = create(client)
    response = client.http.delete(f"/user/{user['id']}")
    assert response.status_code == 204
    assert response.body == b""
    for method, path in [
        ("GET", f"/user/{user['id']}"),
        ("GET", f"/user/{user['id']}/events"),
        ("DELETE", f"/user/{user['id']}"),
    ]:
        assert_error(client.http.request(method, path), 404)
    assert_error(send(client, "PATCH", f"/user/{user['id']}", {"lastName": "King"}), 404)
    assert_error(send(client, "PUT", f"/user/{user['id']}", ADA), 404)
    assert client.http.get("/user").json_body == {"items": [], "nextCursor": None}


def test_delete_cancels_pending_events(client: Client, container: bootstrap.Container) -> None:
    user = create(client, anniversaryDate="2015-08-01")
    assert client.http.delete(f"/user/{user['id']}").status_code == 204
    with container.db.transaction() as store:
        statuses = {e.event_type: e.status.value for e in store.events_for_user(uuid.UUID(user["id"]))}
    assert statuses == {"birthday": "CANCELLED", "anniversary": "CANCELLED"}


def test_list_pages_with_a_cursor(client: Client) -> None:
    created = {create(client, firstName=f"User{i}")["id"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "/user?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = client.http.get(query)
        assert response.status_code == 200, response.body
        page = response.json_body
        assert set(page) == {"items", "nextCursor"}
        assert len(page["items"]) <= 3
        seen += [u["id"] for u in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(created)
    assert set(seen) == created


def test_list_defaults_and_the_largest_page(client: Client) -> None:
    for i in range(21):
        create(client, firstName=f"User{i}")
    first = client.http.get("/user").json_body
    assert len(first["items"]) == 20
    assert first["nextCursor"] is not None
    everything = client.http.get("/user?limit=100").json_body
    assert len(everything["items"]) == 21
    assert everything["nextCursor"] is None
    assert everything["items"][0] == first["items"][0]


def test_list_leaves_out_deleted_users(client: Client) -> None:
    keep, drop = create(client), create(client)
    client.http.delete(f"/user/{drop['id']}")
    assert [u["id"] for u in client.http.get("/user").json_body["items"]] == [keep["id"]]


# --- every bad input ---------------------------------------------------------------------------

BAD_FIELDS = [
    ("timezone", "Mars/Olympus_Mons"),
    ("timezone", "../../etc/passwd"),
    ("timezone", "localtime"),
    ("timezone", ""),
    ("timezone", 5),
    ("timezone", None),
    ("dateOfBirth", "2023-02-29"),
    ("dateOfBirth", "1990-02-30"),
    ("dateOfBirth", "2026-03-02"),  # tomorrow in London
    ("dateOfBirth", "2999-01-01"),
    ("dateOfBirth", "10/12/1990"),
    ("dateOfBirth", "1990-12-10T09:00:00Z"),
    ("dateOfBirth", "1990-1-1"),
    ("dateOfBirth", 19901210),
    ("dateOfBirth", None),
    ("dateOfBirth", "0001-01-01"),
    ("dateOfBirth", "1899-12-31"),
    ("anniversaryDate", "1990-12-09"),  # the day before ADA's dateOfBirth
    ("anniversaryDate", "0001-01-01"),
    ("anniversaryDate", "2023-02-29"),
    ("anniversaryDate", "2030-01-01"),
    ("anniversaryDate", "2015/08/01"),
    ("anniversaryDate", True),
    ("firstName", ""),
    ("firstName", "   "),
    ("firstName", "x" * 101),
    ("firstName", "Ada\u0000"),
    ("firstName", "Ada\nLovelace"),
    ("firstName", "Ada\u007f"),
    ("firstName", 42),
    ("firstName", ["Ada"]),
    ("firstName", None),
    ("firstName", "\u200b"),  # nothing visible
    ("firstName", "\u3164"),  # a Hangul filler, a letter by category
    ("firstName", "\u2800\u3000"),
    ("firstName", "Ada\u202e"),  # a right-to-left override
    ("lastName", "\u2067Lovelace\u2069"),
    ("lastName", ""),
    ("lastName", "y" * 101),
    ("lastName", "Love\tlace"),
    ("lastName", {"name": "Lovelace"}),
    ("email", "ada@example.com"),
    ("id", NOBODY),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v in BAD_FIELDS])
def test_a_bad_field_is_a_400_naming_it(client: Client, field: str, value: Any) -> None:
    response = send(client, "POST", "/user", {**ADA, field: value})
    error = assert_error(response, 400, field)
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [field]
    assert client.http.get("/user").json_body["items"] == []  # nothing was created


@pytest.mark.parametrize(
    ("field", "value"), BAD_FIELDS[::3], ids=[f"{f}={v!r}"[:40] for f, v in BAD_FIELDS[::3]]
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_bad_field_in_a_change_is_a_400_and_changes_nothing(
    client: Client, method: str, field: str, value: Any
) -> None:
    user = create(client)
    before = events(client, user["id"])
    body = {**ADA, field: value} if method == "PUT" else {field: value}
    assert_error(send(client, method, f"/user/{user['id']}", body), 400, field)
    assert client.http.get(f"/user/{user['id']}").json_body == user
    assert events(client, user["id"]) == before


BAD_BODIES = [
    ("{", "body"),
    ('{"firstName": "Ada",}', "body"),
    ("", "body"),
    ("[" * 100_000, "body"),  # deeper than Python's recursion limit
    ("[]", "body"),
    ('"Ada"', "body"),
    ("42", "body"),
    ("null", "body"),
    ("NaN", "body"),
    (b"\xff\xfe{}", "body"),
]


@pytest.mark.parametrize(("raw", "field"), BAD_BODIES, ids=[repr(r)[:20] for r, _ in BAD_BODIES])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_that_is_not_a_json_object_is_a_400(
    client: Client, method: str, raw: str | bytes, field: str
) -> None:
    path = "/user" if method == "POST" else f"/user/{create(client)['id']}"
    assert_error(send(client, method, path, raw=raw), 400, field)


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "123", "3f1e9a52-8d4c-4b7e-9a61-2c5d8e0f4b1", "%20", "null"]
)
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("PUT", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/events")]
)
def test_a_malformed_id_is_a_400(client: Client, method: str, suffix: str, bad_id: str) -> None:
    body = ADA if method in ("PUT", "PATCH") else None
    error = assert_error(send(client, method, f"/user/{bad_id}{suffix}", body), 400, "id")
    assert error["details"] == [{"field": "id", "message": "must be a UUID"}]


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("PUT", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/events")]
)
def test_an_unknown_id_is_a_404(client: Client, method: str, suffix: str) -> None:
    body = ADA if method in ("PUT", "PATCH") else None
    error = assert_error(send(client, method, f"/user/{NOBODY}{suffix}", body), 404)
    assert error["code"] == "not_found"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "1e2", "٣"])
def test_a_bad_limit_is_a_400(client: Client, limit: str) -> None:
    assert_error(client.http.get(f"/user?limit={limit}"), 400, "limit")


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "!!!!",
        base64.urlsafe_b64encode(b"short").decode(),
        base64.urlsafe_b64encode(uuid.UUID(int=2**127 + 17).bytes + b"x").decode(),  # a UUID and a byte: 17
        "%C3%A9t%C3%A9",
    ],
)
def test_a_bad_cursor_is_a_400(client: Client, cursor: str) -> None:
    assert_error(client.http.get(f"/user?cursor={cursor}"), 400, "cursor")


def test_an_unknown_query_parameter_is_a_400(client: Client) -> None:
    assert_error(client.http.get("/user?page=2"), 400, "page")


@pytest.mark.parametrize(
    "query", ["limit=5&limit=6", "externalId=a&externalId=b", "cursor=x&limit=5&cursor=x"]
)
def test_a_repeated_query_parameter_is_a_400_naming_it(client: Client, query: str) -> None:
    name = query.split("=")[0]
    error = assert_error(client.http.get(f"/user?{query}"), 400)
    assert error["details"] == [{"field": name, "message": "is given more than once"}]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=120),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=6,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from(["1990-12-10", "2023-02-29", "2999-12-31", "Europe/London", "../../etc/passwd", "Ada"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries({}, optional=dict.fromkeys([*ADA, "anniversaryDate", "extra"], FIELD_VALUES)),
    )
)
def test_no_body_is_ever_a_500(client: Client, body: Any) -> None:
    response = send(client, "POST", "/user", raw=json.dumps(body))
    assert response.status_code in (201, 400), response.body
    if response.status_code == 400:
        assert_error(response, 400)


# --- rescheduling --------------------------------------------------------------------------------


def patch(client: Client, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = send(client, "PATCH", f"/user/{user_id}", body)
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def test_a_new_date_of_birth_moves_the_event_to_the_next_occurrence_after_the_change(
    client: Client, clock: ManualClock
) -> None:
    user = create(client)
    before = active(client, user["id"])["birthday"]
    clock.set(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))  # four months later
    patch(client, user["id"], {"dateOfBirth": "1990-06-01"})  # this year's 1 June has passed
    after = active(client, user["id"])["birthday"]
    assert after["id"] == before["id"]  # moved in place
    assert (after["targetUtc"], after["targetLocal"]) == ("2027-06-01T08:00:00Z", "2027-06-01T09:00:00+01:00")
    assert after["version"] == before["version"] + 1
    assert after["idempotencyKey"] != before["idempotencyKey"]
    patch(client, user["id"], {"dateOfBirth": "1990-08-15"})  # still ahead this year
    assert active(client, user["id"])["birthday"]["targetUtc"] == "2026-08-15T08:00:00Z"


def test_a_new_timezone_moves_the_event_and_keeps_its_key(client: Client) -> None:
    user = create(client)
    before = active(client, user["id"])["birthday"]
    patch(client, user["id"], {"timezone": "Pacific/Kiritimati"})
    after = active(client, user["id"])["birthday"]
    assert (after["targetUtc"], after["targetLocal"], after["timezone"]) == (
        "2026-12-09T19:00:00Z",
        "2026-12-10T09:00:00+14:00",
        "Pacific/Kiritimati",
    )
    assert after["idempotencyKey"] == before["idempotencyKey"]
    assert len(events(client, user["id"])) == 1


def test_a_timezone_change_on_the_day_keeps_the_birthday_if_it_is_still_ahead(
    client: Client, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 12, 9, 12, 0, tzinfo=UTC))
    user = create(client)
    # 10 December 09:30 UTC: London's 09:00 has passed, but Pago Pago's (20:00 UTC) has not.
    clock.set(datetime(2026, 12, 10, 9, 30, tzinfo=UTC))
    patch(client, user["id"], {"timezone": "Pacific/Pago_Pago"})
    assert active(client, user["id"])["birthday"]["targetUtc"] == "2026-12-10T20:00:00Z"
    # Moving to Tokyo, whose 09:00 on 10 December has gone, it is next year's.
    patch(client, user["id"], {"timezone": "Asia/Tokyo"})
    assert active(client, user["id"])["birthday"]["targetUtc"] == "2027-12-10T00:00:00Z"


def test_an_anniversary_set_changed_and_cleared(client: Client, clock: ManualClock) -> None:
    user = create(client)
    assert set(active(client, user["id"])) == {"birthday"}

    patch(client, user["id"], {"anniversaryDate": "2015-08-01"})
    first = active(client, user["id"])["anniversary"]
    assert first["targetUtc"] == "2026-08-01T08:00:00Z"

    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    patch(client, user["id"], {"anniversaryDate": "2015-04-20"})  # passed this year
    moved = active(client, user["id"])["anniversary"]
    assert (moved["id"], moved["targetUtc"]) == (first["id"], "2027-04-20T08:00:00Z")

    patched = patch(client, user["id"], {"anniversaryDate": None})
    assert patched["anniversaryDate"] is None
    assert set(active(client, user["id"])) == {"birthday"}
    [cancelled] = [e for e in events(client, user["id"]) if e["eventType"] == "anniversary"]
    assert (cancelled["id"], cancelled["status"]) == (first["id"], "CANCELLED")


def test_a_put_reschedules_too(client: Client) -> None:
    user = create(client)
    response = send(client, "PUT", f"/user/{user['id']}", {**ADA, "timezone": "America/St_Johns"})
    assert response.status_code == 200
    assert active(client, user["id"])["birthday"]["targetLocal"] == "2026-12-10T09:00:00-03:30"


def test_a_name_change_does_not_move_the_event(client: Client) -> None:
    user = create(client)
    before = events(client, user["id"])
    patch(client, user["id"], {"firstName": "Augusta", "lastName": "King"})
    assert events(client, user["id"]) == before


# --- without a database ------------------------------------------------------------------------


def test_without_the_database_health_says_so_and_requests_get_a_503(clock: ManualClock) -> None:
    unreachable = "postgresql://nobody@/postgres?host=/nonexistent-socket-dir"
    container = bootstrap.Container(Settings(database_url=unreachable), clock)
    container.use(db=Database(unreachable, timeout=0.2))
    bootstrap.install(container)
    try:
        with AuthorizedClient(app, token=admin_token()) as client:
            health = client.http.get("/health")
            assert health.status_code == 503
            assert health.json_body == {"status": "degraded", "database": "unreachable"}
            error = assert_error(send(client, "POST", "/user", ADA), 503)
            assert error["code"] == "unavailable"
            assert_error(client.http.get(f"/user/{NOBODY}"), 503)
    finally:
        container.db.close()
        bootstrap.install(None)


def test_metadata_nested_deep_within_its_size_is_stored_as_sent(client: Client) -> None:
    # 600 levels is under the 4 KB limit and the JSON parser's depth, and deeper than a
    # recursive copy can go: it once came back as a 500.
    metadata: dict[str, Any] = {"leaf": True}
    for _ in range(600):
        metadata = {"a": metadata}
    response = client.http.post("/user", headers=JSON, body=json.dumps({**ADA, "metadata": metadata}))
    assert response.status_code == 201, response.body
    assert response.json_body["metadata"] == metadata
