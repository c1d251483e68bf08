"""The /events routes, translated: JSON in, a service call, JSON out."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.serializers import event_json
from chalicelib.services import events


@http.translate_errors
def read(event_id: str) -> dict[str, Any] | Response:
    return event_json(events.get_event(bootstrap.container().db, http.parse_id(event_id)))


@http.translate_errors
def deliveries(event_id: str) -> dict[str, Any] | Response:
    c = bootstrap.container()
    attempts = events.deliveries(c.db, c.ledger, http.parse_id(event_id))
    return {"items": [attempt.as_json() for attempt in attempts]}


@http.translate_errors
def retry(event_id: str) -> Response:
    c = bootstrap.container()
    event = events.retry_event(c.db, c.clock, http.parse_id(event_id))
    return http.json_response(event_json(event), 202)
