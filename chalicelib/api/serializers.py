"""Domain objects to the API's camelCase JSON."""

from __future__ import annotations

from datetime import time
from typing import Any

from chalicelib.domain.audience import LocalOccurrence
from chalicelib.domain.endpoints import Endpoint, Secret
from chalicelib.domain.events import Event
from chalicelib.domain.instants import iso_local, iso_utc
from chalicelib.domain.planner import Occurrence
from chalicelib.domain.users import User
from chalicelib.services.schedules import ScheduleView


def user_json(user: User) -> dict[str, Any]:
    fields = user.fields
    return {
        "id": str(user.id),
        "firstName": fields.first_name,
        "lastName": fields.last_name,
        "dateOfBirth": fields.date_of_birth.isoformat(),
        "anniversaryDate": fields.anniversary_date.isoformat() if fields.anniversary_date else None,
        "timezone": fields.timezone,
        "externalId": fields.external_id,
        "metadata": fields.metadata,
        "createdAt": iso_utc(user.created_at),
        "updatedAt": iso_utc(user.updated_at),
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "userId": str(event.user_id),
        "eventType": event.event_type,
        "status": event.status.value,
        "occurrenceDate": event.occurrence_date.isoformat(),
        "targetUtc": iso_utc(event.target_utc),
        "targetLocal": iso_local(event.target_utc, event.timezone),
        "timezone": event.timezone,
        "idempotencyKey": event.idempotency_key,
        "attempts": event.attempts,
        "deliveredAt": iso_utc(event.delivered_at) if event.delivered_at else None,
        "late": event.late,
        "failureReason": event.failure_reason,
        "version": event.version,
        "scheduleId": str(event.schedule_id) if event.schedule_id else None,
    }


def schedule_json(view: ScheduleView) -> dict[str, Any]:
    if view.schedule.audience is not None:
        return audience_schedule_json(view)
    schedule, rule = view.schedule, view.schedule.rule
    assert view.timezone is not None
    return {
        "id": str(schedule.id),
        "userId": str(schedule.user_id),
        "eventType": schedule.event_type,
        "payload": schedule.fields.payload,
        "start": rule.start.isoformat(),
        "time": rule.at.strftime("%H:%M"),
        "timezone": schedule.fields.timezone,
        "effectiveTimezone": view.timezone,
        "recurrence": rule.recurrence.text() if rule.recurrence else None,
        "invalidDate": rule.invalid.value,
        "dst": {"gap": rule.dst.gap.value, "overlap": rule.dst.overlap.value},
        "status": schedule.status.value,
        "nextOccurrence": occurrence_json(view.next, view.timezone) if view.next else None,
        "createdAt": iso_utc(schedule.created_at),
        "updatedAt": iso_utc(schedule.updated_at),
        "version": schedule.version,
    }


def audience_schedule_json(view: ScheduleView) -> dict[str, Any]:
    """`audience` instead of `userId` and `timezone`; `nextOccurrence` the earliest of its
    zones' next occurrences (`targetLocal` in that zone), `nextLocal` its local date and time."""
    schedule, rule = view.schedule, view.schedule.rule
    assert schedule.audience is not None
    upcoming = view.next
    return {
        "id": str(schedule.id),
        "audience": schedule.audience.as_json(),
        "eventType": schedule.event_type,
        "payload": schedule.fields.payload,
        "start": rule.start.isoformat(),
        "time": rule.at.strftime("%H:%M"),
        "recurrence": rule.recurrence.text() if rule.recurrence else None,
        "invalidDate": rule.invalid.value,
        "dst": {"gap": rule.dst.gap.value, "overlap": rule.dst.overlap.value},
        "status": schedule.status.value,
        "nextOccurrence": occurrence_json(upcoming, view.timezone) if upcoming and view.timezone else None,
        "nextLocal": f"{upcoming.local_date.isoformat()}T{rule.at.strftime('%H:%M')}" if upcoming else None,
        "createdAt": iso_utc(schedule.created_at),
        "updatedAt": iso_utc(schedule.updated_at),
        "version": schedule.version,
    }


def local_occurrence_json(occurrence: LocalOccurrence, at: time) -> dict[str, Any]:
    return {
        "localDate": occurrence.local_date.isoformat(),
        "localTime": at.strftime("%H:%M"),
        "firstUtc": iso_utc(occurrence.first_utc),
        "lastUtc": iso_utc(occurrence.last_utc),
        "zones": occurrence.zones,
    }


def occurrence_json(occurrence: Occurrence, timezone: str) -> dict[str, Any]:
    return {
        "localDate": occurrence.local_date.isoformat(),
        "targetLocal": iso_local(occurrence.target_utc, timezone),
        "targetUtc": iso_utc(occurrence.target_utc),
    }


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    fields = endpoint.fields
    return {
        "id": str(endpoint.id),
        "destination": fields.destination.as_json(),
        "eventTypes": list(fields.event_types) if fields.event_types is not None else None,
        "description": fields.description,
        "rateLimit": fields.rate_limit,
        "status": "enabled" if endpoint.enabled else "disabled",
        "failingSince": iso_utc(endpoint.failing_since) if endpoint.failing_since else None,
        "disabledAt": iso_utc(endpoint.disabled_at) if endpoint.disabled_at else None,
        "createdAt": iso_utc(endpoint.created_at),
        "updatedAt": iso_utc(endpoint.updated_at),
    }


def secret_json(secret: Secret) -> dict[str, Any]:
    return {
        "secret": secret.value,
        "createdAt": iso_utc(secret.created_at),
        "expiresAt": iso_utc(secret.expires_at) if secret.expires_at else None,
    }
