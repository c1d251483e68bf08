"""The schedules API through chalice.test.Client: every route, the issue's examples worked out by
hand, patches, pause and resume, the events a schedule makes, and every refusal named.

The clock stands at Sunday 2026-03-01T12:00Z (tests/conftest.py's START) unless a test moves
it. Dates worth knowing: New York springs forward on Sunday 8 March 2026 (EST -05:00 to EDT
-04:00) and falls back on Sunday 1 November; London springs forward on Sunday 29 March.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from chalice.test import Client

from scripts.devstack.clock import ManualClock
from tests.conftest import PostgresServer
from tests.functional.test_idempotency_api import post as idempotent_post
from tests.functional.test_users_api import assert_error, send

ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-12-10",
    "timezone": "America/New_York",
}
WEEKLY = {
    "eventType": "weekly_digest",
    "start": "2026-03-01",
    "time": "08:00",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO",
}
NOBODY = "3f1e9a52-8d4c-4b7e-9a61-2c5d8e0f4b13"


@pytest.fixture(scope="module")
def module_database(pg_server: PostgresServer, template_db: str) -> Iterator[str]:
    name = f"es_sched_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def database_url(module_database: str) -> str:
    """One database for this module, emptied before each test (as test_users_api does)."""
    with psycopg.connect(module_database, autocommit=True) as conn:
        conn.execute(b"TRUNCATE events, audience_progress, schedules, users")
    return module_database


@pytest.fixture
def ada(client: Client) -> str:
    response = send(client, "POST", "/user", ADA)
    assert response.status_code == 201, response.body
    return str(response.json_body["id"])


def create(client: Client, user_id: str, **body: Any) -> dict[str, Any]:
    response = send(client, "POST", f"/user/{user_id}/schedules", body)
    assert response.status_code == 201, response.body
    return dict(response.json_body)


def occurrence(local_date: str, target_local: str, target_utc: str) -> dict[str, str]:
    return {"localDate": local_date, "targetLocal": target_local, "targetUtc": target_utc}


def preview(client: Client, schedule_id: str, **query: Any) -> list[dict[str, str]]:
    suffix = f"?{urlencode(query)}" if query else ""
    response = client.http.get(f"/schedules/{schedule_id}/occurrences{suffix}")
    assert response.status_code == 200, response.body
    assert set(response.json_body) == {"items"}
    return list(response.json_body["items"])


def schedule_events(client: Client, schedule_id: str) -> list[dict[str, Any]]:
    response = client.http.get(f"/events?{urlencode({'scheduleId': schedule_id, 'limit': 100})}")
    assert response.status_code == 200, response.body
    return list(response.json_body["items"])


def refused(response: Any) -> dict[str, str]:
    """A 400's details, field to message."""
    error = assert_error(response, 400)
    assert error["code"] == "validation_error"
    return {d["field"]: d["message"] for d in error["details"]}


# --- create and read: the examples, worked out by hand -----------------------------------


def test_a_one_time_reminder_three_days_before_a_trial_ends_at_10_in_the_users_zone(
    client: Client, ada: str
) -> None:
    """The trial ends on Thursday 12 March: 3 days before is Monday 9 March, after New York's
    spring-forward, so 10:00 EDT (-04:00) is 14:00 UTC."""
    body = {"eventType": "trial.ending", "start": "2026-03-09", "time": "10:00", "payload": {"daysLeft": 3}}
    created = create(client, ada, **body)
    schedule_id = created.pop("id")
    assert uuid.UUID(schedule_id).version == 4
    expected = occurrence("2026-03-09", "2026-03-09T10:00:00-04:00", "2026-03-09T14:00:00Z")
    assert created == {
        "userId": ada,
        "eventType": "trial.ending",
        "payload": {"daysLeft": 3},
        "start": "2026-03-09",
        "time": "10:00",
        "timezone": None,
        "effectiveTimezone": "America/New_York",
        "recurrence": None,
        "invalidDate": "omit",
        "dst": {"gap": "shift", "overlap": "first"},
        "status": "active",
        "nextOccurrence": expected,
        "createdAt": "2026-03-01T12:00:00Z",
        "updatedAt": "2026-03-01T12:00:00Z",
        "version": 1,
    }
    assert client.http.get(f"/schedules/{schedule_id}").json_body == {"id": schedule_id, **created}
    assert preview(client, schedule_id) == [expected]
    [event] = schedule_events(client, schedule_id)
    assert (event["eventType"], event["status"], event["occurrenceDate"]) == (
        "trial.ending",
        "PENDING",
        "2026-03-09",
    )
    assert (event["targetUtc"], event["scheduleId"], event["userId"]) == (
        "2026-03-09T14:00:00Z",
        schedule_id,
        ada,
    )


