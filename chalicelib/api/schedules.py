"""The schedule routes, translated: the caller checked, JSON in, a service call, JSON out. Each
takes the service the container built (app.py hands it over).

A schedule's owner is known only once it is read, so a `user` caller gets the same 403 for
another user's schedule as for one that does not exist (`require_owned`), before its body is
read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from chalice.app import MultiDict, Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require, require_owned
from chalicelib.api.events import parse_instant
from chalicelib.api.schedule_input import parse_catch_up, parse_new_schedule, parse_schedule_patch
from chalicelib.api.serializers import local_occurrence_json, occurrence_json, schedule_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.schedules import CatchUp
from chalicelib.services import schedules
from chalicelib.services.schedules import Schedules

_LIST_PARAMS = {"limit", "cursor"}
_PREVIEW_PARAMS = {"after", "limit"}
DEFAULT_PREVIEW = 10


def _owned(service: Schedules, context: Context, schedule_id: str, action: Action) -> UUID:
    sid = http.parse_id(schedule_id)
    require_owned(principal(context), action, lambda: service.owner_of(sid), lambda owner: owner)
    # An audience schedule's owner is None: only a caller that may act on any schedule gets here.
    return sid


@http.translate_errors
def create(service: Schedules, context: Context, user_id: str, body: http.Body) -> Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.CREATE_SCHEDULE, uid)
    view = service.create(uid, parse_new_schedule(http.json_body(body)))
    return http.json_response(schedule_json(view), 201)


@http.translate_errors
def list_page(
    service: Schedules, context: Context, user_id: str, query: MultiDict | None
) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.LIST_SCHEDULES, uid)
    params, errors = http.query_values(query, _LIST_PARAMS)
    limit, after = http.page_params(params, errors)
    if errors:
        raise ValidationError(errors)
    page = service.list_for_user(uid, limit, after)
    return {"items": [schedule_json(v) for v in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def read(service: Schedules, context: Context, schedule_id: str) -> dict[str, Any] | Response:
    sid = _owned(service, context, schedule_id, Action.READ_SCHEDULE)
    return schedule_json(service.get(sid))


@http.translate_errors
def patch(
    service: Schedules, context: Context, schedule_id: str, body: http.Body
) -> dict[str, Any] | Response:
    sid = _owned(service, context, schedule_id, Action.CHANGE_SCHEDULE)
    changes = http.json_body(body)
    if not isinstance(changes, dict):
        raise ValidationError.single("body", "must be a JSON object (a JSON merge patch)")
    return schedule_json(service.change(sid, lambda current: parse_schedule_patch(changes, current)))


@http.translate_errors
def delete(service: Schedules, context: Context, schedule_id: str) -> Response:
    sid = _owned(service, context, schedule_id, Action.DELETE_SCHEDULE)
    service.delete(sid)
    return Response(body="", status_code=204)


@http.translate_errors
def pause(service: Schedules, context: Context, schedule_id: str) -> dict[str, Any] | Response:
    sid = _owned(service, context, schedule_id, Action.PAUSE_SCHEDULE)
    return schedule_json(service.pause(sid))


@http.translate_errors
def resume(
    service: Schedules, context: Context, schedule_id: str, body: http.Body
) -> dict[str, Any] | Response:
    """The body is optional: none means catchUp "none"."""
    sid = _owned(service, context, schedule_id, Action.RESUME_SCHEDULE)
    how = parse_catch_up(http.json_body(body)) if body.raw else CatchUp.NONE
    return schedule_json(service.resume(sid, how))


@http.translate_errors
def occurrences(
    service: Schedules, context: Context, schedule_id: str, query: MultiDict | None
) -> dict[str, Any] | Response:
    sid = _owned(service, context, schedule_id, Action.PREVIEW_SCHEDULE)
    after, limit = parse_preview(query, service.now())
    schedule = service.read(sid)
    if schedule.audience is not None:  # local dates, each with its span over the zones
        local = service.preview_audience(schedule, after, limit)
        return {"items": [local_occurrence_json(o, schedule.rule.at) for o in local]}
    timezone, found = service.preview_in_zone(sid, after, limit)
    return {"items": [occurrence_json(o, timezone) for o in found]}


def parse_preview(query: MultiDict | None, now: datetime) -> tuple[datetime, int]:
    """`after` (an instant, default now) and `limit` (1 to MAX_PREVIEW, default 10), every
    wrong parameter named at once."""
    params, errors = http.query_values(query, _PREVIEW_PARAMS)
    after, limit = now, DEFAULT_PREVIEW
    if "after" in params:
        try:
            after = parse_instant(params["after"], "after")
        except ValidationError as exc:
            errors += exc.details
    try:
        limit = http.parse_limit(params.get("limit"), schedules.MAX_PREVIEW, DEFAULT_PREVIEW)
    except ValidationError as exc:
        errors += exc.details
    if errors:
        raise ValidationError(errors)
    return after, limit
