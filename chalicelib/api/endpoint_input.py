"""Turn a client's JSON into an endpoint's fields, naming every field that is wrong.

POST's body is parsed as it is; PATCH's is a JSON merge patch (RFC 7396) applied to the
endpoint as a client would have written it, then parsed as a whole, as POST's (the schedules'
way, api/schedule_input.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.api.schedule_input import merge_patch, parse_present
from chalicelib.domain.endpoints import (
    DEFAULT_GRACE,
    MAX_DESCRIPTION,
    MAX_GRACE,
    MAX_RATE_LIMIT,
    TARGET_FIELD,
    Destination,
    DestinationRules,
    DestinationType,
    EndpointFields,
)
from chalicelib.domain.errors import FieldError, ValidationError
from chalicelib.domain.schedules import EVENT_TYPE

FIELDS = ("destination", "eventTypes", "description", "rateLimit")
MAX_URL = 2048
MAX_EVENT_TYPES = 100
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
_BUS = re.compile(
    r"[A-Za-z0-9._/-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}"
)


def parse_new_endpoint(payload: Any, rules: DestinationRules) -> EndpointFields:
    """POST /endpoints: destination required; eventTypes (null: every type), description and
    rateLimit (null: none) optional."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name not in FIELDS]
    destination: Destination | None = None
    if payload.get("destination") is None:
        errors.append(FieldError("destination", "is required"))
    else:
        try:
            destination = _destination(payload["destination"], rules)
        except ValidationError as exc:
            errors += exc.details
    values = parse_present(payload, _PARSERS, errors)
    if errors:
        raise ValidationError(errors)
    assert destination is not None
    return EndpointFields(
        destination, values.get("eventTypes"), values.get("description", ""), values.get("rateLimit")
    )


def parse_endpoint_patch(patch: Any, current: EndpointFields, rules: DestinationRules) -> EndpointFields:
    """PATCH /endpoints/{id}: the merge patch applied to the endpoint, checked as a whole. A
    `destination` in the patch replaces the old one whole (its fields belong together)."""
    if not isinstance(patch, dict):
        raise ValidationError.single("body", "must be a JSON object")
    merged = merge_patch(as_input(current), {k: v for k, v in patch.items() if k != "destination"})
    if "destination" in patch:
        merged["destination"] = patch["destination"]
    return parse_new_endpoint(merged, rules)


def parse_rotation(payload: Any) -> timedelta:
    """POST /endpoints/{id}/secret/rotate's optional body: {"graceSeconds": 0-604800}."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name != "graceSeconds"]
    grace = payload.get("graceSeconds")
    limit = int(MAX_GRACE.total_seconds())
    if grace is not None and (type(grace) is not int or not 0 <= grace <= limit):
        errors.append(FieldError("graceSeconds", f"must be a whole number of seconds from 0 to {limit}"))
    if errors:
        raise ValidationError(errors)
    return DEFAULT_GRACE if grace is None else timedelta(seconds=grace)


def as_input(fields: EndpointFields) -> dict[str, Any]:
    """The endpoint as a POST body that would create it: what a merge patch applies to."""
    return {
        "destination": fields.destination.as_json(),
        "eventTypes": list(fields.event_types) if fields.event_types is not None else None,
        "description": fields.description,
        "rateLimit": fields.rate_limit,
    }


def _destination(value: Any, rules: DestinationRules) -> Destination:
    kinds = ", ".join(DestinationType)
    if not isinstance(value, dict):
        raise ValidationError.single("destination", f'must be an object: {{"type": {kinds}, ...}}')
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in {k.value for k in DestinationType}:
        raise ValidationError.single("destination.type", f"must be one of {kinds}")
    chosen = DestinationType(kind)
    field = TARGET_FIELD[chosen]
    errors = [
        FieldError(f"destination.{name}", "is not a known field")
        for name in value
        if name not in ("type", field)
    ]
    target = value.get(field)
    problem = _target_problem(chosen, target)
    if problem is None:
        problem = rules.problem(Destination(chosen, str(target)))
    if problem is not None:
        errors.append(FieldError(f"destination.{field}", problem))
    if errors:
        raise ValidationError(errors)
    return Destination(chosen, str(target))


def _target_problem(kind: DestinationType, target: Any) -> str | None:
    if not isinstance(target, str) or not target:
        return "is required"
    if len(target) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    if kind in (DestinationType.WEBHOOK, DestinationType.SQS):
        try:
            parts = urlsplit(target)
            parts.port  # noqa: B018 (raises on a port that is not one)
        except ValueError:
            return "must be a URL"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "must be an http:// or https:// URL with a host"
        if parts.fragment:
            return "must not have a fragment"
        if kind is DestinationType.SQS and len(parts.path.strip("/").split("/")) != 2:
            return "must be a queue URL: https://sqs.<region>.amazonaws.com/<account>/<name>"
        return None
    if kind is DestinationType.SNS and not _SNS_ARN.fullmatch(target):
        return "must be a topic ARN: arn:aws:sns:<region>:<account>:<name>"
    if kind is DestinationType.EVENTBRIDGE and not _BUS.fullmatch(target):
        return "must be an event bus name or ARN"
    return None


def _event_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_EVENT_TYPES:
        raise ValidationError.single(
            "eventTypes", f"must be a list of 1 to {MAX_EVENT_TYPES} event types, or null for every type"
        )
    errors = [
        FieldError(f"eventTypes[{i}]", f"must match ^{EVENT_TYPE.pattern}$")
        for i, name in enumerate(value)
        if not isinstance(name, str) or not EVENT_TYPE.fullmatch(name)
    ]
    if errors:
        raise ValidationError(errors)
    return tuple(dict.fromkeys(value))


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError.single(
            "description", f"must be a string of at most {MAX_DESCRIPTION} characters"
        )
    return value


def _rate_limit(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= MAX_RATE_LIMIT:
        raise ValidationError.single(
            "rateLimit",
            f"must be a whole number of deliveries per second from 1 to {MAX_RATE_LIMIT}, or null",
        )
    return value


_PARSERS = {"eventTypes": _event_types, "description": _description, "rateLimit": _rate_limit}
