"""The endpoint routes, translated: admin only, JSON in, a service call, JSON out."""

from __future__ import annotations

from typing import Any

from chalice.app import MultiDict, Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.endpoint_input import parse_endpoint_patch, parse_new_endpoint, parse_rotation
from chalicelib.api.events import parse_instant
from chalicelib.api.serializers import endpoint_json, secret_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.endpoints import DEFAULT_GRACE, STATS_WINDOW, DestinationRules
from chalicelib.domain.errors import FieldError, ValidationError
from chalicelib.domain.instants import iso_utc
from chalicelib.services import endpoints

_LIST_PARAMS = {"limit", "cursor"}


def _admin(context: Context) -> None:
    require(principal(context), Action.MANAGE_ENDPOINTS)


def _rules() -> DestinationRules:
    s = bootstrap.container().settings
    return DestinationRules(s.aws_region, s.endpoint_allowed_arns, s.endpoint_private_urls)


@http.translate_errors
def create(context: Context, body: http.Body) -> Response:
    _admin(context)
    c = bootstrap.container()
    fields = parse_new_endpoint(http.json_body(body), _rules())
    return http.json_response(endpoint_json(endpoints.create_endpoint(c.db, c.clock, fields)), 201)


@http.translate_errors
def list_page(context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    _admin(context)
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
    page = endpoints.list_endpoints(bootstrap.container().db, limit, after)
    return {"items": [endpoint_json(e) for e in page.items], "nextCursor": http.encode_cursor(page.last_id)}


@http.translate_errors
def read(context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    _admin(context)
    return endpoint_json(endpoints.get_endpoint(bootstrap.container().db, http.parse_id(endpoint_id)))


@http.translate_errors
def patch(context: Context, endpoint_id: str, body: http.Body) -> dict[str, Any] | Response:
    _admin(context)
    eid = http.parse_id(endpoint_id)
    c = bootstrap.container()
    changes, rules = http.json_body(body), _rules()
    if not isinstance(changes, dict):
        raise ValidationError.single("body", "must be a JSON object (a JSON merge patch)")
    changed = endpoints.change_endpoint(
        c.db, c.clock, eid, lambda current: parse_endpoint_patch(changes, current, rules)
    )
    return endpoint_json(changed)


@http.translate_errors
def delete(context: Context, endpoint_id: str) -> Response:
    _admin(context)
    c = bootstrap.container()
    endpoints.delete_endpoint(c.db, c.clock, http.parse_id(endpoint_id))
    return Response(body="", status_code=204)


@http.translate_errors
def secret(context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    """The secrets that sign now, newest first: a receiver verifies with any of them."""
    _admin(context)
    c = bootstrap.container()
    now, found = endpoints.secrets_in_force(c.db, c.clock, http.parse_id(endpoint_id))
    return {"secrets": [secret_json(s) for s in found], "at": iso_utc(now)}


@http.translate_errors
def rotate(context: Context, endpoint_id: str, body: http.Body) -> dict[str, Any] | Response:
    """The body is optional: none means the default grace (a day)."""
    _admin(context)
    eid = http.parse_id(endpoint_id)
    c = bootstrap.container()
    grace = parse_rotation(http.json_body(body)) if body.raw else DEFAULT_GRACE
    found = endpoints.rotate_secret(c.db, c.clock, eid, grace)
    return {"secrets": [secret_json(s) for s in found], "at": iso_utc(c.clock.now())}


@http.translate_errors
def enable(context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    _admin(context)
    c = bootstrap.container()
    return endpoint_json(endpoints.enable_endpoint(c.db, c.clock, c.notices, http.parse_id(endpoint_id)))


@http.translate_errors
def recover(context: Context, endpoint_id: str, body: http.Body) -> Response:
    """{"since": INSTANT}: what failed or was held since then, sent again."""
    _admin(context)
    eid = http.parse_id(endpoint_id)
    payload = http.json_body(body)
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name != "since"]
    since = payload.get("since")
    if not isinstance(since, str):
        errors.append(FieldError("since", "is required: an ISO 8601 date-time"))
    if errors:
        raise ValidationError(errors)
    c = bootstrap.container()
    queued = endpoints.recover(c.db, c.clock, c.queue, eid, parse_instant(str(since), "since"))
    return http.json_response({"queued": queued}, 202)


@http.translate_errors
def replay(context: Context, event_id: str, body: http.Body) -> Response:
    """{"endpointId": ...}: one finished event sent to that endpoint again."""
    _admin(context)
    eid = http.parse_id(event_id)
    payload = http.json_body(body)
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name != "endpointId"]
    target = payload.get("endpointId")
    if not isinstance(target, str):
        errors.append(FieldError("endpointId", "is required: an endpoint's id"))
    if errors:
        raise ValidationError(errors)
    c = bootstrap.container()
    endpoints.replay(c.db, c.queue, eid, http.parse_id(str(target), "endpointId"))
    return http.json_response({"queued": 1}, 202)


@http.translate_errors
def stats(context: Context, endpoint_id: str) -> dict[str, Any] | Response:
    """The last 24 hours: deliveries, successes, failures, p50/p95 response time, the last error."""
    _admin(context)
    c = bootstrap.container()
    found = endpoints.stats(c.db, c.clock, c.ledger, http.parse_id(endpoint_id))
    return {
        "since": iso_utc(c.clock.now() - STATS_WINDOW),
        "deliveries": found.deliveries,
        "successes": found.successes,
        "failures": found.failures,
        "p50Ms": None if found.p50_ms is None else round(found.p50_ms, 1),
        "p95Ms": None if found.p95_ms is None else round(found.p95_ms, 1),
        "lastError": found.last_error,
        "lastErrorAt": iso_utc(found.last_error_at) if found.last_error_at else None,
    }
