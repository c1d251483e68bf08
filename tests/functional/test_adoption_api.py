"""What an integrating team relies on (issue 15), through the authorizer with real tokens:
its own externalId and metadata on users, and POST /user/import.

The `clock` fixture (a ManualClock at 2026-03-01T12:00Z) is the app's clock.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from chalice.test import Client
from psycopg import sql

from scripts.devstack.clock import ManualClock
from tests.functional.test_users_api import ADA, JSON, active, assert_error, create, send
from tests.tokens import bearer, token_for

META = {"plan": "pro", "tags": ["a", "b"], "nested": {"n": 1.5, "ok": True, "none": None}}


def count(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def as_role(client: Client, role: str, method: str, path: str, body: Any = None) -> Any:
    headers = {**JSON, **bearer(token_for(role, "3f1e9a52-8d4c-4b7e-9a61-2c5d8e0f4b13"))}
    return client.http.request(
        method, path, headers=headers, body=json.dumps(body) if body is not None else b""
    )


def test_external_id_and_metadata_are_set_returned_changed_and_cleared(client: Client) -> None:
    user = create(client, externalId="crm-1", metadata=META)
    assert (user["externalId"], user["metadata"]) == ("crm-1", META)
    assert client.http.get(f"/user/{user['id']}").json_body == user
    assert client.http.get("/user").json_body["items"] == [user]
    before = active(client, user["id"])

    changed = send(
        client, "PATCH", f"/user/{user['id']}", {"externalId": "crm-2", "metadata": {"plan": "free"}}
    )
    assert changed.status_code == 200, changed.body
    assert (changed.json_body["externalId"], changed.json_body["metadata"]) == ("crm-2", {"plan": "free"})
    assert active(client, user["id"]) == before  # never moves an event: same version, same target

    cleared = send(client, "PATCH", f"/user/{user['id']}", {"externalId": None, "metadata": None}).json_body
    assert (cleared["externalId"], cleared["metadata"]) == (None, None)
    assert cleared["firstName"] == "Ada"

    send(client, "PATCH", f"/user/{user['id']}", {"externalId": "crm-3", "metadata": META})
    replaced = send(client, "PUT", f"/user/{user['id']}", ADA).json_body  # PUT without them clears them
    assert (replaced["externalId"], replaced["metadata"]) == (None, None)
    assert active(client, user["id"]) == before


def test_get_user_by_external_id_returns_the_page_holding_that_user(client: Client) -> None:
    ada = create(client, externalId="crm-ada")
    create(client, externalId="crm-other", firstName="Other")
    page = client.http.get("/user?externalId=crm-ada").json_body
    assert page == {"items": [ada], "nextCursor": None}
    assert client.http.get("/user?externalId=nobody").json_body == {"items": [], "nextCursor": None}

    assert client.http.delete(f"/user/{ada['id']}").status_code == 204
    assert client.http.get("/user?externalId=crm-ada").json_body == {"items": [], "nextCursor": None}
    again = create(client, externalId="crm-ada")  # a deleted user's externalId is free again
    assert client.http.get("/user?externalId=crm-ada").json_body["items"] == [again]


def test_an_external_id_clash_is_a_409_naming_the_field_and_writes_nothing(
    client: Client, database_url: str
) -> None:
    first = create(client, externalId="crm-1")
    other = create(client, externalId="crm-2")
    response = send(client, "POST", "/user", {**ADA, "externalId": "crm-1"})
    error = assert_error(response, 409, "externalId")
    assert error["code"] == "conflict"
    assert count(database_url, "users") == 2
    assert count(database_url, "events") == 2  # one birthday each, none for the refused user

    for method, body in (("PATCH", {"externalId": "crm-1"}), ("PUT", {**ADA, "externalId": "crm-1"})):
        assert_error(send(client, method, f"/user/{other['id']}", body), 409, "externalId")
    assert client.http.get(f"/user/{other['id']}").json_body == other
    assert client.http.get(f"/user/{first['id']}").json_body == first


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metadata", {"big": "x" * 4087}),  # 4,097 bytes as compact JSON
        ("metadata", {"big": "é" * 2044}),  # 4,098 bytes in UTF-8, 2,054 characters
        ("metadata", ["not", "an", "object"]),
        ("metadata", "text"),
        ("metadata", {"nul": "a\u0000b"}),
        ("metadata", {"lone": "\ud800"}),
        ("externalId", ""),
        ("externalId", "x" * 129),
        ("externalId", " padded "),
        ("externalId", "tab\there"),
        ("externalId", 42),
    ],
)
def test_bad_external_ids_and_metadata_are_400s_that_write_nothing(
    client: Client, database_url: str, field: str, value: Any
) -> None:
    response = send(client, "POST", "/user", {**ADA, field: value})
    assert_error(response, 400, field)
    assert count(database_url, "users") == 0


@pytest.mark.parametrize("raw", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}'])
def test_metadata_that_jsonb_cannot_hold_is_a_400(client: Client, database_url: str, raw: str) -> None:
    body = json.dumps(ADA)[:-1] + f', "metadata": {raw}}}'
    assert_error(send(client, "POST", "/user", raw=body), 400, "metadata")
    assert count(database_url, "users") == 0


def test_metadata_of_exactly_4096_bytes_is_kept_as_given(client: Client) -> None:
    metadata = {"big": "x" * 4077, "k": None}
    assert len(json.dumps(metadata, separators=(",", ":"))) == 4096
    user = create(client, metadata=metadata)
    assert client.http.get(f"/user/{user['id']}").json_body["metadata"] == metadata


# --- POST /user/import ------------------------------------------------------------------------


def import_users(client: Client, users: Any) -> Any:
    return send(client, "POST", "/user/import", {"users": users})


def person(n: int, **changes: Any) -> dict[str, Any]:
    return {**ADA, "firstName": f"Person{n}", "externalId": f"ext-{n}", **changes}


def test_import_creates_reports_each_user_in_order_and_one_invalid_blocks_nothing(
    client: Client, database_url: str
) -> None:
    batch = [
        person(0, metadata={"plan": "pro"}),
        person(1, timezone="Mars/Olympus"),
        {k: v for k, v in person(2).items() if k != "externalId"},
        person(3, anniversaryDate="2015-08-01"),
        person(0, firstName="Again"),
        "not an object",
    ]
    response = import_users(client, batch)
    assert response.status_code == 200, response.body
    results = response.json_body["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "created"),
        (1, "invalid"),
        (2, "invalid"),
        (3, "created"),
        (4, "invalid"),
        (5, "invalid"),
    ]
    assert results[1]["error"]["details"] == [
        {"field": "timezone", "message": "is not a known IANA time zone"}
    ]
    assert results[2]["error"]["details"] == [{"field": "externalId", "message": "is required"}]
    assert results[4]["error"]["details"][0]["field"] == "externalId"
    assert results[5]["error"]["details"][0]["field"] == "body"
    assert all(set(r) == {"index", "status", "error"} for r in results if r["status"] == "invalid")
    assert all(set(r) == {"index", "status", "id"} for r in results if r["status"] == "created")

    created = client.http.get(f"/user/{results[0]['id']}").json_body
    assert (created["externalId"], created["metadata"], created["firstName"]) == (
        "ext-0",
        {"plan": "pro"},
        "Person0",
    )
    assert count(database_url, "users") == 2
    assert set(active(client, results[3]["id"])) == {"birthday", "anniversary"}


def test_imported_users_get_the_events_post_user_gives(client: Client) -> None:
    posted = create(client, anniversaryDate="2015-08-01", timezone="Asia/Kathmandu")
    [result] = import_users(
        client, [person(1, anniversaryDate="2015-08-01", timezone="Asia/Kathmandu")]
    ).json_body["results"]
    keys = (
        "eventType",
        "status",
        "occurrenceDate",
        "targetUtc",
        "targetLocal",
        "timezone",
        "attempts",
        "version",
    )

    def shape(user_id: str) -> dict[str, tuple[Any, ...]]:
        return {t: tuple(e[k] for k in keys) for t, e in active(client, user_id).items()}

    assert shape(result["id"]) == shape(posted["id"])
    event = next(iter(active(client, result["id"]).values()))
    assert client.http.get(f"/events/{event['id']}").json_body == event


def test_import_is_idempotent_on_external_id(client: Client, database_url: str, clock: ManualClock) -> None:
    batch = [person(n, metadata={"n": n}) for n in range(5)]
    first = import_users(client, batch).json_body["results"]
    events_before = {r["id"]: active(client, r["id"]) for r in first}

    again = import_users(client, batch).json_body["results"]
    assert [(r["status"], r["id"]) for r in again] == [("unchanged", r["id"]) for r in first]
    assert count(database_url, "users") == 5
    assert {r["id"]: active(client, r["id"]) for r in again} == events_before

    clock.advance(timedelta(minutes=1))
    changed = [
        person(0, metadata={"n": "new"}),  # metadata only: the event stays as it is
        person(1, dateOfBirth="1991-07-04"),  # a date: the event moves, in place
        person(2, metadata={"n": 2}),
    ]
    results = import_users(client, changed).json_body["results"]
    assert [r["status"] for r in results] == ["updated", "updated", "unchanged"]
    assert [r["id"] for r in results] == [first[0]["id"], first[1]["id"], first[2]["id"]]
    assert active(client, first[0]["id"]) == events_before[first[0]["id"]]
    moved = active(client, first[1]["id"])["birthday"]
    old = events_before[first[1]["id"]]["birthday"]
    assert (moved["id"], moved["occurrenceDate"], moved["version"]) == (
        old["id"],
        "2026-07-04",
        old["version"] + 1,
    )
    assert client.http.get(f"/user/{first[0]['id']}").json_body["metadata"] == {"n": "new"}
    assert count(database_url, "users") == 5
    assert count(database_url, "events") == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"users": []}, "users"),
        ({"users": [person(n) for n in range(1001)]}, "users"),
        ({"users": "nope"}, "users"),
        ({"users": [person(0)], "extra": 1}, "body"),
        ([person(0)], "body"),
    ],
    ids=["empty", "1001-users", "not-a-list", "extra-key", "bare-list"],
)
def test_a_bad_import_request_is_a_400_and_writes_nothing(
    client: Client, database_url: str, body: Any, field: str
) -> None:
    assert_error(send(client, "POST", "/user/import", body), 400, field)
    assert count(database_url, "users") == 0
    assert count(database_url, "events") == 0


def test_an_import_of_1000_users_is_accepted(client: Client, database_url: str) -> None:
    results = import_users(client, [person(n) for n in range(1000)]).json_body["results"]
    assert [r["status"] for r in results] == ["created"] * 1000
    assert [r["index"] for r in results] == list(range(1000))
    assert count(database_url, "users") == 1000
    assert count(database_url, "events") == 1000


def test_import_reuses_the_external_id_of_a_deleted_user(client: Client) -> None:
    [old] = import_users(client, [person(0)]).json_body["results"]
    assert client.http.delete(f"/user/{old['id']}").status_code == 204
    [new] = import_users(client, [person(0)]).json_body["results"]
    assert new["status"] == "created"
    assert new["id"] != old["id"]


@pytest.mark.parametrize("role", ["admin", "service"])
def test_admin_and_service_may_import_and_look_up_by_external_id(client: Client, role: str) -> None:
    response = as_role(client, role, "POST", "/user/import", {"users": [person(0)]})
    assert response.status_code == 200, response.body
    found = as_role(client, role, "GET", "/user?externalId=ext-0")
    assert [u["externalId"] for u in found.json_body["items"]] == ["ext-0"]


def test_a_user_token_may_not_import_or_look_up_by_external_id(client: Client, database_url: str) -> None:
    assert_error(as_role(client, "user", "POST", "/user/import", {"users": [person(0)]}), 403)
    assert_error(as_role(client, "user", "GET", "/user?externalId=ext-0"), 403)
    assert count(database_url, "users") == 0
    no_token = client.http.request(
        "POST", "/user/import", headers={**JSON, "Authorization": "Bearer x"}, body=b"{}"
    )
    assert no_token.status_code == 401