def test_every_monday_at_08_00_crosses_new_yorks_spring_forward(client: Client, ada: str) -> None:
    """Starts on Sunday 1 March: the first Monday is 2 March (08:00 EST = 13:00 UTC); from
    9 March it is 08:00 EDT = 12:00 UTC."""
    created = create(client, ada, **WEEKLY)
    assert created["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert created["nextOccurrence"] == occurrence(
        "2026-03-02", "2026-03-02T08:00:00-05:00", "2026-03-02T13:00:00Z"
    )
    assert preview(client, created["id"], limit=3) == [
        occurrence("2026-03-02", "2026-03-02T08:00:00-05:00", "2026-03-02T13:00:00Z"),
        occurrence("2026-03-09", "2026-03-09T08:00:00-04:00", "2026-03-09T12:00:00Z"),
        occurrence("2026-03-16", "2026-03-16T08:00:00-04:00", "2026-03-16T12:00:00Z"),
    ]


LAST_WEEKDAY = {
    "eventType": "month_end.report",
    "start": "2026-03-01",
    "time": "17:30",
    "timezone": "Europe/London",
    "recurrence": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
}


def test_the_last_weekday_of_each_month_at_17_30_in_a_zone_of_its_own(client: Client, ada: str) -> None:
    """31 March 2026 is a Tuesday (after London's spring-forward on the 29th: BST, +01:00);
    30 April a Thursday; 31 May a Sunday, so Friday 29 May; 30 June a Tuesday. After
    1 December: Thursday 31 December (GMT), Friday 29 January 2027 (the 31st a Sunday),
    Friday 26 February (the 28th a Sunday)."""
    created = create(client, ada, **LAST_WEEKDAY)
    assert (created["timezone"], created["effectiveTimezone"]) == ("Europe/London", "Europe/London")
    assert created["nextOccurrence"] == occurrence(
        "2026-03-31", "2026-03-31T17:30:00+01:00", "2026-03-31T16:30:00Z"
    )
    assert preview(client, created["id"], limit=4) == [
        occurrence("2026-03-31", "2026-03-31T17:30:00+01:00", "2026-03-31T16:30:00Z"),
        occurrence("2026-04-30", "2026-04-30T17:30:00+01:00", "2026-04-30T16:30:00Z"),
        occurrence("2026-05-29", "2026-05-29T17:30:00+01:00", "2026-05-29T16:30:00Z"),
        occurrence("2026-06-30", "2026-06-30T17:30:00+01:00", "2026-06-30T16:30:00Z"),
    ]
    assert preview(client, created["id"], after="2026-12-01T00:00:00Z", limit=3) == [
        occurrence("2026-12-31", "2026-12-31T17:30:00+00:00", "2026-12-31T17:30:00Z"),
        occurrence("2027-01-29", "2027-01-29T17:30:00+00:00", "2027-01-29T17:30:00Z"),
        occurrence("2027-02-26", "2027-02-26T17:30:00+00:00", "2027-02-26T17:30:00Z"),
    ]


THE_31ST = {
    "eventType": "billing.cycle",
    "start": "2026-03-01",
    "time": "09:00",
    "timezone": "Asia/Tokyo",
    "recurrence": "FREQ=MONTHLY;BYMONTHDAY=31",
}


def tokyo(*dates: str) -> list[dict[str, str]]:
    """09:00 in Tokyo (+09:00, no DST) is 00:00 UTC the same day."""
    return [occurrence(d, f"{d}T09:00:00+09:00", f"{d}T00:00:00Z") for d in dates]


@pytest.mark.parametrize(
    ("invalid_date", "dates"),
    [
        ("backward", ["2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30", "2026-07-31"]),
        ("omit", ["2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31", "2026-10-31"]),
        ("forward", ["2026-03-31", "2026-05-01", "2026-05-31", "2026-07-01", "2026-07-31"]),
    ],
)
def test_the_31st_or_the_months_last_day(
    client: Client, ada: str, invalid_date: str, dates: list[str]
) -> None:
    """backward: 30 April, 30 June; omit (RFC 5545): months without a 31st have none; forward:
    31 April is 1 May, which is not delivered twice beside 31 May... a different date."""
    created = create(client, ada, **THE_31ST, invalidDate=invalid_date)
    assert created["invalidDate"] == invalid_date
    assert created["nextOccurrence"] == tokyo("2026-03-31")[0]
    assert preview(client, created["id"], limit=5) == tokyo(*dates)


def test_the_31st_backward_in_february_of_a_common_year(client: Client, ada: str) -> None:
    created = create(client, ada, **THE_31ST, invalidDate="backward")
    assert preview(client, created["id"], after="2027-01-15T00:00:00Z", limit=3) == tokyo(
        "2027-01-31", "2027-02-28", "2027-03-31"
    )


def test_a_wall_time_in_the_spring_forward_gap_shifts_or_is_skipped(client: Client, ada: str) -> None:
    """02:30 does not exist in New York on 8 March: shift gives 03:30 EDT (07:30 UTC, the
    offset from before the gap), skip gives no occurrence that day."""
    daily = {"eventType": "nightly", "start": "2026-03-07", "time": "02:30", "recurrence": "FREQ=DAILY"}
    shifted = create(client, ada, **daily)
    assert preview(client, shifted["id"], limit=3) == [
        occurrence("2026-03-07", "2026-03-07T02:30:00-05:00", "2026-03-07T07:30:00Z"),
        occurrence("2026-03-08", "2026-03-08T03:30:00-04:00", "2026-03-08T07:30:00Z"),
        occurrence("2026-03-09", "2026-03-09T02:30:00-04:00", "2026-03-09T06:30:00Z"),
    ]
    skipped = create(client, ada, **daily, dst={"gap": "skip"})
    assert skipped["dst"] == {"gap": "skip", "overlap": "first"}
    assert [o["localDate"] for o in preview(client, skipped["id"], limit=3)] == [
        "2026-03-07",
        "2026-03-09",
        "2026-03-10",
    ]


