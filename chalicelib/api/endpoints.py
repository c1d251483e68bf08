"""The endpoint routes, translated: admin only, JSON in, a service call, JSON out. Each takes
the service the container built (app.py hands it over)."""

from __future__ import annotations

from typing import Any

from chalice.app import MultiDict, Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.endpoint_input import parse_endpoint_patch, parse_new_endpoint, parse_rotation
from chalicelib.api.events import parse_instant
from chalicelib.api.serializers import endpoint_json, secret_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.endpoints import DEFAULT_GRACE, STATS_WINDOW
from chalicelib.domain.errors import FieldError, ValidationError
from chalicelib.domain.instants import iso_utc
from chalicelib.services.endpoints import Endpoints

_LIST_PARAMS = {"limit", "cursor"}


def _admin(context: Context) -> None:
    require(principal(context), Action.MANAGE_ENDPOINTS)


@http.translate_errors
def create(service: Endpoints, context: Context, body: http.Body) -> Response:
    _admin(context)
    fields = parse_new_endpoint(http.json_body(body), service.rules)
    return http.json_response(endpoint_json(service.create(fields)), 201)


@http.translate_errors
def list_page(service: Endpoints, context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    _admin(context)
    params, errors = http.query_values(query, _LIST_PARAMS)
    limit, after = http.page_params(params, errors)
    if errors:
        raise ValidationError(errors)
    page = service.list(limit, after)
    return {"items": [endpoint_json(e) for e in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def read(service: Endpoints, context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    _admin(context)
    return endpoint_json(service.get(http.parse_id(endpoint_id)))


@http.translate_errors
def patch(
    service: Endpoints, context: Context, endpoint_id: str, body: http.Body
) -> dict[str, Any] | Response:
    _admin(context)
    eid = http.parse_id(endpoint_id)
    changes = http.json_body(body)
    if not isinstance(changes, dict):
        raise ValidationError.single("body", "must be a JSON object (a JSON merge patch)")
    changed = service.change(eid, lambda current: parse_endpoint_patch(changes, current, service.rules))
    return endpoint_json(changed)


@http.translate_errors
def delete(service: Endpoints, context: Context, endpoint_id: str) -> Response:
    _admin(context)
    service.delete(http.parse_id(endpoint_id))
    return Response(body="", status_code=204)


@http.translate_errors
def secret(service: Endpoints, context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    """The secrets that sign now, newest first: a receiver verifies with any of them."""
    _admin(context)
    now, found = service.secrets(http.parse_id(endpoint_id))
    return {"secrets": [secret_json(s) for s in found], "at": iso_utc(now)}


@http.translate_errors
def rotate(
    service: Endpoints, context: Context, endpoint_id: str, body: http.Body
) -> dict[str, Any] | Response:
    """The body is optional: none means the default grace (a day)."""
    _admin(context)
    eid = http.parse_id(endpoint_id)
    grace = parse_rotation(http.json_body(body)) if body.raw else DEFAULT_GRACE
    found = service.rotate(eid, grace)
    return {"secrets": [secret_json(s) for s in found], "at": iso_utc(service.now())}


@http.translate_errors
def enable(service: Endpoints, context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    _admin(context)
    return endpoint_json(service.enable(http.parse_id(endpoint_id)))


@http.translate_errors
def recover(service: Endpoints, context: Context, endpoint_id: str, body: http.Body) -> Response:
    """{"since": INSTANT}: what failed or was held since then, sent again."""
    _admin(context)
    eid = http.parse_id(endpoint_id)
    since = _only_string(body, "since", "is required: an ISO 8601 date-time")
    queued = service.recover(eid, parse_instant(since, "since"))
    return http.json_response({"queued": queued}, 202)


@http.translate_errors
def replay(service: Endpoints, context: Context, event_id: str, body: http.Body) -> Response:
    """{"endpointId": ...}: one finished event sent to that endpoint again."""
    _admin(context)
    eid = http.parse_id(event_id)
    target = _only_string(body, "endpointId", "is required: an endpoint's id")
    service.replay(eid, http.parse_id(target, "endpointId"))
    return http.json_response({"queued": 1}, 202)


@http.translate_errors
def stats(service: Endpoints, context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    """The last 24 hours: deliveries, successes, failures, p50/p95 response time, the last error."""
    _admin(context)
    found = service.stats(http.parse_id(endpoint_id))
    return {
        "since": iso_utc(service.now() - STATS_WINDOW),
        "deliveries": found.deliveries,
        "successes": found.successes,
        "failures": found.failures,
        "p50Ms": None if found.p50_ms is None else round(found.p50_ms, 1),
        "p95Ms": None if found.p95_ms is None else round(found.p95_ms, 1),
        "lastError": found.last_error,
        "lastErrorAt": iso_utc(found.last_error_at) if found.last_error_at else None,
    }


def _only_string(body: http.Body, field: str, missing: str) -> str:
    """A body of one string field: any other field, or that one missing or not a string, is a 400."""
    payload = http.json_body(body)
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name != field]
    value = payload.get(field)
    if not isinstance(value, str):
        errors.append(FieldError(field, missing))
    if errors:
        raise ValidationError(errors)
    return str(value)
