"""Turn a client's JSON into a schedule's fields, naming every field that is wrong.

POST's body is parsed as it is; PATCH's is a JSON merge patch (RFC 7396) applied to the
schedule as a client would have written it, and the result parsed as a whole, as POST's. A
`null` is an absent member: the default where there is one (`timezone`: the user's zone,
`recurrence`: once), "is required" where there is none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, time
from enum import StrEnum
from typing import Any

from chalicelib.api.user_input import json_object
from chalicelib.domain.audience import Audience
from chalicelib.domain.errors import FieldError, ValidationError
from chalicelib.domain.planner import DstPolicy, Gap, Overlap, Rule
from chalicelib.domain.recurrence import InvalidDate, Recurrence, RuleError, parse
from chalicelib.domain.schedules import EVENT_TYPE, CatchUp, ScheduleFields, reserved_types
from chalicelib.domain.zones import is_known_zone

FIELDS = ("eventType", "payload", "start", "time", "timezone", "recurrence", "invalidDate", "dst")
REQUIRED = ("eventType", "start", "time")
AUDIENCE_FIELDS = (*(name for name in FIELDS if name != "timezone"), "audience")
"""POST /schedules: a user's schedule's fields but `timezone` (always each user's own), and
the audience."""
AUDIENCE_REQUIRED = (*REQUIRED, "audience")
DST_FIELDS = ("gap", "overlap")
EARLIEST_START = date(1900, 1, 1)
LATEST_START = date(2999, 12, 31)
MAX_RECURRENCE_LENGTH = 1000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def parse_new_schedule(payload: Any) -> ScheduleFields:
    """POST /user/{id}/schedules: eventType, start and time required, the rest defaulted."""
    return _parse(payload, FIELDS, REQUIRED)


def parse_new_audience_schedule(payload: Any) -> ScheduleFields:
    """POST /schedules: eventType, start, time and audience required, the rest defaulted."""
    return _parse(payload, AUDIENCE_FIELDS, AUDIENCE_REQUIRED)


def _parse(payload: Any, known: tuple[str, ...], required: tuple[str, ...]) -> ScheduleFields:
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name not in known]
    errors += [FieldError(name, "is required") for name in required if payload.get(name) is None]
    values = parse_present(payload, _PARSERS, errors)
    if errors:
        raise ValidationError(errors)
    rule = Rule(
        start=values["start"],
        at=values["time"],
        recurrence=values.get("recurrence"),
        invalid=values.get("invalidDate", InvalidDate.OMIT),
        dst=values.get("dst", DstPolicy()),
    )
    return ScheduleFields(
        values["eventType"], rule, values.get("payload", {}), values.get("timezone"), values.get("audience")
    )


def parse_schedule_patch(patch: Any, current: ScheduleFields) -> ScheduleFields:
    """PATCH /schedules/{id}: the merge patch applied to `current`, checked as a whole. The
    eventType is the schedule's kind for good: naming it is refused."""
    if not isinstance(patch, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = []
    if "eventType" in patch:
        errors.append(FieldError("eventType", "cannot be changed: create another schedule"))
    changes = {name: value for name, value in patch.items() if name != "eventType"}
    try:
        merged = merge_patch(as_input(current), changes)
    except RecursionError:  # a payload nested hundreds deep: bad input, not a 500
        raise ValidationError.single("payload", "is nested too deeply") from None
    try:
        fields = _parse(
            merged, *((AUDIENCE_FIELDS, AUDIENCE_REQUIRED) if current.audience else (FIELDS, REQUIRED))
        )
    except ValidationError as exc:
        raise ValidationError(errors + exc.details) from None
    if errors:
        raise ValidationError(errors)
    return fields


def parse_catch_up(payload: Any) -> CatchUp:
    """POST /schedules/{id}/resume's optional body: {"catchUp": "none" | "latest" | "all"}."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name != "catchUp"]
    how = payload.get("catchUp")
    if how is not None and not _one_of(how, CatchUp):
        errors.append(FieldError("catchUp", f"must be one of {', '.join(CatchUp)}"))
    if errors:
        raise ValidationError(errors)
    return CatchUp(how) if how is not None else CatchUp.NONE


def as_input(fields: ScheduleFields) -> dict[str, Any]:
    """The schedule as a POST body that would create it: what a merge patch applies to."""
    rule = fields.rule
    common = {
        "eventType": fields.event_type,
        "payload": fields.payload,
        "start": rule.start.isoformat(),
        "time": rule.at.strftime("%H:%M"),
        "timezone": fields.timezone,
        "recurrence": rule.recurrence.text() if rule.recurrence else None,
        "invalidDate": rule.invalid.value,
        "dst": {"gap": rule.dst.gap.value, "overlap": rule.dst.overlap.value},
    }
    if fields.audience is not None:
        del common["timezone"]
        common["audience"] = fields.audience.as_json()
    return common


def parse_present(
    payload: dict[str, Any], parsers: Mapping[str, Callable[[Any], Any]], errors: list[FieldError]
) -> dict[str, Any]:
    """Each field the body gives (not null) through its parser; what a parser refuses is added
    to `errors` under the field's name (a ValueError's message), so that one answer names all."""
    values: dict[str, Any] = {}
    for name, parse_field in parsers.items():
        if payload.get(name) is not None:
            try:
                values[name] = parse_field(payload[name])
            except ValidationError as exc:
                errors += exc.details
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
    return values


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: an object merges member by member (recursively: `dst`, `payload`), `null`
    removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def _event_type(value: Any) -> str:
    if not isinstance(value, str) or not EVENT_TYPE.fullmatch(value):
        raise ValueError(f"must match ^{EVENT_TYPE.pattern}$ (a lower-case letter, then a-z 0-9 _ . -)")
    if value in reserved_types():
        raise ValueError(f"must not be a built-in type ({', '.join(sorted(reserved_types()))})")
    return value


def _start(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a real calendar date") from None
    if not EARLIEST_START <= parsed <= LATEST_START:
        raise ValueError(f"must be from {EARLIEST_START.isoformat()} to {LATEST_START.isoformat()}")
    return parsed


def _time(value: Any) -> time:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError("must be a wall time as HH:MM, from 00:00 to 23:59")
    return time(int(value[:2]), int(value[3:]))


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string, or null to follow the user's zone")
    if not is_known_zone(value):
        raise ValueError("is not a known IANA time zone")
    return value


def _recurrence(value: Any) -> Recurrence:
    if not isinstance(value, str):
        raise ValueError("must be an RRULE value (FREQ=WEEKLY;BYDAY=MO), or null for once")
    if len(value) > MAX_RECURRENCE_LENGTH:
        raise ValueError(f"must be at most {MAX_RECURRENCE_LENGTH} characters")
    try:
        return parse(value)
    except RuleError as exc:
        field = "recurrence" if exc.part == "recurrence" else f"recurrence.{exc.part}"
        raise ValidationError.single(field, exc.message) from None


def _one_of(value: Any, choices: type[StrEnum]) -> bool:
    return isinstance(value, str) and value in {c.value for c in choices}


def _invalid_date(value: Any) -> InvalidDate:
    if not _one_of(value, InvalidDate):
        raise ValueError(f"must be one of {', '.join(InvalidDate)}")
    return InvalidDate(value)


def _dst(value: Any) -> DstPolicy:
    if not isinstance(value, dict):
        raise ValueError('must be an object: {"gap": "shift" | "skip", "overlap": "first" | "second"}')
    errors = [FieldError(f"dst.{name}", "is not a known field") for name in value if name not in DST_FIELDS]
    gap, overlap = value.get("gap"), value.get("overlap")
    if gap is not None and not _one_of(gap, Gap):
        errors.append(FieldError("dst.gap", f"must be one of {', '.join(Gap)}"))
    if overlap is not None and not _one_of(overlap, Overlap):
        errors.append(FieldError("dst.overlap", f"must be one of {', '.join(Overlap)}"))
    if errors:
        raise ValidationError(errors)
    return DstPolicy(Gap(gap or Gap.SHIFT), Overlap(overlap or Overlap.FIRST))


def _audience(value: Any) -> Audience:
    """{"all": true}, or {"metadata": {...}}: the users whose metadata contains that object."""
    shape = 'must be {"all": true} or {"metadata": {...}}'
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(shape)
    errors = [
        FieldError(f"audience.{name}", "is not a known field")
        for name in value
        if name not in ("all", "metadata")
    ]
    if errors:
        raise ValidationError(errors)
    if "all" in value:
        if value["all"] is not True:
            raise ValidationError.single("audience.all", "must be true (or give metadata instead)")
        return Audience()
    try:
        return Audience(json_object(value["metadata"]))
    except ValueError as exc:
        raise ValidationError.single("audience.metadata", str(exc)) from None


_PARSERS = {
    "eventType": _event_type,
    "payload": json_object,
    "start": _start,
    "time": _time,
    "timezone": _timezone,
    "recurrence": _recurrence,
    "invalidDate": _invalid_date,
    "dst": _dst,
    "audience": _audience,
}
