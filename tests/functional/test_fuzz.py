"""Schemathesis against the OpenAPI document and the app served over real HTTP.

The app runs in chalice's own local server (`chalice local`'s gateway, authorizer included)
on an ephemeral port in a thread, with the test container installed. Every request carries a
valid admin token, so every operation is reached; schemathesis also sends them without one
and with invalid data (negative mode). Checked for each response: no 5xx, and status code,
content type, headers and body as the document says.

Only operations that app.py routes are fuzzed: those documented ahead of their branch (the
/events routes of the delivery pipeline) join in by themselves once they are routed.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import requests
import schemathesis
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import app
from chalicelib import bootstrap
from chalicelib.api import events as events_api
from chalicelib.api import openapi
from chalicelib.domain import recurrence
from chalicelib.domain.planner import Rule
from chalicelib.domain.schedules import ScheduleFields
from chalicelib.domain.users import UserFields
from chalicelib.services import schedules, users
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests import contract
from tests.functional.conftest import AuthorizedClient
from tests.tokens import admin_token, bearer

JSON = {"Content-Type": "application/json"}

MAX_EXAMPLES = 25
EXCLUDED_CHECKS = [
    # A 400 for schema-valid data is right where the rule is beyond JSON Schema: a known IANA
    # zone, a date not in the future, printable names. Schema-invalid data must still get a 4xx.
    positive_data_acceptance,
]
SEED = 20260301
ROUTED = {(path, method.upper()) for path, methods in app.routes.items() for method in methods}

config = schemathesis.Config()
config.projects.default.seed = SEED
config.projects.default.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
# Closed: every object schema that lists properties refuses others (tests/contract.py), so a
# field added to the API but not to the document fails here too.
schema = schemathesis.openapi.from_dict(contract.closed(openapi.document()), config=config).include(
    lambda ctx: (ctx.operation.path, ctx.operation.method.upper()) in ROUTED
)


class QuietHandler(ChaliceRequestHandler):
    # chalice local writes a response's head and body apart: with Nagle's algorithm the body
    # waited for the client's delayed ACK, 40 ms a request, most of this module's time.
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        """chalice local's server knows only the verbs Chalice routes and answers 501 to any
        other itself; handing TRACE, QUERY... to the gateway lets the app answer as deployed."""
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = LocalDevServer(app, Config.create(), "127.0.0.1", 0, handler_cls=QuietHandler)
    thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    host, port = server.server.server_address[:2]
    yield f"http://{host!s}:{port}"
    server.shutdown()
    server.server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def seeded(container: bootstrap.Container) -> dict[str, str]:
    """A user and its event: ids that half the generated cases aim at, so that reads, changes
    and deletes reach real records and their 2xx bodies are checked too, not only 404s."""
    c = container.use(
        ledger=MemoryLedger(), queue=MemoryQueue(container.clock), dlq=MemoryQueue(container.clock)
    )
    fields = UserFields("Grace", "Hopper", date(1906, 12, 9), "America/New_York")
    user = users.create_user(c.db, c.clock, c.builtins, fields)
    event = users.user_events(c.db, user.id)[0]
    rule = Rule(date(2026, 3, 2), time(8, 0), recurrence.parse("FREQ=WEEKLY;BYDAY=MO"))
    schedule = schedules.create_schedule(
        c.db, c.clock, c.builtins, user.id, ScheduleFields("digest", rule, {})
    )
    return {"user_id": str(user.id), "event_id": str(event.id), "schedule_id": str(schedule.schedule.id)}


def aim(case: Case, seeded: dict[str, str], turn: int) -> None:
    for name, value in seeded.items():
        current = (case.path_parameters or {}).get(name)
        if turn % 2 == 0 and isinstance(current, str) and _is_uuid(current):
            case.path_parameters[name] = value  # type: ignore[index]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


TURNS = itertools.count()


@schema.parametrize()
# One fresh database for all of an operation's examples: they share it on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_document(
    case: Case, base_url: str, session: requests.Session, seeded: dict[str, str]
) -> None:
    aim(case, seeded, next(TURNS))
    case.call_and_validate(
        base_url=base_url,
        session=session,
        headers=bearer(admin_token()),
        excluded_checks=EXCLUDED_CHECKS,
        timeout=10,
    )


# --- every date and instant the API takes, at the edges of the calendar (issue 19, item 3) -----
#
# Through chalice's in-process client, many examples each: the instants of GET /events (`from`,
# `to`, and the one inside `cursor`) with offsets up to ±23:59, and the dates of every body
# (POST, PUT and PATCH /user, POST /user/import) in zones from UTC-12 to UTC+14. Never a 500;
# a refusal names only the parameter or field at fault; what is in range is taken.

EDGE_DATES = [date(1, 1, 1), date(1, 1, 2), date(1899, 12, 31), date(1900, 1, 1), date(2000, 2, 29)]
EDGE_DATES += [date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2), date(9999, 12, 30), date(9999, 12, 31)]
DATES = st.one_of(st.sampled_from(EDGE_DATES), st.dates())
MAX_OFFSET = 23 * 60 + 59  # minutes: what datetime.fromisoformat takes
OFFSETS = st.one_of(
    st.sampled_from([-MAX_OFFSET, -1, 0, 1, MAX_OFFSET]), st.integers(-MAX_OFFSET, MAX_OFFSET)
).map(lambda minutes: timezone(timedelta(minutes=minutes)))
TIMES = st.one_of(st.sampled_from([time(0, 0), time(23, 59, 59), time(23, 59, 59, 999999)]), st.times())
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Etc/GMT-14", "Etc/GMT+12", "Asia/Kathmandu"]
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
Instant = tuple[str, datetime | None]


@st.composite
def instants(draw: st.DrawFn) -> Instant:
    """An instant as a client writes it, and what it means in UTC (None: beyond years 1-9999)."""
    day, at = draw(DATES), draw(TIMES)
    if draw(st.booleans()) and at == time(0, 0):
        return day.isoformat(), datetime.combine(day, at, UTC)  # a date alone: its midnight UTC
    offset = draw(OFFSETS)
    local = datetime.combine(day, at, offset)
    text = local.isoformat()
    if offset.utcoffset(None) == timedelta(0) and draw(st.booleans()):
        text = text.replace("+00:00", "Z")
    try:
        return text, local.astimezone(UTC)
    except OverflowError:
        return text, None


def refusal_fields(response: Any) -> set[str]:
    assert response.status_code == 400, response.body
    return {d["field"] for d in response.json_body["error"]["details"]}


@FUZZ
@given(start=st.one_of(st.none(), instants()), end=st.one_of(st.none(), instants()))
def test_get_events_never_fails_on_an_instant_at_the_calendars_edge(
    client: AuthorizedClient,
    start: tuple[str, datetime | None] | None,
    end: tuple[str, datetime | None] | None,
) -> None:
    given_ = {name: value for name, value in (("from", start), ("to", end)) if value is not None}
    response = client.http.get(f"/events?{urlencode({name: text for name, (text, _) in given_.items()})}")
    beyond = {name for name, (_, utc) in given_.items() if utc is None}
    backwards = start and end and start[1] and end[1] and end[1] <= start[1]
    if beyond or backwards:
        assert refusal_fields(response) == beyond | ({"to"} if backwards else set())
    else:
        assert response.status_code == 200, response.body


@FUZZ
@given(after=st.datetimes(timezones=st.just(UTC)), limit=st.integers(1, 3))
def test_get_events_never_fails_on_a_cursor_at_the_calendars_edge(
    client: AuthorizedClient, seeded: dict[str, str], after: datetime, limit: int
) -> None:
    cursor = events_api.encode_cursor(after, uuid.UUID(seeded["event_id"]))
    response = client.http.get(f"/events?{urlencode({'cursor': cursor, 'limit': limit})}")
    assert response.status_code == 200, response.body


@st.composite
def user_dates(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"firstName": "Edge", "lastName": "Case", "timezone": draw(st.sampled_from(ZONES))}
    body["dateOfBirth"] = draw(DATES).isoformat()
    if draw(st.booleans()):
        body["anniversaryDate"] = draw(DATES).isoformat()
    return body


def expected_refusals(body: dict[str, Any], now: datetime) -> set[str]:
    """What the API must refuse in `body`'s dates: before 1900, after today in the user's zone,
    an anniversary before the birth."""
    today = now.astimezone(ZoneInfo(body["timezone"])).date()
    wrong = {
        name
        for name in ("dateOfBirth", "anniversaryDate")
        if name in body and not date(1900, 1, 1) <= date.fromisoformat(body[name]) <= today
    }
    if not wrong and "anniversaryDate" in body and body["anniversaryDate"] < body["dateOfBirth"]:
        wrong = {"anniversaryDate"}
    return wrong


@FUZZ
@given(body=user_dates(), how=st.sampled_from(["POST", "PUT", "PATCH", "import"]))
def test_no_body_date_at_the_calendars_edge_is_a_500(
    client: AuthorizedClient,
    seeded: dict[str, str],
    container: bootstrap.Container,
    body: dict[str, Any],
    how: str,
) -> None:
    wrong = expected_refusals(body, container.clock.now())
    target = f"/user/{seeded['user_id']}"
    if how == "import":
        sent = {"users": [{**body, "externalId": "crm-edge"}]}
        response = client.http.post("/user/import", headers=JSON, body=json.dumps(sent))
        assert response.status_code == 200, response.body
        [result] = response.json_body["results"]
        fields = {d["field"] for d in result.get("error", {}).get("details", [])}
        assert fields == wrong, result
        return
    if how == "PATCH":  # the seeded user's other date may be what clashes: send both
        body = {**body, "anniversaryDate": body.get("anniversaryDate")}
        if body["anniversaryDate"] is None:
            wrong -= {"anniversaryDate"}
    path, method = ("/user", "POST") if how == "POST" else (target, how)
    response = client.http.request(method, path, headers=JSON, body=json.dumps(body).encode())
    if wrong:
        assert refusal_fields(response) == wrong
    else:
        assert response.status_code in (200, 201), response.body


# --- schedules: start, time and the preview's `after` at the calendar's edges (issue 20) ---------
#
# `start` is any date of years 1-9999 (the API takes 1900-2999), `time` any wall time and some
# that are not, in zones from UTC-12 to UTC+14, once or on rules that run to the calendar's end;
# `after` any instant with any offset. Never a 500; a refusal names only the field at fault.

RULES = [
    None,
    "FREQ=DAILY",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3",
    "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=99991231",
    "FREQ=YEARLY;INTERVAL=1000",
    "FREQ=WEEKLY;BYDAY=SU;UNTIL=00010101",
]
WALL_TIMES = st.one_of(
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.sampled_from(["00:00", "23:59", "24:00", "-1:00", "99:99", "23:59:59", "7:00", ""]),
)


@st.composite
def schedule_bodies(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "eventType": "edge",
        "start": draw(DATES).isoformat(),
        "time": draw(WALL_TIMES),
        "timezone": draw(st.sampled_from([None, *ZONES])),
        "recurrence": draw(st.sampled_from(RULES)),
    }


def schedule_refusals(body: dict[str, Any], now: datetime) -> set[str] | None:
    """The fields the API must refuse in `body`; None when it may take it or refuse it (a rule
    that has nothing after now: start or recurrence)."""
    wrong = set()
    start = date.fromisoformat(body["start"])
    if not date(1900, 1, 1) <= start <= date(2999, 12, 31):
        wrong.add("start")
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", body["time"]):
        wrong.add("time")
    if wrong or body["recurrence"] is not None:
        return wrong or None
    # Once: the wall time's instant in the zone (the user's is New York), a gap shifted forward.
    local = datetime.combine(
        start, time.fromisoformat(body["time"]), ZoneInfo(body["timezone"] or "America/New_York")
    )
    try:
        return set() if local.astimezone(UTC) > now else {"start"}
    except OverflowError:
        return {"start"}


@FUZZ
@given(body=schedule_bodies(), how=st.sampled_from(["POST", "PATCH"]))
def test_no_schedule_date_or_time_at_the_calendars_edge_is_a_500(
    client: AuthorizedClient,
    seeded: dict[str, str],
    container: bootstrap.Container,
    body: dict[str, Any],
    how: str,
) -> None:
    expected = schedule_refusals(body, container.clock.now())
    if how == "POST":
        path = f"/user/{seeded['user_id']}/schedules"
    else:
        path, body = (
            f"/schedules/{seeded['schedule_id']}",
            {k: v for k, v in body.items() if k != "eventType"},
        )
    response = client.http.request(how, path, headers=JSON, body=json.dumps(body).encode())
    if expected is None:
        assert response.status_code in (200, 201) or refusal_fields(response) <= {"start", "recurrence"}
    elif expected:
        assert refusal_fields(response) == expected
    else:
        assert response.status_code in (200, 201), response.body


@FUZZ
@given(after=instants(), limit=st.sampled_from(["1", "10", "1000", "0", "1001", "-1", "x", None]))
def test_the_preview_never_fails_on_an_instant_at_the_calendars_edge(
    client: AuthorizedClient, seeded: dict[str, str], after: Instant, limit: str | None
) -> None:
    text, utc = after
    query = {"after": text, **({"limit": limit} if limit is not None else {})}
    response = client.http.get(f"/schedules/{seeded['schedule_id']}/occurrences?{urlencode(query)}")
    wrong = {"after"} if utc is None else set()
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= 1000):
        wrong.add("limit")
    if wrong:
        assert refusal_fields(response) == wrong
        return
    assert response.status_code == 200, response.body
    found = response.json_body["items"]
    assert len(found) <= int(limit or 10)
    assert all(datetime.fromisoformat(o["targetUtc"]) > utc for o in found)
