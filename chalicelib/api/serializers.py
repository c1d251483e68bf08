"""Domain objects to the API's camelCase JSON."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.events import Event
from chalicelib.domain.instants import iso_local, iso_utc
from chalicelib.domain.users import User


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
