"""Errors Chalice answers by itself come back in the API's documented shape, not Chalice's
`{"Code", "Message"}`: a body that is not JSON (415), a method a path does not have (405), a
view that fails unexpectedly (500). Every response here is also checked against the OpenAPI
document by the client (tests/contract.py), so each must be declared there."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest
import requests

from chalicelib import bootstrap
from chalicelib.ports import Attempt
from scripts.devstack.twins import MemoryLedger
from tests.functional.conftest import AuthorizedClient
from tests.functional.test_auth_api import snapshot
from tests.functional.test_import_script import serve
from tests.tokens import admin_token

ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}


def error_of(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.body  # type: ignore[attr-defined]
    body = json.loads(response.body)  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


NOT_JSON = [
    None,  # no Content-Type at all: Chalice itself would take it for JSON
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",  # Chalice itself ignores the parameters
    "application/json; charset=utf-16",
    "application/json; charset=utf8",
    "application/json; version=2",
    "application/json; charset=utf-8; version=2",
    "application/json-seq",
    "text/json",
    "",
]
JSON_TYPES = [
    "application/json",
    "Application/JSON",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    'application/json; charset="utf-8"',
    "application/json;",
]


def body_routes(client: AuthorizedClient) -> list[tuple[str, str, bytes]]:
    created = client.http.post("/user", headers={"Content-Type": "application/json"}, body=json.dumps(ADA))
    user_id = json.loads(created.body)["id"]
    schedule = json.dumps({"eventType": "digest", "start": "2026-03-02", "time": "08:00"}).encode()
    made = client.http.post(
        f"/user/{user_id}/schedules", headers={"Content-Type": "application/json"}, body=schedule
    )
    schedule_id = json.loads(made.body)["id"]
    assert client.http.post(f"/schedules/{schedule_id}/pause").status_code == 200  # so that it can resume
    return [
        ("POST", "/user", json.dumps(ADA).encode()),
        ("PUT", f"/user/{user_id}", json.dumps(ADA).encode()),
        ("PATCH", f"/user/{user_id}", b'{"firstName": "Augusta"}'),
        ("POST", "/user/import", json.dumps({"users": [{**ADA, "externalId": "crm-1"}]}).encode()),
        ("POST", f"/user/{user_id}/schedules", schedule),
        ("PATCH", f"/schedules/{schedule_id}", b'{"time": "09:00"}'),
        ("POST", f"/schedules/{schedule_id}/resume", b'{"catchUp": "latest"}'),
    ]


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_a_body_that_is_not_declared_json_gets_415_in_the_api_shape_and_writes_nothing(
    client: AuthorizedClient, database_url: str, content_type: str | None
) -> None:
    routes = body_routes(client)
    before = snapshot(database_url)
    headers = {} if content_type is None else {"Content-Type": content_type}
    for method, path, body in routes:
        response = client.http.request(method, path, headers=headers, body=body)
        error = error_of(response, 415)
        assert error["code"] == "unsupported_media_type"
        assert str(error["message"]).startswith("Unsupported media type: ")
        assert content_type is None or content_type in str(error["message"])
        assert error["details"] == [
            {"field": "Content-Type", "message": "must be application/json, with no charset or charset=utf-8"}
        ]
    assert snapshot(database_url) == before


@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_json_with_or_without_charset_utf_8_is_taken(client: AuthorizedClient, content_type: str) -> None:
    statuses = [
        client.http.request(method, path, headers={"Content-Type": content_type}, body=body).status_code
        for method, path, body in body_routes(client)
    ]
    assert statuses == [201, 200, 200, 200, 201, 200, 200]


def test_a_request_without_a_body_needs_no_content_type(client: AuthorizedClient) -> None:
    """POST /events/{id}/retry and /schedules/{id}/pause take no body, /resume an optional one;
    an empty POST /user is a 400, not a 415."""
    for path in ("/events/{}/retry", "/schedules/{}/pause", "/schedules/{}/resume"):
        response = client.http.request("POST", path.format(uuid.uuid4()), headers={})
        assert error_of(response, 404)["code"] == "not_found"
    assert error_of(client.http.request("POST", "/user", headers={}), 400)["details"] == [
        {"field": "body", "message": "a JSON body is required"}
    ]


def test_chalice_local_refuses_a_body_not_declared_json_too(container: bootstrap.Container) -> None:
    """The same check over real HTTP (chalice local's gateway), where clients send what they
    like: requests sends `data=` bytes with no Content-Type."""
    url, server = serve()
    try:
        auth = {"Authorization": f"Bearer {admin_token()}"}
        body = json.dumps(ADA).encode()
        untyped = requests.post(f"{url}/user", data=body, headers=auth, timeout=10)
        assert "Content-Type" not in untyped.request.headers
        assert untyped.status_code == 415
        assert untyped.json()["error"]["code"] == "unsupported_media_type"
        latin = {**auth, "Content-Type": "application/json; charset=latin-1"}
        refused = requests.post(f"{url}/user", data=body, headers=latin, timeout=10)
        assert (refused.status_code, refused.json()["error"]["code"]) == (415, "unsupported_media_type")
        utf8 = {**auth, "Content-Type": "application/json; charset=utf-8"}
        assert requests.post(f"{url}/user", data=body, headers=utf8, timeout=10).status_code == 201
    finally:
        server.shutdown()
        server.server.server_close()


def test_a_method_the_path_does_not_have_gets_405_in_the_api_shape(client: AuthorizedClient) -> None:
    response = client.http.request("DELETE", "/health")
    error = error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET"


class BrokenLedger(MemoryLedger):
    def attempts_for_event(self, event_id: uuid.UUID) -> Sequence[Attempt]:
        raise RuntimeError("a bug, not an outage")


def test_an_unexpected_failure_gets_500_in_the_api_shape_without_its_details(
    client: AuthorizedClient, container: bootstrap.Container
) -> None:
    container.use(ledger=BrokenLedger())
    created = client.http.post("/user", headers={"Content-Type": "application/json"}, body=json.dumps(ADA))
    events = json.loads(client.http.get(f"/user/{json.loads(created.body)['id']}/events").body)["items"]
    event: dict[str, object] = events[0]
    error = error_of(client.http.get(f"/events/{event['id']}/deliveries"), 500)
    assert error["code"] == "internal_error"
    assert "a bug" not in str(error["message"])
