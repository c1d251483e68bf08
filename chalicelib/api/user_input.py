"""Turn a client's JSON object into `UserFields`, naming every field that is wrong."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.domain.errors import FieldError, ValidationError
from chalicelib.domain.users import MAX_EXTERNAL_ID_LENGTH, MAX_METADATA_BYTES, UserFields, metadata_size
from chalicelib.domain.zones import is_known_zone, zone

MAX_NAME_LENGTH = 100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ATTRIBUTES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "dateOfBirth": "date_of_birth",
    "timezone": "timezone",
    "anniversaryDate": "anniversary_date",
    "externalId": "external_id",
    "metadata": "metadata",
}
_REQUIRED = ("firstName", "lastName", "dateOfBirth", "timezone")
_BAD_CHARACTER_CATEGORIES = {"Cc", "Cs", "Co", "Cn"}
EARLIEST_DATE = date(1900, 1, 1)
"""For both dates: no one alive was born earlier, so an older one is a typo or a placeholder."""
# A visible character is a letter, digit, punctuation mark or symbol that draws something:
# separators, format characters (U+200B) and lone combining marks do not, nor do the Hangul
# fillers and the braille blank, letters and symbols by category (Unicode lists them as
# Default_Ignorable or blank, which unicodedata does not expose).
_VISIBLE_CATEGORIES = ("L", "N", "P", "S")
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Bidirectional controls reorder the text around them (U+202E shows "Ada" as "adA" after it):
# the embeddings, overrides and isolates by their bidi class, the three marks by name (their
# classes are L, R and AL, the same as letters').
_BIDI_CONTROL_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
_BIDI_MARKS = frozenset("\u200e\u200f\u061c")


def parse_new_user(payload: Any, now: datetime) -> UserFields:
    """POST and PUT: every required field present."""
    values = _parse(payload, now, required=_REQUIRED)
    fields = UserFields(**values)
    _dates_in_order(fields, values)
    return fields


def parse_imported_user(payload: Any, now: datetime) -> UserFields:
    """One user of POST /user/import: a POST /user body whose externalId is required."""
    fields = parse_new_user(payload, now)
    if fields.external_id is None:  # present but null
        raise ValidationError.single("externalId", "is required")
    return fields


def parse_user_patch(payload: Any, current: UserFields, now: datetime) -> UserFields:
    """PATCH: only the fields given change; the result is checked as a whole."""
    values = _parse(payload, now, required=(), timezone_fallback=current.timezone)
    result = replace(current, **values)
    _dates_in_order(result, values)
    if "timezone" in values:
        # A date kept from before may be "tomorrow" in the new zone: what PUT would refuse.
        today = now.astimezone(zone(result.timezone)).date()
        errors = [
            FieldError(name, "must not be in the future in the new time zone")
            for name in ("dateOfBirth", "anniversaryDate")
            if _ATTRIBUTES[name] not in values
            and (kept := getattr(result, _ATTRIBUTES[name]))
            and kept > today
        ]
        if errors:
            raise ValidationError(errors)
    return result


def _parse(
    payload: Any, now: datetime, required: tuple[str, ...], timezone_fallback: str = "UTC"
) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = [FieldError(name, "is not a known field") for name in payload if name not in _ATTRIBUTES]
    errors += [FieldError(name, "is required") for name in required if name not in payload]
    values: dict[str, Any] = {}
    zone_name = timezone_fallback
    if "timezone" in payload:
        tz = payload["timezone"]
        if not isinstance(tz, str):
            errors.append(FieldError("timezone", "must be a string"))
        elif not is_known_zone(tz):
            errors.append(FieldError("timezone", "is not a known IANA time zone"))
        else:
            values["timezone"] = zone_name = tz
    today = now.astimezone(zone(zone_name) if is_known_zone(zone_name) else UTC).date()
    for name in ("firstName", "lastName"):
        if name in payload:
            _collect(values, errors, name, _name, payload[name])
    if "dateOfBirth" in payload:
        _collect(values, errors, "dateOfBirth", lambda v: _past_date(v, today), payload["dateOfBirth"])
    if "anniversaryDate" in payload:
        value = payload["anniversaryDate"]
        if value is None:
            values["anniversary_date"] = None
        else:
            _collect(values, errors, "anniversaryDate", lambda v: _past_date(v, today), value)
    for name, parse in (("externalId", _external_id), ("metadata", json_object)):
        if name in payload:
            value = payload[name]
            if value is None:
                values[_ATTRIBUTES[name]] = None
            else:
                _collect(values, errors, name, parse, value)
    if errors:
        raise ValidationError(errors)
    return values


def _dates_in_order(fields: UserFields, given: Collection[str]) -> None:
    """An anniversary before the birth is a typo. Checked when the request gives either date,
    and named after the one it gave (a PATCH of dateOfBirth alone may clash with the kept one)."""
    anniversary = fields.anniversary_date
    if anniversary is None or anniversary >= fields.date_of_birth:
        return
    if "anniversary_date" in given:
        raise ValidationError.single("anniversaryDate", "must not be before dateOfBirth")
    if "date_of_birth" in given:
        kept = anniversary.isoformat()
        raise ValidationError.single("dateOfBirth", f"must not be after the anniversaryDate kept ({kept})")


def _collect(values: dict[str, Any], errors: list[FieldError], name: str, parse: Any, raw: Any) -> None:
    try:
        values[_ATTRIBUTES[name]] = parse(raw)
    except ValueError as exc:
        errors.append(FieldError(name, str(exc)))


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c) in _BAD_CHARACTER_CATEGORIES for c in text):
        raise ValueError("must not contain control or unassigned characters")
    if any(c in _BIDI_MARKS or unicodedata.bidirectional(c) in _BIDI_CONTROL_CLASSES for c in text):
        raise ValueError(
            "must not contain bidirectional controls (U+200E, U+200F, U+061C, U+202A-U+202E, U+2066-U+2069)"
        )
    if not any(_visible(c) for c in text):
        raise ValueError("must contain a visible character")
    return text


def _visible(c: str) -> bool:
    return unicodedata.category(c).startswith(_VISIBLE_CATEGORIES) and c not in _BLANK_GLYPHS


def _past_date(value: Any, today: date) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a real calendar date") from None
    if parsed > today:
        raise ValueError("must not be in the future")
    if parsed < EARLIEST_DATE:
        raise ValueError(f"must not be before {EARLIEST_DATE.isoformat()}")
    return parsed


def _external_id(value: Any) -> str:
    """Kept exactly as given (an id is not a name): so surrounding whitespace is refused."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_EXTERNAL_ID_LENGTH:
        raise ValueError(f"must be 1 to {MAX_EXTERNAL_ID_LENGTH} characters")
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    if any(unicodedata.category(c) in _BAD_CHARACTER_CATEGORIES for c in value):
        raise ValueError("must not contain control or unassigned characters")
    return value


def json_object(value: Any) -> dict[str, Any]:
    """`metadata`, and a schedule's `payload`: a JSON object that jsonb can hold, at most 4 KB."""
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    _storable(value)
    size = metadata_size(value)
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as compact JSON, not {size}")
    return value


def _storable(value: Any) -> None:
    """What PostgreSQL's jsonb cannot hold: NUL characters, lone surrogates, NaN and infinities
    (which Python's JSON parser accepts)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item or any("\ud800" <= c <= "\udfff" for c in item):
                raise ValueError("must not contain NUL characters or lone surrogates")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must not contain NaN or Infinity")
