"""The authorizer's body and the routes' view of the caller.

API Gateway calls the authorizer with the raw `Authorization` header and caches the answer per
token, so the policy allows the whole API and the routes decide with `chalicelib.domain.access`.
The claims travel as the authorizer context, whose values API Gateway allows to be only
strings, numbers or booleans: the known roles are one space-separated string.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from chalice.app import AuthResponse

from chalicelib import bootstrap
from chalicelib.domain import access
from chalicelib.domain.access import Action, Principal
from chalicelib.domain.errors import Forbidden, NotFound, Unauthenticated
from chalicelib.ports import Claims, KeysUnavailable, TokenRejected
from chalicelib.settings import AuthMode

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Read by app.py when it is imported (Chalice needs a number then); the CDK app may override
# the deployed value. API Gateway caches each token's policy this long.
CACHE_TTL_SECONDS = 300
BYPASS_CLAIMS = Claims(subject="local-bypass", roles=("admin",))


class Unauthorized(Exception):
    """API Gateway answers 401 when a Lambda authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@cache
def _unauthorized_class() -> Callable[[], Exception]:
    """chalice local and chalice.test answer 401 only for their own exception; the Lambda
    bundle ships without chalice.local, so there the API Gateway convention applies."""
    try:
        from chalice.local import NotAuthorizedError
    except ImportError:
        return Unauthorized
    return lambda: NotAuthorizedError(
        {"x-amzn-ErrorType": "UnauthorizedException", "Content-Type": "application/json"},
        b'{"message":"Unauthorized"}',
    )


def unauthorized() -> Exception:
    return _unauthorized_class()()


def bearer_token(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenRejected("the Authorization header is not 'Bearer <token>'")
    return token


def authorize(header: str) -> AuthResponse:
    """The body of the `jwt_auth` authorizer: a verified token's claims, or a 401."""
    c = bootstrap.container()
    if c.settings.auth.mode is AuthMode.OFF:
        c.settings.auth.check(c.settings.stage)  # refuses outside STAGE=local
        claims = BYPASS_CLAIMS
    else:
        try:
            claims = c.verifier.verify(bearer_token(header))
        except KeysUnavailable as exc:
            logger.error("token not verified: %s", exc)
            raise unauthorized() from None
        except TokenRejected as exc:
            logger.info("token rejected: %s", exc)
            raise unauthorized() from None
    # Known roles only: none holds a space, so the routes' split gives back exactly these (a
    # claimed role "service user" must not become two).
    roles = " ".join(role.value for role in access.known_roles(claims.roles))
    context = {"userId": claims.subject, "roles": roles, "email": claims.email or ""}
    return AuthResponse(routes=["*"], principal_id=claims.subject, context=context)


def principal(request_context: Mapping[str, Any] | None) -> Principal:
    """The caller, from what the authorizer put in the request context."""
    found = (request_context or {}).get("authorizer") or {}
    subject, roles = found.get("userId"), found.get("roles")
    if not isinstance(subject, str) or not subject or not isinstance(roles, str):
        raise Unauthenticated()
    email = found.get("email")
    return Principal.of(subject, roles.split(), email if isinstance(email, str) else None)


def require(caller: Principal, action: Action, owner: UUID | None = None) -> None:
    if not access.allowed(caller, action, owner):
        raise Forbidden()


def require_owned(
    caller: Principal, action: Action, load: Callable[[], T], owner_of: Callable[[T], UUID | None]
) -> T:
    """For a record whose owner is known only once loaded (an event): a caller that may see only
    its own gets the same 403 for another user's record as for one that does not exist."""
    if access.may_any(caller, action):
        return load()
    if not access.may_own(caller, action):
        raise Forbidden()
    try:
        record = load()
    except NotFound:
        raise Forbidden() from None
    require(caller, action, owner_of(record))
    return record
