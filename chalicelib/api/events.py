"""The /events routes, translated: the caller checked, JSON in, a service call, JSON out.

An event's owner is known only once it is loaded, so a `user` caller gets the same 403 for
another user's event as for one that does not exist (`require_owned`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from chalice.app import Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.auth import principal, require, require_owned
from chalicelib.api.serializers import event_json
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.events import Event
from chalicelib.services import events


def _owned_event(context: Context, event_id: str, action: Action) -> Event:
    eid: UUID = http.parse_id(event_id)
    db = bootstrap.container().db
    return require_owned(principal(context), action, lambda: events.get_event(db, eid), lambda e: e.user_id)


@http.translate_errors
def read(context: Context, event_id: str) -> dict[str, Any] | Response:
    return event_json(_owned_event(context, event_id, Action.READ_EVENT))


@http.translate_errors
def deliveries(context: Context, event_id: str) -> dict[str, Any] | Response:
    event = _owned_event(context, event_id, Action.READ_DELIVERIES)  # 404/403 before the ledger
    attempts = bootstrap.container().ledger.attempts_for_event(event.id)
    return {"items": [attempt.as_json() for attempt in attempts]}


@http.translate_errors
def retry(context: Context, event_id: str) -> Response:
    eid = http.parse_id(event_id)
    require(principal(context), Action.RETRY_EVENT)
    c = bootstrap.container()
    return http.json_response(event_json(events.retry_event(c.db, c.clock, eid)), 202)
