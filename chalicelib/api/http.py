"""HTTP plumbing shared by the routes: bodies, ids, cursors and the error shape."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from chalice.app import MultiDict, Response

from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    SchedulerError,
    Unauthenticated,
    Unavailable,
    ValidationError,
)

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


_MEDIA_TYPE = FieldError("Content-Type", "must be application/json, with no charset or charset=utf-8")


class UnsupportedMediaType(SchedulerError):
    """The body is not declared as JSON: send Content-Type: application/json."""

    code = "unsupported_media_type"

    def __init__(self, content_type: str | None) -> None:
        super().__init__(f"Unsupported media type: {content_type or 'none given'}")  # Chalice's words
        self.details = [_MEDIA_TYPE]


@dataclass(frozen=True)
class Body:
    """A request's body as sent and its Content-Type header: read by a route after its access
    check, so a refusal says nothing about the body."""

    raw: str | bytes | None
    content_type: str | None


_STATUS = {
    ValidationError: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    UnsupportedMediaType: 415,
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{22}")  # 16 bytes, base64url, unpadded
MAX_PAGE = 100
DEFAULT_PAGE = 20


def json_response(body: Any, status: int = 200) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def error_response(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": details or []}}, status)


# Chalice answers some requests itself, before or around a view, as {"Code", "Message"}.
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "NotFoundError": "not_found",
    "InternalServerError": "internal_error",
}


def in_api_shape(response: Response) -> Response:
    """Chalice's own errors (405, 415, 500...) in the API's error shape, and a JSON content
    type on every body that lacks one (Chalice leaves it unset when a view returns a dict)."""
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(str(body["Code"]), "error")
        details = [asdict(_MEDIA_TYPE)] if code == UnsupportedMediaType.code else None
        shaped = error_response(response.status_code, code, str(body["Message"]), details)
        shaped.headers = {**response.headers, **shaped.headers}
        return shaped
    if body not in (None, "", b"") and not any(k.lower() == "content-type" for k in response.headers):
        response.headers = {**response.headers, "Content-Type": "application/json"}
    return response


def domain_error_response(exc: SchedulerError) -> Response:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 500)
    return json_response({"error": error_body(exc)}, status)


def error_body(exc: SchedulerError) -> dict[str, Any]:
    """The inside of the error shape: {code, message, details}."""
    details = [{"field": d.field, "message": d.message} for d in getattr(exc, "details", [])]
    return {"code": exc.code, "message": exc.message, "details": details}


def unavailable_response(exc: Unavailable) -> Response:
    logger.error("%s unavailable: %s", exc.what, exc)
    return error_response(503, "unavailable", f"{exc.what} is unavailable; try again shortly")


def translate_errors(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Domain errors become the API's error shape; an unreachable dependency a 503.

    Chalice lets only its own errors reach middleware, so each entrypoint is wrapped instead.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        try:
            return view(*args, **kwargs)
        except SchedulerError as exc:
            return domain_error_response(exc)
        except Unavailable as exc:
            return unavailable_response(exc)

    return wrapper


def json_body(body: Body) -> Any:
    raw = body.raw
    if not raw:
        raise ValidationError.single("body", "a JSON body is required")
    if not declares_json(body.content_type):
        raise UnsupportedMediaType(body.content_type)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError.single("body", "is not valid JSON") from None
    except RecursionError:  # `[[[[...` a few thousand deep: bad input, not a 500
        raise ValidationError.single("body", "is nested too deeply") from None


def declares_json(content_type: str | None) -> bool:
    """`application/json`, alone or with `charset=utf-8` (RFC 8259: JSON is UTF-8), in any
    case. Chalice's own check takes a missing header as JSON and ignores every parameter
    (`charset=latin-1`), so the routes that read a body check again."""
    if content_type is None:
        return False
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    parameters = [p for p in parameters if p]  # "application/json;" is allowed
    if media_type.lower() != "application/json" or len(parameters) > 1:
        return False
    if not parameters:
        return True
    name, equals, value = parameters[0].partition("=")
    return bool(equals) and name.strip().lower() == "charset" and value.strip().strip('"').lower() == "utf-8"


def query_values(params: MultiDict | None, known: Collection[str]) -> tuple[dict[str, str], list[FieldError]]:
    """The query string, one value a name, and what is wrong with it: a name the route does
    not know, or one given more than once (`?status=FAILED&status=PENDING`, which Chalice
    would answer with the last value, silently)."""
    values: dict[str, str] = {}
    errors = []
    for name in sorted(params or ()):
        assert params is not None
        if name not in known:
            errors.append(FieldError(name, "is not a known query parameter"))
        elif len(params.getlist(name)) > 1:
            errors.append(FieldError(name, "is given more than once"))
        else:
            values[name] = params[name]
    return values, errors


def parse_id(value: str, field: str = "id") -> UUID:
    """The canonical 8-4-4-4-12 form only, as the OpenAPI document says (UUID() alone also
    takes braces, `urn:uuid:` and bare hex)."""
    if not _UUID.fullmatch(value):
        raise ValidationError.single(field, "must be a UUID")
    return UUID(value)


def parse_limit(value: str | None, maximum: int = MAX_PAGE, default: int = DEFAULT_PAGE) -> int:
    if value is None:
        return default
    # Length first: int() refuses more than 4,300 digits with a ValueError of its own.
    if not value.isascii() or not value.isdigit() or len(value) > 9 or not 1 <= int(value) <= maximum:
        raise ValidationError.single("limit", f"must be a whole number from 1 to {maximum}")
    return int(value)


def page_params(params: Mapping[str, str], errors: list[FieldError]) -> tuple[int, UUID | None]:
    """`limit` and `cursor` of a page in id order; what is wrong with either joins `errors`, so
    that a route names every wrong parameter at once."""
    limit, after = DEFAULT_PAGE, None
    try:
        limit = parse_limit(params.get("limit"))
    except ValidationError as exc:
        errors += exc.details
    try:
        after = decode_cursor(params.get("cursor"))
    except ValidationError as exc:
        errors += exc.details
    return limit, after


def encode_cursor(last_id: UUID | None) -> str | None:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=") if last_id else None


def decode_cursor(value: str | None) -> UUID | None:
    if not value:
        return None
    if not _CURSOR.fullmatch(value):  # b64decode alone skips characters outside the alphabet
        raise ValidationError.single("cursor", "is not a cursor this API returned")
    try:
        return UUID(bytes=base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, binascii.Error):
        raise ValidationError.single("cursor", "is not a cursor this API returned") from None
