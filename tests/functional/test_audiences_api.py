"""Audience schedules through chalice.test.Client: POST /schedules, GET /schedules and its
filters, read, PATCH, pause, resume, delete, occurrences and audience counts of an audience
schedule; Idempotency-Key; who may; and every refusal named. Every response is checked against
the OpenAPI document (tests/contract.py).

The clock stands at Sunday 2026-03-01T12:00Z. On 2 March, 09:00 local is 00:00Z in Tokyo,
09:00Z in London and 14:00Z in New York (EST until 8 March).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.services import materialiser
from chalicelib.services.materialiser import AudiencePolicy
from tests.conftest import PostgresServer
from tests.functional.test_idempotency_api import post as idempotent_post
from tests.functional.test_users_api import assert_error, send
from tests.tokens import bearer, token_for

DIGEST = {"eventType": "digest", "start": "2026-03-02", "time": "09:00", "audience": {"all": True}}
PRO = {"metadata": {"plan": "pro"}}


def person(zone: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "dateOfBirth": "1990-12-10",
        "timezone": zone,
    }
    if metadata is not None:
        body["metadata"] = metadata
    return body


@pytest.fixture(scope="module")
def module_database(pg_server: PostgresServer, template_db: str) -> Iterator[str]:
    name = f"es_aud_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def database_url(module_database: str) -> str:
    with psycopg.connect(module_database, autocommit=True) as conn:
        conn.execute(b"TRUNCATE events, audience_progress, schedules, users")
    return module_database


def user(client: Client, zone: str, metadata: dict[str, Any] | None = None) -> str:
    response = send(client, "POST", "/user", person(zone, metadata))
    assert response.status_code == 201, response.body
    return str(response.json_body["id"])


def create(client: Client, **changes: Any) -> dict[str, Any]:
    response = send(client, "POST", "/schedules", {**DIGEST, **changes})
    assert response.status_code == 201, response.body
    return dict(response.json_body)


def refused(response: Any) -> dict[str, str]:
    error = assert_error(response, 400)
    return {d["field"]: d["message"] for d in error["details"]}


def events_of(client: Client, schedule_id: str) -> list[dict[str, Any]]:
    response = client.http.get(f"/events?{urlencode({'scheduleId': schedule_id, 'limit': 100})}")
    assert response.status_code == 200, response.body
    return list(response.json_body["items"])


def test_an_audience_schedule_is_created_with_its_earliest_next_occurrence_and_no_events(
    client: Client,
) -> None:
    user(client, "Europe/London")
    user(client, "Asia/Tokyo")
    created = create(client, payload={"template": "digest"})
    schedule_id = created.pop("id")
    assert created == {
        "audience": {"all": True},
        "eventType": "digest",
        "payload": {"template": "digest"},
        "start": "2026-03-02",
        "time": "09:00",
        "recurrence": None,
        "invalidDate": "omit",
        "dst": {"gap": "shift", "overlap": "first"},
        "status": "active",
        "nextOccurrence": {
            "localDate": "2026-03-02",
            "targetLocal": "2026-03-02T09:00:00+09:00",
            "targetUtc": "2026-03-02T00:00:00Z",
        },
        "nextLocal": "2026-03-02T09:00",
        "createdAt": "2026-03-01T12:00:00Z",
        "updatedAt": "2026-03-01T12:00:00Z",
        "version": 1,
    }
    assert events_of(client, schedule_id) == []  # written as each zone's instant approaches
    assert client.http.get(f"/schedules/{schedule_id}").json_body == {"id": schedule_id, **created}


def test_the_occurrences_are_local_dates_with_the_utc_span_of_the_audiences_zones(client: Client) -> None:
    for zone in ("Asia/Tokyo", "Europe/London", "America/New_York"):
        user(client, zone)
    made = create(client, recurrence="FREQ=DAILY")
    response = client.http.get(f"/schedules/{made['id']}/occurrences?limit=2")
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "items": [
            {"localDate": "2026-03-02", "localTime": "09:00", "firstUtc": "2026-03-02T00:00:00Z",
             "lastUtc": "2026-03-02T14:00:00Z", "zones": 3},
            {"localDate": "2026-03-03", "localTime": "09:00", "firstUtc": "2026-03-03T00:00:00Z",
             "lastUtc": "2026-03-03T14:00:00Z", "zones": 3},
        ]
    }  # fmt: skip


def test_a_metadata_audience_reaches_only_its_members_zones(client: Client) -> None:
    user(client, "Asia/Tokyo", {"plan": "free"})
    user(client, "Europe/London", {"plan": "pro", "seats": 3})
    made = create(client, audience=PRO)
    assert made["audience"] == PRO
    assert made["nextOccurrence"]["targetUtc"] == "2026-03-02T09:00:00Z"  # Tokyo has no member


def test_the_occurrence_is_written_per_member_and_counted(
    client: Client, container: bootstrap.Container
) -> None:
    london = user(client, "Europe/London", {"plan": "pro"})
    user(client, "Europe/London", {"plan": "free"})
    made = create(client, audience=PRO)
    container.clock.set(container.clock.now().replace(day=2, hour=8, minute=50))  # type: ignore[attr-defined]
    sent: list[object] = []
    materialiser.materialise(
        container.db, container.clock, AudiencePolicy(), timedelta(minutes=15), sent.extend, float("inf")
    )
    [event] = events_of(client, made["id"])  # written claimed, its message handed to the sweep
    assert (event["userId"], event["occurrenceDate"], event["status"]) == (london, "2026-03-02", "PROCESSING")
    assert len(sent) == 1
    assert event["targetLocal"] == "2026-03-02T09:00:00+00:00"
    response = client.http.get(f"/schedules/{made['id']}/audience?localDate=2026-03-02")
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "scheduleId": made["id"], "localDate": "2026-03-02", "audience": 1, "received": 0, "coming": 1
    }  # fmt: skip


def test_every_schedule_is_listed_with_filters_and_cursor_pages(client: Client) -> None:
    ada = user(client, "Europe/London")
    mine = send(
        client,
        "POST",
        f"/user/{ada}/schedules",
        {"eventType": "weekly", "start": "2026-03-02", "time": "08:00"},
    )
    assert mine.status_code == 201, mine.body
    first, second = create(client), create(client, eventType="invoice", audience=PRO)
    client.http.post(f"/schedules/{second['id']}/pause")

    def ids(query: str) -> list[str]:
        response = client.http.get(f"/schedules?{query}")
        assert response.status_code == 200, response.body
        return [item["id"] for item in response.json_body["items"]]

    everyone = sorted([mine.json_body["id"], first["id"], second["id"]])
    assert ids("") == everyone
    assert ids("audience=true") == sorted([first["id"], second["id"]])
    assert ids("audience=false") == [mine.json_body["id"]]
    assert ids("eventType=invoice") == [second["id"]]
    assert ids("status=paused") == [second["id"]]
    page = client.http.get("/schedules?limit=2").json_body
    assert [i["id"] for i in page["items"]] == everyone[:2]
    rest = client.http.get(f"/schedules?limit=2&cursor={page['nextCursor']}").json_body
    assert ([i["id"] for i in rest["items"]], rest["nextCursor"]) == (everyone[2:], None)


def test_patch_pause_resume_and_delete(client: Client) -> None:
    user(client, "Europe/London")
    made = create(client, recurrence="FREQ=DAILY")
    sid = made["id"]
    # A merge patch: {"all": null} removes the member the new audience replaces.
    change = {"time": "10:30", "audience": {"all": None, **PRO}, "payload": {"v": 2}}
    patched = send(client, "PATCH", f"/schedules/{sid}", change)
    assert patched.status_code == 200, patched.body
    assert (patched.json_body["time"], patched.json_body["audience"], patched.json_body["version"]) == (
        "10:30",
        PRO,
        2,
    )
    assert patched.json_body["nextOccurrence"] is None  # nobody is a member yet
    user(client, "Europe/London", {"plan": "pro"})
    assert client.http.get(f"/schedules/{sid}").json_body["nextLocal"] == "2026-03-02T10:30"
    paused = client.http.post(f"/schedules/{sid}/pause")
    assert (paused.json_body["status"], paused.json_body["nextOccurrence"]) == ("paused", None)
    resumed = send(client, "POST", f"/schedules/{sid}/resume", {"catchUp": "latest"})
    assert resumed.json_body["status"] == "active"
    assert client.http.delete(f"/schedules/{sid}").status_code == 204
    assert_error(client.http.get(f"/schedules/{sid}"), 404)


def test_every_wrong_field_is_named(client: Client) -> None:
    cases = [
        ({"audience": None}, {"audience": "is required"}),
        ({"timezone": "Europe/London"}, {"timezone": "is not a known field"}),
        ({"audience": {"all": False}}, {"audience.all": "must be true (or give metadata instead)"}),
        ({"audience": {"metadata": 5}}, {"audience.metadata": "must be a JSON object"}),
        ({"audience": {"everyone": True}}, {"audience.everyone": "is not a known field"}),
        (
            {"audience": {"all": True, "metadata": {}}},
            {"audience": 'must be {"all": true} or {"metadata": {...}}'},
        ),
        ({"audience": []}, {"audience": 'must be {"all": true} or {"metadata": {...}}'}),
        (
            {"start": "2026-02-27"},
            {"start": "with time, this one-time schedule's instant is past in every zone"},
        ),
        ({"recurrence": "FREQ=HOURLY"}, None),
    ]
    for changes, expected in cases:
        found = refused(send(client, "POST", "/schedules", {**DIGEST, **changes}))
        if expected is None:
            assert list(found) == ["recurrence.FREQ"], found
        else:
            assert found == expected, changes
    made = create(client)
    assert refused(send(client, "PATCH", f"/schedules/{made['id']}", {"timezone": "UTC"})) == {
        "timezone": "is not a known field"
    }
    assert refused(client.http.get("/schedules?audience=maybe&status=gone&eventType=A")) == {
        "audience": "must be true or false",
        "status": "must be one of active, paused, ended",
        "eventType": "must match ^[a-z][a-z0-9_.-]{0,63}$",
    }
    assert list(refused(client.http.get(f"/schedules/{made['id']}/audience"))) == ["localDate"]
    assert list(refused(client.http.get(f"/schedules/{made['id']}/audience?localDate=2026-3-2"))) == [
        "localDate"
    ]


def test_a_one_time_schedule_for_today_is_accepted_while_some_zone_has_it_ahead(client: Client) -> None:
    user(client, "America/Los_Angeles")
    made = create(client, start="2026-03-01")  # 09:00 is past in London, ahead in Los Angeles
    assert made["nextOccurrence"]["targetUtc"] == "2026-03-01T17:00:00Z"


def test_a_users_schedule_has_no_audience_counts(client: Client) -> None:
    ada = user(client, "Europe/London")
    mine = send(
        client,
        "POST",
        f"/user/{ada}/schedules",
        {"eventType": "weekly", "start": "2026-03-02", "time": "08:00"},
    )
    assert_error(client.http.get(f"/schedules/{mine.json_body['id']}/audience?localDate=2026-03-02"), 404)
    assert refused(send(client, "PATCH", f"/schedules/{mine.json_body['id']}", {"audience": PRO})) == {
        "audience": "is not a known field"
    }


def test_idempotency_key_replays_the_creation(client: Client, database_url: str) -> None:
    first = idempotent_post(client, DIGEST, key="aud-1", path="/schedules")
    again = idempotent_post(client, DIGEST, key="aud-1", path="/schedules")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    other = idempotent_post(client, {**DIGEST, "time": "10:00"}, key="aud-1", path="/schedules")
    assert assert_error(other, 409)["code"] == "idempotency_key_reused"
    with psycopg.connect(database_url) as conn:
        assert conn.execute(b"SELECT count(*) FROM schedules").fetchone() == (1,)


def test_a_user_token_may_not_touch_audience_schedules(client: Client) -> None:
    ada = user(client, "Europe/London")
    made = create(client)
    token = bearer(token_for("user", ada))
    sid = made["id"]
    json_headers = {**token, "Content-Type": "application/json"}
    for method, path, body in [
        ("POST", "/schedules", DIGEST),
        ("GET", "/schedules", None),
        ("GET", f"/schedules/{sid}", None),
        ("PATCH", f"/schedules/{sid}", {"time": "10:00"}),
        ("DELETE", f"/schedules/{sid}", None),
        ("POST", f"/schedules/{sid}/pause", None),
        ("GET", f"/schedules/{sid}/occurrences", None),
        ("GET", f"/schedules/{sid}/audience?localDate=2026-03-02", None),
    ]:
        import json

        response = client.http.request(
            method, path, headers=json_headers, body=json.dumps(body).encode() if body else b""
        )
        assert_error(response, 403)
    assert client.http.get(f"/schedules/{sid}").json_body["version"] == 1