@pytest.mark.parametrize(
    ("overlap", "expected"),
    [
        ("first", occurrence("2026-11-01", "2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00Z")),
        ("second", occurrence("2026-11-01", "2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00Z")),
    ],
)
def test_a_wall_time_that_happens_twice_takes_one_instant(
    client: Client, ada: str, overlap: str, expected: dict[str, str]
) -> None:
    body = {"eventType": "nightly", "start": "2026-10-31", "time": "01:30", "recurrence": "FREQ=DAILY"}
    created = create(client, ada, **body, dst={"overlap": overlap})
    found = preview(client, created["id"], after="2026-10-31T12:00:00Z", limit=2)
    assert found[0] == expected
    assert found[1] == occurrence("2026-11-02", "2026-11-02T01:30:00-05:00", "2026-11-02T06:30:00Z")


def test_a_recurring_schedule_starts_at_its_first_occurrence_after_now(
    client: Client, ada: str, clock: ManualClock
) -> None:
    """Created on Monday 9 March at 12:30 UTC (08:30 EDT), after that Monday's 08:00: the
    first is 16 March. Nothing from before its creation, whatever `after` says."""
    clock.set(datetime(2026, 3, 9, 12, 30, tzinfo=UTC))
    created = create(client, ada, **{**WEEKLY, "start": "2020-01-01"})
    assert created["nextOccurrence"]["localDate"] == "2026-03-16"
    assert preview(client, created["id"], after="2000-01-01", limit=1)[0]["localDate"] == "2026-03-16"


