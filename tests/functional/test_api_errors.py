"""Errors Chalice answers by itself come back in the API's documented shape, not Chalice's
`{"Code", "Message"}`: a body that is not JSON (415), a method a path does not have (405), a
view that fails unexpectedly (500). Every response here is also checked against the OpenAPI
document by the client (tests/contract.py), so each must be declared there."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.memory import MemoryLedger
from chalicelib.ports import Attempt
from tests.functional.conftest import AuthorizedClient

ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}


def error_of(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.body  # type: ignore[attr-defined]
    body = json.loads(response.body)  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_gets_415_in_the_api_shape(
    client: AuthorizedClient, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    created = client.http.post("/user", headers={"Content-Type": "application/json"}, body=json.dumps(ADA))
    user_id = json.loads(created.body)["id"]
    for method, path in (("POST", "/user"), ("PUT", f"/user/{user_id}"), ("PATCH", f"/user/{user_id}")):
        response = client.http.request(method, path, headers=headers, body=json.dumps(ADA).encode())
        error = error_of(response, 415)
        assert error["code"] == "unsupported_media_type"
        assert content_type in str(error["message"])


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
