from __future__ import annotations

import json

from chalice.test import Client


def post(client: Client, path: str, body: object) -> object:
    return client.http.post(path, headers={"Content-Type": "application/json"}, body=json.dumps(body))


def test_create_read_and_list_events(client: Client) -> None:
    created = post(
        client,
        "/user",
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "dateOfBirth": "1990-12-10",
            "timezone": "Europe/London",
        },
    )
    assert created.status_code == 201, created.body
    user = created.json_body
    assert client.http.get(f"/user/{user['id']}").json_body == user
    events = client.http.get(f"/user/{user['id']}/events").json_body["items"]
    assert [(e["eventType"], e["targetUtc"], e["targetLocal"]) for e in events] == [
        ("birthday", "2026-12-10T09:00:00Z", "2026-12-10T09:00:00+00:00")
    ]
    assert client.http.get("/health").status_code == 200
