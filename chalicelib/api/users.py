"""The /user routes, translated: the caller checked, JSON in, a service call, JSON out.

Each route takes the request context first (the authorizer's claims) and checks access before
it reads the body or the database, so a refusal says nothing about the record asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import MultiDict, Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.serializers import event_json, user_json
from chalicelib.api.user_input import parse_imported_user, parse_new_user, parse_user_patch
from chalicelib.domain import access
from chalicelib.domain.access import Action, Principal
from chalicelib.domain.errors import FieldError, Forbidden, ValidationError
from chalicelib.domain.users import UserFields
from chalicelib.services import imports, users

Context = Mapping[str, Any] | None
_LIST_PARAMS = {"limit", "cursor", "externalId"}
TEAM_FIELDS = ("externalId", "metadata")


@http.translate_errors
def create(context: Context, body: http.Body) -> Response:
    require(principal(context), Action.CREATE_USER)
    c = bootstrap.container()
    fields = parse_new_user(http.json_body(body), c.clock.now())
    user = users.create_user(c.db, c.clock, c.builtins, fields)
    return http.json_response(user_json(user), 201)


@http.translate_errors
def read(context: Context, user_id: str) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.READ_USER, uid)
    return user_json(users.get_user(bootstrap.container().db, uid))


@http.translate_errors
def replace(context: Context, user_id: str, body: http.Body) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    caller = principal(context)
    require(caller, Action.CHANGE_USER, uid)
    c = bootstrap.container()
    payload = http.json_body(body)
    team = may_set_team_fields(caller, payload)
    fields = parse_new_user(payload, c.clock.now())

    def change(current: UserFields) -> UserFields:
        return fields if team else fields.keeping_team_data(current)

    return user_json(users.change_user(c.db, c.clock, c.builtins, uid, change))


@http.translate_errors
def patch(context: Context, user_id: str, body: http.Body) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    caller = principal(context)
    require(caller, Action.CHANGE_USER, uid)
    c = bootstrap.container()
    payload = http.json_body(body)
    may_set_team_fields(caller, payload)
    now = c.clock.now()
    changed = users.change_user(
        c.db, c.clock, c.builtins, uid, lambda current: parse_user_patch(payload, current, now)
    )
    return user_json(changed)


def may_set_team_fields(caller: Principal, payload: Any) -> bool:
    """Whether the caller may set externalId and metadata (admin and service may). A `user`
    token's body that names either is a 403 naming it, decided before any other check, so no
    answer tells the caller whether another user holds an externalId."""
    if access.may_any(caller, Action.SET_TEAM_FIELDS):
        return True
    given = [name for name in TEAM_FIELDS if isinstance(payload, dict) and name in payload]
    if given:
        message = "is set by the team (admin or service tokens) only"
        raise Forbidden(details=[FieldError(name, message) for name in given])
    return False


@http.translate_errors
def delete(context: Context, user_id: str) -> Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.DELETE_USER, uid)
    c = bootstrap.container()
    users.delete_user(c.db, c.clock, uid)
    return Response(body="", status_code=204)


@http.translate_errors
def list_page(context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    require(principal(context), Action.LIST_USERS)
    params, errors = http.query_values(query, _LIST_PARAMS)
    if errors:
        raise ValidationError(errors)
    db = bootstrap.container().db
    limit, after = http.parse_limit(params.get("limit")), http.decode_cursor(params.get("cursor"))
    external_id = params.get("externalId")
    if external_id is not None:
        page = users.find_by_external_id(db, external_id, after)
    else:
        page = users.list_users(db, limit, after)
    return {"items": [user_json(u) for u in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def import_batch(context: Context, body: http.Body) -> dict[str, Any] | Response:
    require(principal(context), Action.IMPORT_USERS)
    c = bootstrap.container()
    payload = http.json_body(body)
    if not isinstance(payload, dict) or "users" not in payload or not set(payload) <= {"users", "adopt"}:
        raise ValidationError.single("body", 'must be a JSON object {"users": [...], "adopt": false}')
    adopt = payload.get("adopt", False)
    if not isinstance(adopt, bool):
        raise ValidationError.single("adopt", "must be true or false")
    given = payload["users"]
    if not isinstance(given, list) or not 1 <= len(given) <= imports.MAX_IMPORT:
        raise ValidationError.single("users", f"must be a list of 1 to {imports.MAX_IMPORT} users")
    now = c.clock.now()
    parsed: list[UserFields | ValidationError] = []
    for item in given:
        try:
            parsed.append(parse_imported_user(item, now))
        except ValidationError as exc:
            parsed.append(exc)
    results = imports.import_users(c.db, c.clock, c.builtins, parsed, adopt)
    return {"results": [_result_json(r) for r in results]}


def _result_json(result: imports.Result) -> dict[str, Any]:
    out: dict[str, Any] = {"index": result.index, "status": result.status}
    if result.id is not None:
        out["id"] = str(result.id)
    if result.error is not None:
        out["error"] = http.error_body(result.error)
    return out


@http.translate_errors
def events(context: Context, user_id: str) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.READ_USER_EVENTS, uid)
    found = users.user_events(bootstrap.container().db, uid)
    return {"items": [event_json(e) for e in found]}


def health() -> Response:
    ok = bootstrap.container().db.ping()
    body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}
    return http.json_response(body, 200 if ok else 503)
