"""The /events routes, translated: the caller checked, JSON in, a service call, JSON out.

An event's owner is known only once it is loaded, so a `user` caller gets the same 403 for
another user's event as for one that does not exist (`require_owned`).
"""

from __future__ import annotations

import base64
import binascii
import struct
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from chalice.app import MultiDict, Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require, require_owned
from chalicelib.api.serializers import event_json
from chalicelib.api.users import Context
from chalicelib.domain import event_types
from chalicelib.domain.access import Action
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.events import Event, EventFilter, Status
from chalicelib.domain.schedules import EVENT_TYPE
from chalicelib.services.events import Events

_LIST_PARAMS = {"status", "eventType", "userId", "scheduleId", "from", "to", "late", "limit", "cursor"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _owned_event(events: Events, context: Context, event_id: str, action: Action) -> Event:
    eid: UUID = http.parse_id(event_id)
    return require_owned(principal(context), action, lambda: events.get(eid), lambda e: e.user_id)


@http.translate_errors
def read(events: Events, context: Context, event_id: str) -> dict[str, Any] | Response:
    return event_json(_owned_event(events, context, event_id, Action.READ_EVENT))


@http.translate_errors
def deliveries(events: Events, context: Context, event_id: str) -> dict[str, Any] | Response:
    event = _owned_event(events, context, event_id, Action.READ_DELIVERIES)  # 404/403 before the ledger
    return {"items": [attempt.as_json() for attempt in events.deliveries(event)]}


@http.translate_errors
def retry(events: Events, context: Context, event_id: str) -> Response:
    eid = http.parse_id(event_id)
    require(principal(context), Action.RETRY_EVENT)
    return http.json_response(event_json(events.retry(eid)), 202)


@http.translate_errors
def list_page(events: Events, context: Context, query: MultiDict | None) -> dict[str, Any] | Response:
    require(principal(context), Action.LIST_EVENTS)
    where, limit = parse_filter(query)
    found = events.find(where, limit)
    last = found[-1] if len(found) == limit else None
    return {
        "items": [event_json(e) for e in found],
        "nextCursor": encode_cursor(last.target_utc, last.id) if last else None,
    }


def parse_filter(query: MultiDict | None) -> tuple[EventFilter, int]:
    """GET /events' query string, every wrong parameter named at once."""
    params, wrong = http.query_values(query, _LIST_PARAMS)
    errors = [ValidationError([detail]) for detail in wrong]
    values: dict[str, Any] = {}
    checks = (
        ("status", "status", _status),
        ("eventType", "event_type", _event_type),
        ("userId", "user_id", lambda v: http.parse_id(v, "userId")),
        ("scheduleId", "schedule_id", lambda v: http.parse_id(v, "scheduleId")),
        ("from", "target_from", lambda v: parse_instant(v, "from")),
        ("to", "target_to", lambda v: parse_instant(v, "to")),
        ("late", "late", _boolean),
        ("cursor", "after", decode_cursor),
    )
    for name, attribute, parse in checks:
        if name in params:
            try:
                values[attribute] = parse(params[name])
            except ValidationError as exc:
                errors.append(exc)
    limit = http.DEFAULT_PAGE
    try:
        limit = http.parse_limit(params.get("limit"))
    except ValidationError as exc:
        errors.append(exc)
    if values.get("target_from") and values.get("target_to") and values["target_from"] >= values["target_to"]:
        errors.append(ValidationError.single("to", "must be later than from"))
    if errors:
        raise ValidationError([d for e in errors for d in e.details])
    return EventFilter(**values), limit


def _status(value: str) -> str:
    if value not in Status.__members__:
        raise ValidationError.single("status", f"must be one of {', '.join(Status)}")
    return value


def _event_type(value: str) -> str:
    """A built-in type or a schedule's own (the same pattern)."""
    if not EVENT_TYPE.fullmatch(value):
        builtins = ", ".join(event_types.REGISTRY)
        message = f"must be {builtins} or a schedule's eventType ({EVENT_TYPE.pattern})"
        raise ValidationError.single("eventType", message)
    return value


def _boolean(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValidationError.single("late", "must be true or false")
    return value == "true"


def parse_instant(value: str, name: str) -> datetime:
    """ISO 8601 with an offset (`Z` or `+05:45`); a date alone is its midnight UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError.single(
            name, "must be an ISO 8601 date-time, e.g. 2026-12-10T09:00:00Z"
        ) from None
    if len(value) == 10:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise ValidationError.single(name, "must include a UTC offset (Z or +HH:MM)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-01:00 is in year 10000 in UTC
        raise ValidationError.single(name, "is outside the years 1 to 9999 in UTC") from None


def encode_cursor(target: datetime, event_id: UUID) -> str:
    micros = (target - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(struct.pack(">q", micros) + event_id.bytes).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(raw) != 24:
            raise ValueError("wrong length")
        (micros,) = struct.unpack(">q", raw[:8])
        return _EPOCH + timedelta(microseconds=micros), UUID(bytes=raw[8:])
    except (ValueError, binascii.Error, OverflowError, struct.error):
        raise ValidationError.single("cursor", "is not a cursor this API returned") from None
