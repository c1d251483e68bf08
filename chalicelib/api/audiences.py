"""The routes over every schedule and the audience schedules' own: POST /schedules (an
audience), GET /schedules (every schedule, filtered), GET /schedules/{id}/audience (counts).
Admin and service only: an audience schedule belongs to no user. Each takes the schedules
service the container built (app.py hands it over)."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalice.app import MultiDict, Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.schedule_input import parse_new_audience_schedule
from chalicelib.api.serializers import schedule_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.errors import FieldError, NotFound, ValidationError
from chalicelib.domain.schedules import EVENT_TYPE, ScheduleStatus
from chalicelib.ports import ScheduleFilter
from chalicelib.services.schedules import Schedules

_LIST_PARAMS = {"audience", "eventType", "status", "limit", "cursor"}
_AUDIENCE_PARAMS = {"localDate"}


@http.translate_errors
def create(service: Schedules, context: Context, body: http.Body) -> Response:
    require(principal(context), Action.CREATE_AUDIENCE_SCHEDULE)
    view = service.create_audience(parse_new_audience_schedule(http.json_body(body)))
    return http.json_response(schedule_json(view), 201)


@http.translate_errors
def list_page(service: Schedules, context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    require(principal(context), Action.LIST_ALL_SCHEDULES)
    where, limit, after = parse_list(query)
    page = service.list_all(where, limit, after)
    return {"items": [schedule_json(v) for v in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def audience(
    service: Schedules, context: Context, schedule_id: str, query: MultiDict | None
) -> dict[str, Any] | Response:
    require(principal(context), Action.COUNT_AUDIENCE)
    sid = http.parse_id(schedule_id)
    local_date = parse_local_date(query)
    schedule = service.read(sid)
    if schedule.audience is None:
        raise NotFound("no audience schedule with that id")
    found = service.audience_counts(schedule, local_date)
    return {
        "scheduleId": str(sid),
        "localDate": found.local_date.isoformat(),
        "audience": found.audience,
        "received": found.received,
        "coming": found.coming,
    }


def parse_list(query: MultiDict | None) -> tuple[ScheduleFilter, int, Any]:
    """GET /schedules' query string, every wrong parameter named at once."""
    params, errors = http.query_values(query, _LIST_PARAMS)
    values: dict[str, Any] = {}
    if "audience" in params:
        if params["audience"] not in ("true", "false"):
            errors.append(FieldError("audience", "must be true or false"))
        else:
            values["audience"] = params["audience"] == "true"
    if "eventType" in params:
        if not EVENT_TYPE.fullmatch(params["eventType"]):
            errors.append(FieldError("eventType", f"must match ^{EVENT_TYPE.pattern}$"))
        else:
            values["event_type"] = params["eventType"]
    if "status" in params:
        if params["status"] not in {s.value for s in ScheduleStatus}:
            errors.append(FieldError("status", f"must be one of {', '.join(ScheduleStatus)}"))
        else:
            values["status"] = params["status"]
    limit, after = http.page_params(params, errors)
    if errors:
        raise ValidationError(errors)
    return ScheduleFilter(**values), limit, after


def parse_local_date(query: MultiDict | None) -> date:
    params, errors = http.query_values(query, _AUDIENCE_PARAMS)
    if errors:
        raise ValidationError(errors)
    value = params.get("localDate")
    if value is None:
        raise ValidationError.single("localDate", "is required (YYYY-MM-DD)")
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.single("localDate", "must be a date as YYYY-MM-DD") from None
