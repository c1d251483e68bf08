"""`Idempotency-Key` for a route, in one line (docs/delivery.md, "Idempotency-Key"):

    idempotent = idempotency.for_requests(request, lambda: container().idempotency)  # in app.py

    @app.route("/user", methods=["POST"], authorizer=jwt_auth)
    @idempotent
    def create_user() -> Response: ...

A request without the header takes the route's path untouched. With it, the route runs inside
the key's transaction (services/idempotency.py) and its answer, a 2xx, is kept for 24 hours:
the same caller sending the same key and request gets it again, with `Idempotent-Replayed:
true`; the same key with another request is a 409 `idempotency_key_reused`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from chalice.app import Request, Response

from chalicelib.api import http
from chalicelib.api.auth import principal
from chalicelib.domain.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    IdempotentRequest,
    KeptResponse,
    fingerprint,
    parse_key,
)
from chalicelib.services.idempotency import Idempotency

Route = TypeVar("Route", bound=Callable[..., Any])
_PARAM = re.compile(r"\{(\w+)\}")
_MARK = "takes_idempotency_key"


def for_requests(
    current: Callable[[], Request], service: Callable[[], Idempotency]
) -> Callable[[Route], Route]:
    """The decorator for the routes of an app whose current request `current` returns;
    `service` is the container's Idempotency-Key service."""

    def idempotent(view: Route) -> Route:
        @functools.wraps(view)
        def route(*args: Any, **kwargs: Any) -> Any:
            return answer(current(), service, lambda: view(*args, **kwargs))

        setattr(route, _MARK, True)
        return cast(Route, route)

    return idempotent


def takes_key(view: Callable[..., Any]) -> bool:
    """Whether a route's view is `idempotent` (tests/functional/test_openapi.py holds the
    document to it)."""
    return bool(getattr(view, _MARK, False))


@http.translate_errors
def answer(request: Request, service: Callable[[], Idempotency], view: Callable[[], Any]) -> Any:
    """`service` is asked for only when the request has a key."""
    key = parse_key(request.headers.get(HEADER))
    if key is None:
        return view()
    caller = principal(request.context)
    path = _PARAM.sub(lambda m: (request.uri_params or {})[m[1]], request.path)
    asked = IdempotentRequest(caller.subject, key, fingerprint(request.method, path, request.raw_body))
    given = service().answer_once(asked, lambda: kept(view()))
    headers: dict[str, str | list[str]] = {**given.response.headers}
    if given.replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(body=given.response.body, headers=headers, status_code=given.response.status)


def kept(result: Any) -> KeptResponse:
    """A view's answer as it is kept and sent: its body as text, serialized as Chalice would,
    so the first answer and every replay are the same bytes."""
    response = result if isinstance(result, Response) else Response(body=result)
    body = response.body
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    headers = {name: str(value) for name, value in response.headers.items()}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return KeptResponse(response.status_code, text, headers)
