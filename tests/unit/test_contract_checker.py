"""The response checker the functional tests' client runs (tests/contract.py) catches what it
is there to catch: an undeclared field, status or content type, a wrong value, Chalice's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract import ContractViolation, check

JSON = {"Content-Type": "application/json"}
ATTEMPT = {
    "eventId": "6f1c2b1e-59a4-4f0b-9a3e-2d2f4b1c9e10",
    "endpointId": None,
    "idempotencyKey": "k",
    "attempt": 1,
    "attemptedAt": "2026-03-02T09:00:01Z",
    "outcome": "success",
    "statusCode": 200,
    "error": None,
    "latencyMs": 2.5,
    "responseBody": "ok",
}
DELIVERIES = "/events/6f1c2b1e-59a4-4f0b-9a3e-2d2f4b1c9e10/deliveries"


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_a_documented_response_passes() -> None:
    check("GET", DELIVERIES, 200, JSON, body({"items": [ATTEMPT]}))
    check("GET", "/health", 503, JSON, body({"status": "degraded", "database": "unreachable"}))
    check("DELETE", "/health", 405, JSON, body({"error": {"code": "x", "message": "y", "details": []}}))


@pytest.mark.parametrize(
    ("method", "path", "status", "headers", "payload", "complaint"),
    [
        ("GET", DELIVERIES, 200, JSON, {"items": [{**ATTEMPT, "at": "now"}]}, "'at' was unexpected"),
        ("GET", DELIVERIES, 200, JSON, {"items": [{**ATTEMPT, "outcome": "ok"}]}, "is not one of"),
        ("GET", "/health", 200, JSON, {"status": "ok", "database": "ok", "extra": 1}, "unexpected"),
        ("GET", "/health", 418, JSON, {}, "not declared"),
        ("GET", "/health", 200, {"Content-Type": "text/html"}, {}, "content type"),
        ("POST", "/user", 415, JSON, {"Code": "UnsupportedMediaType", "Message": "no"}, "does not match"),
        ("DELETE", "/health", 404, JSON, {}, "405 is due"),
        ("GET", "/nowhere", 200, JSON, {}, "no path"),
    ],
)
def test_what_the_document_does_not_say_fails(
    method: str, path: str, status: int, headers: dict[str, str], payload: Any, complaint: str
) -> None:
    with pytest.raises(ContractViolation, match=complaint):
        check(method, path, status, headers, body(payload))
