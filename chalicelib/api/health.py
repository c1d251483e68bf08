"""GET /health: whether the app reaches its database (no authorizer: load balancers and
deploy hooks ask it)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api import http
from chalicelib.services.health import Health


def check(service: Health) -> Response:
    ok = service.database_reachable()
    body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}
    return http.json_response(body, 200 if ok else 503)
