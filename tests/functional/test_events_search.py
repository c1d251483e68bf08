"""GET /events (issue 15): filters, order and paging, through the authorizer with real tokens.

Events come from POST /user/import; a few are then moved to other states in SQL, the way the
pipeline would leave them, so that every filter has something to tell apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from chalice.test import Client

from tests.functional.test_adoption_api import as_role, person
from tests.functional.test_users_api import assert_error, send

ZONES = ["UTC", "Asia/Kathmandu", "America/New_York", "Australia/Lord_Howe"]


@pytest.fixture
def everything(client: Client, database_url: str) -> list[dict[str, Any]]:
    """40 users (several sharing a birthday and zone, so targets tie), 50 events, some FAILED,
    some COMPLETED late; all events as the API shows them, in (targetUtc, id) order."""
    users = [
        person(
            n,
            dateOfBirth=f"1990-{1 + n % 4:02d}-{10 + n % 3:02d}",
            timezone=ZONES[n % len(ZONES)],
            **({"anniversaryDate": "2015-08-01"} if n % 4 == 0 else {}),
        )
        for n in range(40)
    ]
    results = send(client, "POST", "/user/import", {"users": users}).json_body["results"]
    assert {r["status"] for r in results} == {"created"}
    with psycopg.connect(database_url) as conn:
        conn.execute(
            b"UPDATE events SET status = 'FAILED', failure_reason = 'HTTP 410' WHERE user_id IN"
            b" (SELECT id FROM users WHERE first_name IN ('Person1', 'Person5', 'Person9'))"
        )
        conn.execute(
            b"UPDATE events SET status = 'COMPLETED', late = true,"
            b" delivered_at = target_utc + interval '1 hour'"
            b" WHERE user_id IN (SELECT id FROM users WHERE first_name IN ('Person2', 'Person6'))"
        )
    found = [e for r in results for e in client.http.get(f"/user/{r['id']}/events").json_body["items"]]
    assert len(found) == 50
    return sorted(found, key=lambda e: (e["targetUtc"], e["id"]))


def walk(client: Client, limit: int, **filters: str) -> list[dict[str, Any]]:
    """Every page of GET /events with these filters."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**filters, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = client.http.get(f"/events?{urlencode(query)}")
        assert response.status_code == 200, response.body
        page = response.json_body
        assert set(page) == {"items", "nextCursor"}
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def test_without_filters_every_event_in_target_then_id_order_across_pages(
    client: Client, everything: list[dict[str, Any]]
) -> None:
    assert walk(client, 7) == everything
    assert walk(client, 100) == everything
    first = client.http.get("/events").json_body
    assert first["items"] == everything[:20]
    assert first["nextCursor"]
    ties = len(everything) - len({e["targetUtc"] for e in everything})
    assert ties > 10  # the id tiebreak is exercised


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"status": "FAILED"}, lambda e: e["status"] == "FAILED"),
        (
            {"status": "PENDING", "eventType": "anniversary"},
            lambda e: e["status"] == "PENDING" and e["eventType"] == "anniversary",
        ),
        ({"late": "true"}, lambda e: e["late"]),
        ({"late": "false", "status": "COMPLETED"}, lambda e: False),
        ({"late": "false"}, lambda e: not e["late"]),
        (
            {"from": "2026-02-10T00:00:00Z", "to": "2026-03-11T09:00:00+05:45"},
            lambda e: iso("2026-02-10T00:00:00Z") <= iso(e["targetUtc"]) < iso("2026-03-11T03:15:00Z"),
        ),
        ({"from": "2026-04-01"}, lambda e: iso(e["targetUtc"]) >= datetime(2026, 4, 1, tzinfo=UTC)),
        ({"to": "2027-01-11T14:00:00Z"}, lambda e: iso(e["targetUtc"]) < iso("2027-01-11T14:00:00Z")),
    ],
    ids=[
        "failed",
        "pending-anniversaries",
        "late",
        "on-time-completed",
        "on-time",
        "from-to",
        "from-a-date",
        "to-exclusive",
    ],
)
def test_each_filter_keeps_exactly_what_it_says(
    client: Client, everything: list[dict[str, Any]], filters: dict[str, str], keep: Any
) -> None:
    expected = [e for e in everything if keep(e)]
    assert walk(client, 4, **filters) == expected
    assert filters.get("late") == "false" or expected or filters.get("status") == "COMPLETED"