def test_the_payload_the_defaults_and_a_canonical_rule(client: Client, ada: str) -> None:
    payload = {"template": "digest", "nested": {"list": [1, 2.5, None, True]}, "text": "Grüße ✓"}
    created = create(
        client,
        ada,
        eventType="a",
        start="2026-03-02",
        time="00:00",
        timezone=None,
        recurrence="rrule:byday=fr,mo;freq=weekly;interval=1;wkst=MO",
        invalidDate=None,
        dst=None,
        payload=payload,
    )
    assert created["payload"] == payload
    assert created["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,FR"
    assert (created["invalidDate"], created["dst"]) == ("omit", {"gap": "shift", "overlap": "first"})
    assert create(client, ada, **WEEKLY)["payload"] == {}


def test_a_retry_with_the_same_idempotency_key_creates_one_schedule(client: Client, ada: str) -> None:
    path = f"/user/{ada}/schedules"
    first = idempotent_post(client, WEEKLY, path=path)
    assert first.status_code == 201, first.body
    again = idempotent_post(client, WEEKLY, path=path)
    assert (again.status_code, again.body, again.headers["Idempotent-Replayed"]) == (201, first.body, "true")
    assert [s["id"] for s in client.http.get(f"{path}").json_body["items"]] == [first.json_body["id"]]
    assert len(schedule_events(client, first.json_body["id"])) == 1
    other = idempotent_post(client, {**WEEKLY, "time": "09:00"}, path=path)
    assert assert_error(other, 409, "Idempotency-Key")["code"] == "idempotency_key_reused"


def test_list_a_users_schedules_a_page_at_a_time(client: Client, ada: str) -> None:
    made = sorted(create(client, ada, **{**WEEKLY, "eventType": f"kind{n}"})["id"] for n in range(3))
    first = client.http.get(f"/user/{ada}/schedules?limit=2").json_body
    assert [s["id"] for s in first["items"]] == made[:2]
    assert first["items"][0]["nextOccurrence"]["localDate"] == "2026-03-02"
    second = client.http.get(f"/user/{ada}/schedules?limit=2&cursor={first['nextCursor']}").json_body
    assert ([s["id"] for s in second["items"]], second["nextCursor"]) == (made[2:], None)
    assert client.http.get(f"/user/{ada}/schedules").json_body["nextCursor"] is None
    other = send(client, "POST", "/user", {**ADA, "firstName": "Bob"}).json_body["id"]
    assert client.http.get(f"/user/{other}/schedules").json_body == {"items": [], "nextCursor": None}


def test_list_parameters_are_checked(client: Client, ada: str) -> None:
    response = client.http.get(f"/user/{ada}/schedules?limit=0&cursor=!!&colour=red")
    assert set(refused(response)) == {"limit", "cursor", "colour"}
    assert refused(client.http.get(f"/user/{ada}/schedules?limit=1&limit=2")) == {
        "limit": "is given more than once"
    }


# --- occurrences: the preview's parameters ------------------------------------------------------


def test_the_preview_takes_after_and_limit_from_1_to_1000(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    assert len(preview(client, created["id"])) == 10
    assert len(preview(client, created["id"], limit=1000)) == 1000
    assert (
        preview(client, created["id"], after="2026-03-09T12:00:00Z", limit=1)[0]["localDate"] == "2026-03-16"
    )
    assert (
        preview(client, created["id"], after="2026-03-09T07:59:59-04:00", limit=1)[0]["localDate"]
        == "2026-03-09"
    )
    assert preview(client, created["id"], after="2026-03-10", limit=1)[0]["localDate"] == "2026-03-16"
    path = f"/schedules/{created['id']}/occurrences"
    assert set(refused(client.http.get(f"{path}?limit=0&after=tomorrow&x=1"))) == {"limit", "after", "x"}
    assert set(refused(client.http.get(f"{path}?limit=1001"))) == {"limit"}
    assert refused(client.http.get(f"{path}?after=2026-03-10T00:00:00")) == {
        "after": "must include a UTC offset (Z or +HH:MM)"
    }


@pytest.mark.parametrize("after", ["9999-12-31T23:59:59-00:01", "0001-01-01T00:00:00+00:01"])
def test_an_after_beyond_the_calendar_in_utc_is_a_400_naming_it(client: Client, ada: str, after: str) -> None:
    created = create(client, ada, **WEEKLY)
    response = client.http.get(f"/schedules/{created['id']}/occurrences?{urlencode({'after': after})}")
    assert refused(response) == {"after": "is outside the years 1 to 9999 in UTC"}


def test_an_after_at_the_calendars_edges_is_taken(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    assert preview(client, created["id"], after="9999-12-31T23:59:59+23:59") == []
    assert (
        preview(client, created["id"], after="0001-01-01T00:00:00-23:59", limit=1)[0]["localDate"]
        == "2026-03-02"
    )


def test_a_rule_that_ends_shows_only_what_is_left(client: Client, ada: str) -> None:
    created = create(client, ada, **{**WEEKLY, "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=2"})
    assert [o["localDate"] for o in preview(client, created["id"])] == ["2026-03-02", "2026-03-09"]
    until = create(client, ada, **{**WEEKLY, "recurrence": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260316"})
    assert [o["localDate"] for o in preview(client, until["id"])] == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
    ]


# --- patch ---------------------------------------------------------------------------------------


def patch(client: Client, schedule_id: str, body: Any) -> Any:
    return send(client, "PATCH", f"/schedules/{schedule_id}", body)


def test_a_patch_moves_the_pending_occurrence_in_place(client: Client, ada: str, clock: ManualClock) -> None:
    created = create(client, ada, **WEEKLY)
    [before] = schedule_events(client, created["id"])
    clock.set(datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
    response = patch(client, created["id"], {"time": "09:15", "payload": {"edition": 12}})
    assert response.status_code == 200, response.body
    changed = response.json_body
    assert (changed["time"], changed["payload"], changed["version"]) == ("09:15", {"edition": 12}, 2)
    assert (changed["createdAt"], changed["updatedAt"]) == ("2026-03-01T12:00:00Z", "2026-03-01T12:05:00Z")
    assert changed["nextOccurrence"] == occurrence(
        "2026-03-02", "2026-03-02T09:15:00-05:00", "2026-03-02T14:15:00Z"
    )
    [after] = schedule_events(client, created["id"])
    assert (after["id"], after["idempotencyKey"]) == (before["id"], before["idempotencyKey"])
    assert (after["targetUtc"], after["version"]) == ("2026-03-02T14:15:00Z", before["version"] + 1)
    assert client.http.get(f"/schedules/{created['id']}").json_body == changed


def test_a_schedule_that_follows_the_user_moves_with_the_users_zone(client: Client, ada: str) -> None:
    follows = create(client, ada, **WEEKLY)
    own = create(client, ada, **WEEKLY, timezone="Asia/Tokyo")
    assert send(client, "PATCH", f"/user/{ada}", {"timezone": "Europe/London"}).status_code == 200
    moved = client.http.get(f"/schedules/{follows['id']}").json_body
    assert (moved["timezone"], moved["effectiveTimezone"]) == (None, "Europe/London")
    assert moved["nextOccurrence"] == occurrence(
        "2026-03-02", "2026-03-02T08:00:00+00:00", "2026-03-02T08:00:00Z"
    )
    kept = client.http.get(f"/schedules/{own['id']}").json_body
    assert kept["nextOccurrence"] == occurrence(
        "2026-03-02", "2026-03-02T08:00:00+09:00", "2026-03-01T23:00:00Z"
    )


def test_timezone_null_follows_the_user_and_recurrence_null_means_once(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY, timezone="Asia/Tokyo")
    followed = patch(client, created["id"], {"timezone": None}).json_body
    assert (followed["timezone"], followed["effectiveTimezone"]) == (None, "America/New_York")
    assert followed["nextOccurrence"]["targetUtc"] == "2026-03-02T13:00:00Z"
    # Once, on start: Sunday 1 March 08:00 EST is 13:00 UTC, still an hour ahead.
    once = patch(client, created["id"], {"recurrence": None}).json_body
    assert (once["recurrence"], once["status"]) == (None, "active")
    assert once["nextOccurrence"] == occurrence(
        "2026-03-01", "2026-03-01T08:00:00-05:00", "2026-03-01T13:00:00Z"
    )
    assert preview(client, created["id"]) == [once["nextOccurrence"]]


def test_dst_and_payload_merge_member_by_member(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY, payload={"a": 1, "b": {"c": 2, "d": 3}})
    sid = created["id"]
    assert patch(client, sid, {"dst": {"gap": "skip"}}).json_body["dst"] == {
        "gap": "skip",
        "overlap": "first",
    }
    assert patch(client, sid, {"dst": {"overlap": "second"}}).json_body["dst"] == {
        "gap": "skip",
        "overlap": "second",
    }
    assert patch(client, sid, {"dst": {"gap": None}}).json_body["dst"] == {
        "gap": "shift",
        "overlap": "second",
    }
    assert patch(client, sid, {"dst": None}).json_body["dst"] == {"gap": "shift", "overlap": "first"}
    merged = patch(client, sid, {"payload": {"b": {"c": None, "e": 4}, "f": [1]}}).json_body["payload"]
    assert merged == {"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}
    assert patch(client, sid, {"payload": None}).json_body["payload"] == {}
    assert patch(client, sid, {"invalidDate": "forward"}).json_body["invalidDate"] == "forward"
    assert patch(client, sid, {"invalidDate": None}).json_body["invalidDate"] == "omit"
    assert patch(client, sid, {}).json_body["version"] == 10


def test_a_patch_of_the_rule_changes_the_preview(client: Client, ada: str) -> None:
    created = create(client, ada, **THE_31ST, invalidDate="backward")
    changed = patch(client, created["id"], {"invalidDate": "forward"}).json_body
    assert changed["nextOccurrence"] == tokyo("2026-03-31")[0]
    assert preview(client, created["id"], limit=4) == tokyo(
        "2026-03-31", "2026-05-01", "2026-05-31", "2026-07-01"
    )


def test_a_patch_is_refused_as_a_whole_and_changes_nothing(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    response = patch(
        client, created["id"], {"eventType": "other", "time": "25:00", "colour": "red", "dst": {"x": 1}}
    )
    assert refused(response) == {
        "eventType": "cannot be changed: create another schedule",
        "time": "must be a wall time as HH:MM, from 00:00 to 23:59",
        "colour": "is not a known field",
        "dst.x": "is not a known field",
    }
    assert refused(patch(client, created["id"], {"start": None})) == {"start": "is required"}
    assert refused(patch(client, created["id"], {"eventType": "weekly_digest"})) == {
        "eventType": "cannot be changed: create another schedule"
    }
    assert set(refused(patch(client, created["id"], {"recurrence": "FREQ=WEEKLY;BYDAY=1MO"}))) == {
        "recurrence.BYDAY"
    }
    assert set(refused(patch(client, created["id"], [1, 2]))) == {"body"}
    assert client.http.get(f"/schedules/{created['id']}").json_body == created


def test_a_patch_to_a_one_time_instant_already_past_is_refused(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    response = patch(client, created["id"], {"recurrence": None, "start": "2026-02-28"})
    assert set(refused(response)) == {"start"}
    assert client.http.get(f"/schedules/{created['id']}").json_body == created


def test_an_overdue_occurrence_keeps_its_event_through_a_payload_patch(
    client: Client, ada: str, clock: ManualClock
) -> None:
    """08:00 EST on 1 March is 13:00 UTC. At 13:30 its event is overdue, not yet delivered: a
    new payload leaves it in place; moving the instant needs one after now, as a new schedule."""
    created = create(client, ada, eventType="reminder", start="2026-03-01", time="08:00")
    [event] = schedule_events(client, created["id"])
    clock.set(datetime(2026, 3, 1, 13, 30, tzinfo=UTC))
    changed = patch(client, created["id"], {"payload": {"v": 2}})
    assert changed.status_code == 200, changed.body
    assert changed.json_body["nextOccurrence"] == created["nextOccurrence"]
    [kept] = schedule_events(client, created["id"])
    assert (kept["id"], kept["targetUtc"], kept["status"]) == (event["id"], event["targetUtc"], "PENDING")
    assert set(refused(patch(client, created["id"], {"time": "08:15"}))) == {"start"}
    moved = patch(client, created["id"], {"start": "2026-03-02"}).json_body
    assert moved["nextOccurrence"]["targetUtc"] == "2026-03-02T13:00:00Z"


def test_a_deeply_nested_payload_is_stored_or_refused_never_a_500(client: Client, ada: str) -> None:
    """The merge recurses into objects: 900 deep is a 400 (too big), not a RecursionError."""
    created = create(client, ada, **WEEKLY)
    path = f"/schedules/{created['id']}"
    objects = '{"a":' * 900 + "1" + "}" * 900
    assert set(refused(send(client, "PATCH", path, raw='{"payload": {"x": ' + objects + "}}"))) == {"payload"}
    lists = "[" * 900 + "]" * 900
    stored = send(client, "PATCH", path, raw='{"payload": {"x": ' + lists + "}}")
    assert stored.status_code == 200, stored.body
    assert stored.json_body["payload"] == {"x": json.loads(lists)}


# --- pause, resume ------------------------------------------------------------------------------


def test_pause_cancels_the_pending_occurrence_and_resume_plans_the_next(
    client: Client, ada: str, clock: ManualClock
) -> None:
    created = create(client, ada, **WEEKLY)
    paused = client.http.post(f"/schedules/{created['id']}/pause")
    assert paused.status_code == 200, paused.body
    assert (paused.json_body["status"], paused.json_body["nextOccurrence"], paused.json_body["version"]) == (
        "paused",
        None,
        2,
    )
    assert [e["status"] for e in schedule_events(client, created["id"])] == ["CANCELLED"]
    again = client.http.post(f"/schedules/{created['id']}/pause")
    assert assert_error(again, 409)["code"] == "conflict"
    clock.set(datetime(2026, 3, 1, 12, 30, tzinfo=UTC))  # nothing missed yet
    resumed = client.http.post(f"/schedules/{created['id']}/resume")
    assert resumed.status_code == 200, resumed.body
    assert resumed.json_body["status"] == "active"
    assert resumed.json_body["nextOccurrence"]["localDate"] == "2026-03-02"
    assert assert_error(client.http.post(f"/schedules/{created['id']}/resume"), 409)["code"] == "conflict"


def test_a_paused_schedule_takes_a_patch_and_stays_paused(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    client.http.post(f"/schedules/{created['id']}/pause")
    changed = patch(client, created["id"], {"time": "09:00"}).json_body
    assert (changed["status"], changed["time"], changed["nextOccurrence"]) == ("paused", "09:00", None)
    assert [e["status"] for e in schedule_events(client, created["id"])] == ["CANCELLED"]
    assert preview(client, created["id"], limit=1)[0]["targetUtc"] == "2026-03-02T14:00:00Z"


@pytest.mark.parametrize(
    ("catch_up", "delivered", "skipped"),
    [
        ("none", [], ["2026-03-02", "2026-03-09", "2026-03-16"]),
        ("latest", ["2026-03-16"], ["2026-03-02", "2026-03-09"]),
        ("all", ["2026-03-02", "2026-03-09", "2026-03-16"], []),
    ],
)
def test_resume_catches_up_as_asked(
    client: Client, ada: str, clock: ManualClock, catch_up: str, delivered: list[str], skipped: list[str]
) -> None:
    """Paused on Sunday 1 March, resumed on Tuesday 17 March: Mondays 2, 9 and 16 were missed;
    the next is Monday 23 March (08:00 EDT)."""
    created = create(client, ada, **WEEKLY)
    client.http.post(f"/schedules/{created['id']}/pause")
    clock.set(datetime(2026, 3, 17, 0, 0, tzinfo=UTC))
    response = send(client, "POST", f"/schedules/{created['id']}/resume", {"catchUp": catch_up})
    assert response.status_code == 200, response.body
    found = [e for e in schedule_events(client, created["id"]) if e["status"] != "CANCELLED"]
    by_status: dict[str, list[str]] = {}
    for event in found:
        by_status.setdefault(event["status"], []).append(event["occurrenceDate"])
    assert sorted(by_status.get("SKIPPED", [])) == skipped
    assert sorted(by_status["PENDING"]) == [*delivered, "2026-03-23"]
    next_one = response.json_body["nextOccurrence"]
    assert next_one["localDate"] == (delivered[0] if delivered else "2026-03-23")


def test_resume_refuses_a_bad_catch_up(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    client.http.post(f"/schedules/{created['id']}/pause")
    response = send(client, "POST", f"/schedules/{created['id']}/resume", {"catchUp": "some", "x": 1})
    assert refused(response) == {"catchUp": "must be one of none, latest, all", "x": "is not a known field"}
    assert set(refused(send(client, "POST", f"/schedules/{created['id']}/resume", raw="[]"))) == {"body"}
    assert client.http.get(f"/schedules/{created['id']}").json_body["status"] == "paused"
    assert send(client, "POST", f"/schedules/{created['id']}/resume", {"catchUp": None}).status_code == 200


# --- delete, and the schedule's events ------------------------------------------------------------


def test_delete_cancels_the_pending_occurrence_and_keeps_the_history(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    response = client.http.delete(f"/schedules/{created['id']}")
    assert (response.status_code, response.body) == (204, b"")
    assert_error(client.http.get(f"/schedules/{created['id']}"), 404)
    assert_error(client.http.delete(f"/schedules/{created['id']}"), 404)
    assert client.http.get(f"/user/{ada}/schedules").json_body["items"] == []
    [event] = schedule_events(client, created["id"])
    assert (event["status"], event["occurrenceDate"]) == ("CANCELLED", "2026-03-02")


def test_events_filter_by_schedule(client: Client, ada: str) -> None:
    weekly = create(client, ada, **WEEKLY)
    other = create(client, ada, **LAST_WEEKDAY)
    assert [e["occurrenceDate"] for e in schedule_events(client, weekly["id"])] == ["2026-03-02"]
    assert [e["occurrenceDate"] for e in schedule_events(client, other["id"])] == ["2026-03-31"]
    by_type = client.http.get("/events?eventType=month_end.report").json_body["items"]
    assert [e["scheduleId"] for e in by_type] == [other["id"]]
    assert schedule_events(client, NOBODY) == []
    assert set(refused(client.http.get("/events?scheduleId=42"))) == {"scheduleId"}
    assert set(refused(client.http.get("/events?scheduleId=a&scheduleId=b"))) == {"scheduleId"}


def test_deleting_the_user_deletes_its_schedules(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    assert client.http.delete(f"/user/{ada}").status_code == 204
    assert_error(client.http.get(f"/schedules/{created['id']}"), 404)
    assert_error(client.http.get(f"/schedules/{created['id']}/occurrences"), 404)
    assert_error(client.http.get(f"/user/{ada}/schedules"), 404)
    assert [e["status"] for e in schedule_events(client, created["id"])] == ["CANCELLED"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/schedules/{id}", None),
        ("PATCH", "/schedules/{id}", {"time": "09:00"}),
        ("DELETE", "/schedules/{id}", None),
        ("GET", "/schedules/{id}/occurrences", None),
        ("POST", "/schedules/{id}/pause", None),
        ("POST", "/schedules/{id}/resume", None),
        ("POST", "/user/{id}/schedules", WEEKLY),
        ("GET", "/user/{id}/schedules", None),
    ],
)
def test_an_unknown_id_is_a_404_and_a_malformed_one_a_400(
    client: Client, method: str, path: str, body: Any
) -> None:
    assert assert_error(send(client, method, path.format(id=NOBODY), body), 404)["code"] == "not_found"
    assert refused(send(client, method, path.format(id="42"), body)) == {"id": "must be a UUID"}


# --- every refusal named --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"colour": "red"}, "colour", "is not a known field"),
        ({"eventType": None}, "eventType", "is required"),
        ({"eventType": "Digest"}, "eventType", None),
        ({"eventType": "9lives"}, "eventType", None),
        ({"eventType": "a" * 65}, "eventType", None),
        ({"eventType": 7}, "eventType", None),
        ({"eventType": "birthday"}, "eventType", "must not be a built-in type (anniversary, birthday)"),
        ({"eventType": "anniversary"}, "eventType", "must not be a built-in type (anniversary, birthday)"),
        ({"payload": [1]}, "payload", "must be a JSON object"),
        ({"payload": "x"}, "payload", "must be a JSON object"),
        ({"payload": {"big": "x" * 4096}}, "payload", None),
        ({"payload": {"bad": "\x00"}}, "payload", "must not contain NUL characters or lone surrogates"),
        ({"start": None}, "start", "is required"),
        ({"start": "2026-3-1"}, "start", "must be a date as YYYY-MM-DD"),
        ({"start": "2026-02-29"}, "start", "is not a real calendar date"),
        ({"start": "1899-12-31"}, "start", "must be from 1900-01-01 to 2999-12-31"),
        ({"start": "3000-01-01"}, "start", "must be from 1900-01-01 to 2999-12-31"),
        ({"start": 20260301}, "start", "must be a date as YYYY-MM-DD"),
        ({"time": None}, "time", "is required"),
        ({"time": "24:00"}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"time": "8:00"}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"time": "08:00:00"}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"time": "08:60"}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"time": "０８:００"}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"time": 800}, "time", "must be a wall time as HH:MM, from 00:00 to 23:59"),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not a known IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "is not a known IANA time zone"),
        ({"timezone": 1}, "timezone", "must be a string, or null to follow the user's zone"),
        ({"recurrence": 1}, "recurrence", "must be an RRULE value (FREQ=WEEKLY;BYDAY=MO), or null for once"),
        ({"recurrence": "FREQ=DAILY;" + "BYMONTH=1;" * 100}, "recurrence", "must be at most 1000 characters"),
        ({"invalidDate": "skip"}, "invalidDate", "must be one of omit, backward, forward"),
        ({"invalidDate": "OMIT"}, "invalidDate", "must be one of omit, backward, forward"),
        ({"dst": "shift"}, "dst", None),
        ({"dst": {"gap": "forward"}}, "dst.gap", "must be one of shift, skip"),
        ({"dst": {"overlap": "both"}}, "dst.overlap", "must be one of first, second"),
        ({"dst": {"gap": "skip", "fold": 1}}, "dst.fold", "is not a known field"),
    ],
)
def test_each_wrong_field_is_named(
    client: Client, ada: str, changes: dict[str, Any], field: str, message: str | None
) -> None:
    response = send(client, "POST", f"/user/{ada}/schedules", {**WEEKLY, **changes})
    details = refused(response)
    assert list(details) == [field]
    if message is not None:
        assert details[field] == message
    assert client.http.get(f"/user/{ada}/schedules").json_body["items"] == []


def test_every_wrong_field_is_named_at_once(client: Client, ada: str) -> None:
    body = {"eventType": "Bad", "start": "x", "time": "x", "timezone": "x", "recurrence": "FREQ=x",
            "invalidDate": "x", "dst": {"gap": "x", "overlap": "x"}, "payload": 1, "x": 1}  # fmt: skip
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", body))) == {
        "eventType", "start", "time", "timezone", "recurrence.FREQ", "invalidDate", "dst.gap",
        "dst.overlap", "payload", "x",
    }  # fmt: skip
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", {}))) == {"eventType", "start", "time"}
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", ["x"]))) == {"body"}
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", raw="{"))) == {"body"}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("BYHOUR=9;FREQ=DAILY", "recurrence.BYHOUR"),  # a part this API does not take
        ("FREQ=DAILY;BYSECOND=0", "recurrence.BYSECOND"),
        ("FREQ=HOURLY", "recurrence.FREQ"),  # a bad value
        ("INTERVAL=2", "recurrence.FREQ"),  # FREQ missing
        ("FREQ=DAILY;FREQ=WEEKLY", "recurrence.FREQ"),  # given twice
        ("FREQ", "recurrence.FREQ"),  # not NAME=VALUE
        ("", "recurrence"),
        ("FREQ=DAILY;;", "recurrence"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "recurrence.UNTIL"),  # both COUNT and UNTIL
        ("FREQ=DAILY;COUNT=0", "recurrence.COUNT"),
        ("FREQ=DAILY;COUNT=10001", "recurrence.COUNT"),
        ("FREQ=DAILY;COUNT=-1", "recurrence.COUNT"),
        ("FREQ=DAILY;INTERVAL=0", "recurrence.INTERVAL"),
        ("FREQ=DAILY;INTERVAL=1001", "recurrence.INTERVAL"),
        ("FREQ=DAILY;INTERVAL=1.5", "recurrence.INTERVAL"),
        ("FREQ=DAILY;UNTIL=2027-01-01", "recurrence.UNTIL"),
        ("FREQ=DAILY;UNTIL=20270230", "recurrence.UNTIL"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "recurrence.UNTIL"),
        ("FREQ=WEEKLY;BYDAY=XX", "recurrence.BYDAY"),
        ("FREQ=WEEKLY;BYDAY=1MO", "recurrence.BYDAY"),  # ordinals under WEEKLY
        ("FREQ=DAILY;BYDAY=-1FR", "recurrence.BYDAY"),
        ("FREQ=MONTHLY;BYDAY=6FR", "recurrence.BYDAY"),
        ("FREQ=YEARLY;BYDAY=54MO", "recurrence.BYDAY"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "recurrence.BYMONTHDAY"),  # BYMONTHDAY under WEEKLY
        ("FREQ=MONTHLY;BYMONTHDAY=0", "recurrence.BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "recurrence.BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=-32", "recurrence.BYMONTHDAY"),
        ("FREQ=YEARLY;BYMONTH=13", "recurrence.BYMONTH"),
        ("FREQ=YEARLY;BYMONTH=-1", "recurrence.BYMONTH"),
        ("FREQ=MONTHLY;BYSETPOS=-1", "recurrence.BYSETPOS"),  # nothing to pick from
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367", "recurrence.BYSETPOS"),
        ("FREQ=WEEKLY;WKST=XX", "recurrence.WKST"),
    ],
)
def test_each_bad_rrule_part_is_named(client: Client, ada: str, rule: str, field: str) -> None:
    response = send(client, "POST", f"/user/{ada}/schedules", {**WEEKLY, "recurrence": rule})
    details = refused(response)
    assert list(details) == [field], details
    assert details[field]


def test_an_until_on_the_calendars_last_day_is_taken(client: Client, ada: str) -> None:
    created = create(client, ada, **{**WEEKLY, "recurrence": "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=99991231"})
    assert created["recurrence"] == "FREQ=MONTHLY;UNTIL=99991231;BYDAY=-1FR"
    assert created["nextOccurrence"]["localDate"] == "2026-03-27"


def test_a_one_time_instant_already_past_is_refused_naming_start(client: Client, ada: str) -> None:
    """Sunday 1 March 07:00 EST is 12:00 UTC: now, so not after now."""
    once = {"eventType": "reminder", "start": "2026-03-01", "time": "07:00"}
    assert refused(send(client, "POST", f"/user/{ada}/schedules", once)) == {
        "start": "with time, this one-time schedule's instant is already past"
    }
    assert (
        create(client, ada, **{**once, "time": "07:01"})["nextOccurrence"]["targetUtc"]
        == "2026-03-01T12:01:00Z"
    )


def test_a_one_time_wall_time_the_gap_skips_is_refused_naming_time(client: Client, ada: str) -> None:
    body = {"eventType": "reminder", "start": "2026-03-08", "time": "02:30", "dst": {"gap": "skip"}}
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", body))) == {"time"}


def test_a_rule_with_nothing_after_now_is_refused_naming_recurrence(client: Client, ada: str) -> None:
    ended = {**WEEKLY, "start": "2026-01-01", "recurrence": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260223"}
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", ended))) == {"recurrence"}
    never = {**WEEKLY, "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}
    assert set(refused(send(client, "POST", f"/user/{ada}/schedules", never))) == {"recurrence"}


def test_a_body_route_wants_json(client: Client, ada: str) -> None:
    created = create(client, ada, **WEEKLY)
    for method, path in (
        ("POST", f"/user/{ada}/schedules"),
        ("PATCH", f"/schedules/{created['id']}"),
        ("POST", f"/schedules/{created['id']}/resume"),
    ):
        response = client.http.request(
            method, path, headers={"Content-Type": "text/plain"}, body=json.dumps(WEEKLY)
        )
        assert assert_error(response, 415)["code"] == "unsupported_media_type"
