"""Who may do what to schedules, with real tokens through the authorizer: a `user` token manages
its own user's schedules only, and another user's schedule gets the same 403 as one that does
not exist, before its body is read; admin and service manage any; nothing changes on a refusal."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from chalice import test as chalice_test

from chalicelib.domain.errors import Forbidden
from tests.functional.conftest import AuthorizedClient
from tests.tokens import bearer, token_for

JSON = {"Content-Type": "application/json"}
ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}
BOB = {"firstName": "Bob", "lastName": "Dylan", "dateOfBirth": "1941-05-24", "timezone": "America/Chicago"}
WEEKLY = {
    "eventType": "weekly_digest",
    "start": "2026-03-01",
    "time": "08:00",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO",
}


def snapshot(database_url: str) -> list[list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        return [
            conn.execute(query).fetchall()
            for query in (
                b"SELECT * FROM users ORDER BY id",
                b"SELECT * FROM schedules ORDER BY id",
                b"SELECT * FROM events ORDER BY id",
            )
        ]


@pytest.fixture
def people(client: AuthorizedClient) -> dict[str, dict[str, str]]:
    """Two users and a schedule each, made by the admin client: their ids."""
    found = {}
    for name, body in (("ada", ADA), ("bob", BOB)):
        user = client.http.post("/user", headers=JSON, body=json.dumps(body)).json_body["id"]
        made = client.http.post(f"/user/{user}/schedules", headers=JSON, body=json.dumps(WEEKLY))
        assert made.status_code == 201, made.body
        found[name] = {"user": user, "schedule": made.json_body["id"]}
    return found


def every_request(
    http: chalice_test.TestHTTPClient, headers: dict[str, str], user_id: str, schedule_id: str, body: str
) -> list[chalice_test.HTTPResponse]:
    """One of each schedule operation, aimed at these ids, with this body where one is taken."""
    sent = {**JSON, **headers}
    return [
        http.post(f"/user/{user_id}/schedules", headers=sent, body=body),
        http.get(f"/user/{user_id}/schedules", headers=headers),
        http.get(f"/schedules/{schedule_id}", headers=headers),
        http.get(f"/schedules/{schedule_id}/occurrences?limit=2", headers=headers),
        http.patch(f"/schedules/{schedule_id}", headers=sent, body=body),
        http.post(f"/schedules/{schedule_id}/pause", headers=headers),
        http.post(f"/schedules/{schedule_id}/resume", headers=sent, body=body),
        http.delete(f"/schedules/{schedule_id}", headers=headers),
    ]


def test_a_user_manages_its_own_schedules(
    client: AuthorizedClient, people: dict[str, dict[str, str]]
) -> None:
    ada = people["ada"]
    auth = bearer(token_for("user", ada["user"]))
    created = client.http.post(
        f"/user/{ada['user']}/schedules", headers={**JSON, **auth}, body=json.dumps(WEEKLY)
    )
    assert created.status_code == 201, created.body
    mine = created.json_body["id"]
    listed = client.http.get(f"/user/{ada['user']}/schedules", headers=auth).json_body["items"]
    assert sorted(s["id"] for s in listed) == sorted([ada["schedule"], mine])
    assert client.http.get(f"/schedules/{mine}", headers=auth).status_code == 200
    assert (
        len(client.http.get(f"/schedules/{mine}/occurrences?limit=2", headers=auth).json_body["items"]) == 2
    )
    patched = client.http.patch(f"/schedules/{mine}", headers={**JSON, **auth}, body='{"time": "09:00"}')
    assert (patched.status_code, patched.json_body["time"]) == (200, "09:00")
    assert client.http.post(f"/schedules/{mine}/pause", headers=auth).json_body["status"] == "paused"
    resumed = client.http.post(
        f"/schedules/{mine}/resume", headers={**JSON, **auth}, body='{"catchUp": "all"}'
    )
    assert resumed.json_body["status"] == "active"
    assert client.http.delete(f"/schedules/{mine}", headers=auth).status_code == 204
    # Gone: the same 403 as any schedule it cannot see (it cannot tell whose it was).
    assert client.http.get(f"/schedules/{mine}", headers=auth).status_code == 403


@pytest.mark.parametrize("target", ["bob", "nobody"])
@pytest.mark.parametrize("body", [json.dumps(WEEKLY), "not json", '{"eventType": "Bad"}'])
def test_a_user_cannot_touch_another_users_schedules_and_learns_nothing(
    client: AuthorizedClient, people: dict[str, dict[str, str]], database_url: str, target: str, body: str
) -> None:
    """Refused before the body is read: a good one, a malformed one and a wrong one alike."""
    auth = bearer(token_for("user", people["ada"]["user"]))
    ids = people.get(target, {"user": str(uuid.uuid4()), "schedule": str(uuid.uuid4())})
    before = snapshot(database_url)
    responses = every_request(client.http, auth, ids["user"], ids["schedule"], body)
    assert [r.status_code for r in responses] == [403] * len(responses)
    forbidden = {"code": "forbidden", "message": Forbidden().message, "details": []}
    assert all(r.json_body == {"error": forbidden} for r in responses)
    assert len({r.body for r in responses}) == 1  # byte for byte the same, whatever the target
    assert snapshot(database_url) == before


@pytest.mark.parametrize("role", ["admin", "service"])
def test_admin_and_service_manage_any_users_schedules(
    client: AuthorizedClient, people: dict[str, dict[str, str]], role: str
) -> None:
    auth = bearer(token_for(role, "svc-crm"))
    bob = people["bob"]
    responses = every_request(client.http, auth, bob["user"], bob["schedule"], "{}")
    statuses = [r.status_code for r in responses]
    # POST {} is a 400: eventType, start and time are required. The rest in order: pause, then resume.
    assert statuses == [400, 200, 200, 200, 200, 200, 200, 204], [r.body for r in responses]


def test_no_token_or_a_bad_one_gets_401_and_changes_nothing(
    client: AuthorizedClient, people: dict[str, dict[str, str]], database_url: str
) -> None:
    ada = people["ada"]
    before = snapshot(database_url)
    for headers in ({}, bearer("garbage"), bearer(token_for("admin", "x", ttl=-120))):
        for response in every_request(
            client.anonymous, headers, ada["user"], ada["schedule"], json.dumps(WEEKLY)
        ):
            assert response.status_code == 401, response.body
    assert snapshot(database_url) == before


def test_a_token_with_no_known_role_may_do_nothing(
    client: AuthorizedClient, people: dict[str, dict[str, str]], database_url: str
) -> None:
    ada = people["ada"]
    auth = bearer(token_for("Admin", ada["user"]))
    before = snapshot(database_url)
    responses = every_request(client.http, auth, ada["user"], ada["schedule"], json.dumps(WEEKLY))
    assert {r.status_code for r in responses} == {403}
    assert snapshot(database_url) == before