def test_the_user_filter_and_a_to_bound_that_equals_a_target(
    client: Client, everything: list[dict[str, Any]]
) -> None:
    some = everything[3]
    mine = [e for e in everything if e["userId"] == some["userId"]]
    assert walk(client, 1, userId=some["userId"]) == mine
    before = walk(client, 100, to=some["targetUtc"])
    assert before == [e for e in everything if e["targetUtc"] < some["targetUtc"]]
    assert some not in before
    assert some in walk(client, 100, **{"from": some["targetUtc"]})


def test_bad_parameters_are_one_400_naming_each(client: Client, everything: list[dict[str, Any]]) -> None:
    query = urlencode(
        {
            "status": "DONE",
            "eventType": "Wedding",  # a schedule's own type would do: lower case
            "userId": "42",
            "scheduleId": "43",
            "from": "2026-13-01T00:00:00Z",
            "to": "2026-03-01T09:00:00",
            "late": "yes",
            "limit": "0",
            "cursor": "!!",
            "colour": "red",
        }
    )
    error = assert_error(client.http.get(f"/events?{query}"), 400)
    fields = {d["field"] for d in error["details"]}
    assert fields == {
        "status", "eventType", "userId", "scheduleId", "from", "to", "late", "limit", "cursor", "colour"
    }  # fmt: skip
    same = client.http.get("/events?from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z")
    assert_error(same, 400, "to")
    assert_error(client.http.get("/events?limit=101"), 400, "limit")


def test_a_repeated_parameter_is_named_with_every_other_bad_one(client: Client) -> None:
    query = "status=FAILED&status=PENDING&limit=5&limit=6&late=yes&colour=red&colour=blue&eventType=birthday"
    error = assert_error(client.http.get(f"/events?{query}"), 400)
    assert sorted((d["field"], d["message"]) for d in error["details"]) == [
        ("colour", "is not a known query parameter"),
        ("late", "must be true or false"),
        ("limit", "is given more than once"),
        ("status", "is given more than once"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("from", "9999-12-31T23:59:59-23:59"),  # past year 9999 in UTC
        ("to", "9999-12-31T23:59:59-00:01"),
        ("from", "0001-01-01T00:00:00+00:01"),  # before year 1 in UTC
        ("to", "0001-01-01T00:00:00+23:59"),
    ],
)
def test_an_instant_beyond_the_calendar_in_utc_is_a_400_naming_it(
    client: Client, name: str, value: str
) -> None:
    error = assert_error(client.http.get(f"/events?{urlencode({name: value})}"), 400, name)
    assert error["details"] == [{"field": name, "message": "is outside the years 1 to 9999 in UTC"}]


def test_instants_at_the_edges_of_the_calendar_are_accepted(client: Client) -> None:
    query = urlencode({"from": "0001-01-01T00:00:00-23:59", "to": "9999-12-31T23:59:59+23:59"})
    assert client.http.get(f"/events?{query}").json_body == {"items": [], "nextCursor": None}
    query = urlencode({"from": "0001-01-01", "to": "9999-12-31T23:59:59.999999Z"})
    assert client.http.get(f"/events?{query}").status_code == 200


@pytest.mark.parametrize("role", ["admin", "service"])
def test_admin_and_service_may_search_events(
    client: Client, everything: list[dict[str, Any]], role: str
) -> None:
    response = as_role(client, role, "GET", "/events?status=FAILED&limit=100")
    assert response.status_code == 200
    assert len(response.json_body["items"]) == sum(e["status"] == "FAILED" for e in everything)


def test_a_user_token_may_not_search_events(client: Client, everything: list[dict[str, Any]]) -> None:
    assert_error(as_role(client, "user", "GET", "/events"), 403)
    assert client.http.request("GET", "/events", headers={"Authorization": "Bearer nope"}).status_code == 401
