"""The OpenAPI document describes exactly the routes app.py declares, and their security."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from app import app
from chalicelib.api import idempotency, openapi
from chalicelib.domain.events import LATE_AFTER
from tests.functional.conftest import AuthorizedClient

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PUBLIC = {("/health", "GET"), ("/openapi.json", "GET")}
# The console's page and files (chalicelib/api/console.py): HTML, scripts and styles for a
# browser, not the JSON API a client is generated from; served without a token (they hold no
# data) and left out of the document. Its numbers come from the documented routes.
CONSOLE = {("/console", "GET"), ("/console/assets/{name}", "GET")}
# Documented here ahead of the delivery pipeline's branch, which routes them. Once it is merged
# they are in app.routes and the document must match the routes exactly.
PIPELINE = {
    ("/events/{event_id}", "GET"),
    ("/events/{event_id}/deliveries", "GET"),
    ("/events/{event_id}/retry", "POST"),
}


def documented() -> dict[tuple[str, str], dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = openapi.document()["paths"]
    return {
        (path, method.upper()): operation
        for path, item in paths.items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def routed() -> dict[tuple[str, str], Any]:
    """The API's routes: every route app.py declares but the console's."""
    return {
        (path, method): entry
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if (path, method) not in CONSOLE
    }


def test_the_console_is_routed_without_a_token_and_not_documented() -> None:
    declared = {(path, method): e for path, methods in app.routes.items() for method, e in methods.items()}
    assert set(declared) >= CONSOLE
    assert all(declared[key].authorizer is None for key in CONSOLE)
    assert not {path for path, _ in CONSOLE} & set(openapi.document()["paths"])


def test_the_document_is_valid_openapi_3() -> None:
    validate(openapi.document())


def test_every_route_is_documented_and_every_documented_operation_is_routed() -> None:
    docs, routes = set(documented()), set(routed())
    assert routes - docs == set()
    assert docs - routes <= PIPELINE - routes


def test_every_operation_but_health_and_the_document_needs_a_bearer_token() -> None:
    document = openapi.document()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["security"] == [{"bearerAuth": []}]
    for key, operation in documented().items():
        assert operation.get("security", document["security"]) == (
            [] if key in PUBLIC else [{"bearerAuth": []}]
        )
        if key not in PUBLIC:
            assert {"401", "403"} <= set(operation["responses"]), key
    for key, entry in routed().items():
        assert (entry.authorizer is None) is (key in PUBLIC), key
        if entry.authorizer is not None:
            assert entry.authorizer.name == "jwt_auth"
    [handler] = app.builtin_auth_handlers
    assert (handler.name, handler.ttl_seconds, handler.header) == ("jwt_auth", 300, "Authorization")


def test_the_document_is_served_without_a_token(client: AuthorizedClient) -> None:
    response = client.anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body == openapi.document()


def test_every_operation_declares_the_errors_the_app_can_answer() -> None:
    """415 wherever a body is taken, 500 everywhere the app runs: both in the error shape."""
    for (path, method), operation in documented().items():
        responses = operation["responses"]
        if "requestBody" in operation:
            assert responses.get("415") == {"$ref": "#/components/responses/UnsupportedMediaType"}, path
        if path != "/openapi.json":
            assert responses.get("500") == {"$ref": "#/components/responses/InternalError"}, (path, method)
    for name in ("UnsupportedMediaType", "InternalError"):
        content = openapi.document()["components"]["responses"][name]["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_response_schema_declares_its_fields_closed() -> None:
    """additionalProperties false on each object schema a response uses (tests/contract.py
    closes them anyway; the document should say so to a generated client)."""
    schemas = openapi.document()["components"]["schemas"]
    for name, schema in schemas.items():
        if schema.get("type") == "object" and "properties" in schema:
            assert schema.get("additionalProperties") is False, name


def test_the_late_threshold_is_stated_wherever_late_is_described() -> None:
    """`late` is easy to misread without its threshold: the document and docs/delivery.md name it."""
    stated = f"{int(LATE_AFTER.total_seconds() // 60)} minutes"
    document = openapi.document()
    assert stated in document["components"]["schemas"]["Event"]["properties"]["late"]["description"]
    [late] = [p for p in document["paths"]["/events"]["get"]["parameters"] if p["name"] == "late"]
    assert stated in late["description"]
    delivery = (Path(__file__).resolve().parents[2] / "docs" / "delivery.md").read_text(encoding="utf-8")
    time_semantics = delivery.split("## Time semantics", 1)[1].split("\n## ", 1)[0]
    assert f"**Late** means more than {stated} after `targetUtc`" in time_semantics


def test_the_routes_that_take_idempotency_key_say_so_and_every_post_that_creates_takes_it() -> None:
    """The header, the 409 of a key used for another request, and the replay header on the
    answer that may be replayed; a POST that answers 201 Created must take the key."""
    taking = {key for key, entry in routed().items() if idempotency.takes_key(entry.view_function)}
    assert {("/user", "POST"), ("/user/import", "POST")} <= taking
    for key, operation in documented().items():
        declared = {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
        assert declared is (key in taking), key
        if key[1] == "POST" and "201" in operation["responses"]:
            assert key in taking, f"{key} creates (201) but takes no Idempotency-Key"
    for key in taking:
        responses = documented()[key]["responses"]
        assert "idempotency_key_reused" in responses["409"]["description"], key
        [success] = [status for status in responses if status.startswith("2")]
        assert responses[success]["headers"] == {
            "Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}
        }, key
    parameter = openapi.document()["components"]["parameters"]["IdempotencyKey"]
    assert (parameter["name"], parameter["in"]) == ("Idempotency-Key", "header")
    assert parameter["schema"]["maxLength"] == 255
