"""The /user routes, translated: the caller checked, JSON in, a service call, JSON out.

Each route takes the service the container built (app.py hands it over), then the request
context (the authorizer's claims), and checks access before it reads the body or the database,
so a refusal says nothing about the record asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import MultiDict, Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.serializers import event_json, user_json
from chalicelib.api.user_input import parse_imported_user, parse_new_user, parse_user_patch
from chalicelib.domain import access
from chalicelib.domain.access import Action, Principal
from chalicelib.domain.errors import FieldError, Forbidden, ValidationError
from chalicelib.domain.users import UserFields
from chalicelib.services import imports
from chalicelib.services.imports import Imports
from chalicelib.services.users import Users

Context = Mapping[str, Any] | None
_LIST_PARAMS = {"limit", "cursor", "externalId"}
TEAM_FIELDS = ("externalId", "metadata")


@http.translate_errors
def create(users: Users, context: Context, body: http.Body) -> Response:
    require(principal(context), Action.CREATE_USER)
    fields = parse_new_user(http.json_body(body), users.now())
    return http.json_response(user_json(users.create(fields)), 201)


@http.translate_errors
def read(users: Users, context: Context, user_id: str) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.READ_USER, uid)
    return user_json(users.get(uid))


@http.translate_errors
def replace(users: Users, context: Context, user_id: str, body: http.Body) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    caller = principal(context)
    require(caller, Action.CHANGE_USER, uid)
    payload = http.json_body(body)
    team = may_set_team_fields(caller, payload)
    fields = parse_new_user(payload, users.now())

    def change(current: UserFields) -> UserFields:
        return fields if team else fields.keeping_team_data(current)

    return user_json(users.change(uid, change))


@http.translate_errors
def patch(users: Users, context: Context, user_id: str, body: http.Body) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    caller = principal(context)
    require(caller, Action.CHANGE_USER, uid)
    payload = http.json_body(body)
    may_set_team_fields(caller, payload)
    now = users.now()
    return user_json(users.change(uid, lambda current: parse_user_patch(payload, current, now)))


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
def delete(users: Users, context: Context, user_id: str) -> Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.DELETE_USER, uid)
    users.delete(uid)
    return Response(body="", status_code=204)


@http.translate_errors
def list_page(users: Users, context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    require(principal(context), Action.LIST_USERS)
    params, errors = http.query_values(query, _LIST_PARAMS)
    if errors:
        raise ValidationError(errors)
    limit, after = http.parse_limit(params.get("limit")), http.decode_cursor(params.get("cursor"))
    external_id = params.get("externalId")
    if external_id is not None:
        page = users.find_by_external_id(external_id, after)
    else:
        page = users.page(limit, after)
    return {"items": [user_json(u) for u in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def import_batch(importer: Imports, context: Context, body: http.Body) -> dict[str, Any] | Response:
    require(principal(context), Action.IMPORT_USERS)
    payload = http.json_body(body)
    if not isinstance(payload, dict) or "users" not in payload or not set(payload) <= {"users", "adopt"}:
        raise ValidationError.single("body", 'must be a JSON object {"users": [...], "adopt": false}')
    adopt = payload.get("adopt", False)
    if not isinstance(adopt, bool):
        raise ValidationError.single("adopt", "must be true or false")
    given = payload["users"]
    if not isinstance(given, list) or not 1 <= len(given) <= imports.MAX_IMPORT:
        raise ValidationError.single("users", f"must be a list of 1 to {imports.MAX_IMPORT} users")
    now = importer.now()
    parsed: list[UserFields | ValidationError] = []
    for item in given:
        try:
            parsed.append(parse_imported_user(item, now))
        except ValidationError as exc:
            parsed.append(exc)
    results = importer.run(parsed, adopt)
    return {"results": [_result_json(r) for r in results]}


def _result_json(result: imports.Result) -> dict[str, Any]:
    out: dict[str, Any] = {"index": result.index, "status": result.status}
    if result.id is not None:
        out["id"] = str(result.id)
    if result.error is not None:
        out["error"] = http.error_body(result.error)
    return out


@http.translate_errors
def events(users: Users, context: Context, user_id: str) -> dict[str, Any] | Response:
    uid = http.parse_id(user_id)
    require(principal(context), Action.READ_USER_EVENTS, uid)
    return {"items": [event_json(e) for e in users.events(uid)]}
