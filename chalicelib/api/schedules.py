"""The schedule routes, translated: the caller checked, JSON in, a service call, JSON out.

A schedule's owner is known only once it is read, so a `user` caller gets the same 403 for
another user's schedule as for one that does not exist (`require_owned`), before its body is
read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from chalice.app import MultiDict, Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.auth import principal, require, require_owned
from chalicelib.api.events import parse_instant
from chalicelib.api.schedule_input import parse_catch_up, parse_new_schedule, parse_schedule_patch
from chalicelib.api.serializers import local_occurrence_json, occurrence_json, schedule_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.schedules import CatchUp
from chalicelib.services import audiences, schedules

_LIST_PARAMS = {"limit", "cursor"}
_PREVIEW_PARAMS = {"after", "limit"}
DEFAULT_PREVIEW = 10


def _owned(context: Context, schedule_id: str, action: Action) -> UUID:
    sid = http.parse_id(schedule_id)
    db = bootstrap.container().db
    require_owned(principal(context), action, lambda: schedules.owner_of(db, sid), lambda owner: owner)
    # An audience schedule's owner is None: only a caller that may act on any schedule gets here.
    return sid


@http.translate_errors
def create(context: Context, user_id: str, body: http.Body) -> Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.CREATE_SCHEDULE, uid)
    c = bootstrap.container()
    fields = parse_new_schedule(http.json_body(body))
    view = schedules.create_schedule(c.db, c.clock, c.builtins, uid, fields)
    return http.json_response(schedule_json(view), 201)


@http.translate_errors
def list_page(context: Context, user_id: str, query: MultiDict | None) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.LIST_SCHEDULES, uid)
    params, errors = http.query_values(query, _LIST_PARAMS)
    limit, after = http.DEFAULT_PAGE, None
    try:
        limit = http.parse_limit(params.get("limit"))
    except ValidationError as exc:
        errors += exc.details
    try:
        after = http.decode_cursor(params.get("cursor"))
    except ValidationError as exc:
        errors += exc.details
    if errors:
        raise ValidationError(errors)
    page = schedules.list_for_user(bootstrap.container().db, uid, limit, after)
    return {"items": [schedule_json(v) for v in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def read(context: Context, schedule_id: str) -> dict[str, Any] | Response:
    sid = _owned(context, schedule_id, Action.READ_SCHEDULE)
    c = bootstrap.container()
    return schedule_json(schedules.get_schedule(c.db, c.clock, sid))


@http.translate_errors
def patch(context: Context, schedule_id: str, body: http.Body) -> dict[str, Any] | Response:
    sid = _owned(context, schedule_id, Action.CHANGE_SCHEDULE)
    c = bootstrap.container()
    changes = http.json_body(body)
    if not isinstance(changes, dict):
        raise ValidationError.single("body", "must be a JSON object (a JSON merge patch)")
    view = schedules.change_schedule(
        c.db, c.clock, c.builtins, sid, lambda current: parse_schedule_patch(changes, current)
    )
    return schedule_json(view)


@http.translate_errors
def delete(context: Context, schedule_id: str) -> Response:
    sid = _owned(context, schedule_id, Action.DELETE_SCHEDULE)
    c = bootstrap.container()
    schedules.delete_schedule(c.db, c.clock, sid)
    return Response(body="", status_code=204)


@http.translate_errors
def pause(context: Context, schedule_id: str) -> dict[str, Any] | Response:
    sid = _owned(context, schedule_id, Action.PAUSE_SCHEDULE)
    c = bootstrap.container()
    return schedule_json(schedules.pause_schedule(c.db, c.clock, sid))


@http.translate_errors
def resume(context: Context, schedule_id: str, body: http.Body) -> dict[str, Any] | Response:
    """The body is optional: none means catchUp "none"."""
    sid = _owned(context, schedule_id, Action.RESUME_SCHEDULE)
    c = bootstrap.container()
    how = parse_catch_up(http.json_body(body)) if body.raw else CatchUp.NONE
    return schedule_json(schedules.resume_schedule(c.db, c.clock, c.builtins, sid, how))


@http.translate_errors
def occurrences(context: Context, schedule_id: str, query: MultiDict | None) -> dict[str, Any] | Response:
    sid = _owned(context, schedule_id, Action.PREVIEW_SCHEDULE)
    c = bootstrap.container()
    after, limit = parse_preview(query, c.clock.now())
    schedule = schedules.read_schedule(c.db, sid)
    if schedule.audience is not None:
        local = audiences.preview(c.db, schedule, after, limit)
        return {"items": [local_occurrence_json(o, schedule.rule.at) for o in local]}
    timezone, found = schedules.preview_in_zone(c.db, sid, after, limit)
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
