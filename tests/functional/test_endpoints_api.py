"""The endpoints API through chalice.test.Client (every answer checked against the OpenAPI
document by the client): create, list, read, patch, delete, secrets and their rotation, the
admin-only rule, and every refusal named."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.domain.instants import iso_utc
from chalicelib.ports import Attempt
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryLedger, MemoryQueue
from tests.conftest import PostgresServer
from tests.functional.test_idempotency_api import post as idempotent_post
from tests.functional.test_users_api import assert_error, send
from tests.tokens import bearer, token_for

CRM = {"destination": {"type": "webhook", "url": "https://crm.example.com/hooks"}, "eventTypes": ["birthday"]}
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/team-birthdays"


@pytest.fixture(scope="module")
def module_database(pg_server: PostgresServer, template_db: str) -> Iterator[str]:
    name = f"es_endp_{uuid.uuid4().hex[:12]}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def database_url(module_database: str) -> str:
    with psycopg.connect(module_database, autocommit=True) as conn:
        conn.execute(b"TRUNCATE endpoints, endpoint_rates, idempotency_keys")
    return module_database


def create(client: Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = send(client, "POST", "/endpoints", body or CRM)
    assert response.status_code == 201, response.body
    return dict(response.json_body)


def test_create_read_list_patch_delete(client: Client) -> None:
    made = create(client, {**CRM, "description": "the CRM", "rateLimit": 50})
    assert made["destination"] == CRM["destination"]
    assert (made["eventTypes"], made["description"], made["rateLimit"]) == (["birthday"], "the CRM", 50)
    assert made["status"] == "enabled"
    assert client.http.get(f"/endpoints/{made['id']}").json_body == made

    everything = create(client, {"destination": {"type": "webhook", "url": "https://analytics.example.com/"}})
    assert (everything["eventTypes"], everything["description"], everything["rateLimit"]) == (None, "", None)

    changed = send(client, "PATCH", f"/endpoints/{made['id']}", {"rateLimit": None, "eventTypes": ["a", "b"]})
    assert changed.status_code == 200, changed.body
    assert (changed.json_body["rateLimit"], changed.json_body["eventTypes"]) == (None, ["a", "b"])
    assert changed.json_body["description"] == "the CRM"  # untouched by the patch

    moved = send(
        client, "PATCH", f"/endpoints/{made['id']}", {"destination": {"type": "sqs", "queueUrl": QUEUE}}
    )
    assert moved.json_body["destination"] == {"type": "sqs", "queueUrl": QUEUE}  # replaced whole

    assert client.http.delete(f"/endpoints/{made['id']}").status_code == 204
    assert_error(client.http.get(f"/endpoints/{made['id']}"), 404)
    assert_error(client.http.delete(f"/endpoints/{made['id']}"), 404)
    assert [e["id"] for e in client.http.get("/endpoints").json_body["items"]] == [everything["id"]]


def test_the_list_is_cursor_paged_in_id_order(client: Client) -> None:
    ids = sorted(create(client)["id"] for _ in range(5))
    seen, cursor = [], ""
    while True:
        page = client.http.get(f"/endpoints?limit=2&cursor={cursor}").json_body
        seen += [e["id"] for e in page["items"]]
        if page["nextCursor"] is None:
            break
        cursor = page["nextCursor"]
    assert seen == ids
    assert_error(client.http.get("/endpoints?limit=0&colour=red"), 400, "colour")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "destination"),
        ({"destination": "https://x.example.com"}, "destination"),
        ({"destination": {"type": "ftp", "url": "ftp://x"}}, "destination.type"),
        ({"destination": {"type": "webhook"}}, "destination.url"),
        ({"destination": {"type": "webhook", "url": "mailto:a@b.c"}}, "destination.url"),
        (
            {"destination": {"type": "webhook", "url": "https://x.example.com", "queueUrl": "q"}},
            "destination.queueUrl",
        ),
        (
            {"destination": {"type": "sqs", "queueUrl": "https://sqs.eu-west-1.amazonaws.com/q"}},
            "destination.queueUrl",
        ),
        (
            {"destination": {"type": "sns", "topicArn": "arn:aws:sqs:eu-west-1:123456789012:t"}},
            "destination.topicArn",
        ),
        ({"destination": {"type": "eventbridge", "eventBusName": "a bus"}}, "destination.eventBusName"),
        ({**CRM, "eventTypes": []}, "eventTypes"),
        ({**CRM, "eventTypes": ["Birthday"]}, "eventTypes[0]"),
        ({**CRM, "eventTypes": "birthday"}, "eventTypes"),
        ({**CRM, "rateLimit": 0}, "rateLimit"),
        ({**CRM, "rateLimit": 10_001}, "rateLimit"),
        ({**CRM, "rateLimit": 1.5}, "rateLimit"),
        ({**CRM, "rateLimit": True}, "rateLimit"),
        ({**CRM, "description": "x" * 501}, "description"),
        ({**CRM, "secret": "whsec_abc"}, "secret"),
    ],
)
def test_a_bad_endpoint_is_a_400_naming_the_field(client: Client, body: dict[str, Any], field: str) -> None:
    assert_error(send(client, "POST", "/endpoints", body), 400, field)


def test_a_bad_patch_is_a_400_and_changes_nothing(client: Client) -> None:
    made = create(client)
    assert_error(send(client, "PATCH", f"/endpoints/{made['id']}", {"rateLimit": -1}), 400, "rateLimit")
    assert_error(send(client, "PATCH", f"/endpoints/{made['id']}", [1]), 400, "body")
    assert client.http.get(f"/endpoints/{made['id']}").json_body == made
    assert_error(send(client, "PATCH", f"/endpoints/{uuid.uuid4()}", {"rateLimit": 1}), 404)
    assert_error(client.http.get("/endpoints/not-an-id"), 400)


def test_only_an_admin_manages_endpoints(client: Client) -> None:
    made = create(client)
    for role, sub in (("service", "billing-service"), ("user", str(uuid.uuid4()))):
        headers = {"Content-Type": "application/json"} | bearer(token_for(role, sub))
        for method, path in (
            ("POST", "/endpoints"),
            ("GET", "/endpoints"),
            ("GET", f"/endpoints/{made['id']}"),
            ("PATCH", f"/endpoints/{made['id']}"),
            ("DELETE", f"/endpoints/{made['id']}"),
            ("GET", f"/endpoints/{made['id']}/secret"),
            ("POST", f"/endpoints/{made['id']}/secret/rotate"),
        ):
            response = client.http.request(method, path, headers=headers, body=b"{}")
            assert_error(response, 403)
    assert client.http.get(f"/endpoints/{made['id']}").json_body == made


def test_idempotency_key_gives_the_first_answer_and_one_endpoint(client: Client) -> None:
    first = idempotent_post(client, CRM, path="/endpoints")
    again = idempotent_post(client, CRM, path="/endpoints")
    assert first.status_code == again.status_code == 201
    assert again.json_body == first.json_body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.http.get("/endpoints").json_body["items"]) == 1
    other = idempotent_post(client, {**CRM, "rateLimit": 5}, path="/endpoints")
    assert_error(other, 409, "Idempotency-Key")


def test_each_endpoint_has_its_own_secret_and_a_rotation_keeps_the_old_one_for_the_grace(
    client: Client, clock: ManualClock
) -> None:
    one, two = create(client), create(client)
    [first] = client.http.get(f"/endpoints/{one['id']}/secret").json_body["secrets"]
    [other] = client.http.get(f"/endpoints/{two['id']}/secret").json_body["secrets"]
    assert first["secret"] != other["secret"]
    assert first["expiresAt"] is None
    assert len(base64.b64decode(first["secret"].removeprefix("whsec_"))) == 32

    until = iso_utc(clock.now() + timedelta(hours=1))
    rotated = send(client, "POST", f"/endpoints/{one['id']}/secret/rotate", {"graceSeconds": 3600})
    assert rotated.status_code == 200, rotated.body
    new, old = rotated.json_body["secrets"]
    assert new["expiresAt"] is None
    assert (old["secret"], old["expiresAt"]) == (first["secret"], until)
    assert client.http.get(f"/endpoints/{one['id']}/secret").json_body["secrets"] == [new, old]

    clock.advance(timedelta(seconds=3599))
    assert len(client.http.get(f"/endpoints/{one['id']}/secret").json_body["secrets"]) == 2
    clock.advance(timedelta(seconds=1))
    assert client.http.get(f"/endpoints/{one['id']}/secret").json_body["secrets"] == [new]


def test_a_rotation_without_a_body_keeps_the_old_secret_a_day_and_one_with_no_grace_drops_it(
    client: Client, clock: ManualClock
) -> None:
    made = create(client)
    path = f"/endpoints/{made['id']}/secret"
    response = client.http.post(f"{path}/rotate")
    assert response.status_code == 200, response.body
    assert len(response.json_body["secrets"]) == 2
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert len(client.http.get(path).json_body["secrets"]) == 2

    [newest] = send(client, "POST", f"{path}/rotate", {"graceSeconds": 0}).json_body["secrets"]
    assert client.http.get(path).json_body["secrets"] == [newest]
    for grace in (-1, 604_801, "60", None):
        body = {"graceSeconds": grace} if grace is not None else {"grace": 5}
        assert_error(send(client, "POST", f"{path}/rotate", body), 400)


def test_a_cloud_stage_refuses_webhooks_into_its_network_and_aws_targets_it_does_not_allow(
    client: Client, container: bootstrap.Container
) -> None:
    container.settings = replace(
        container.settings,
        endpoint_private_urls=False,
        endpoint_allowed_arns=(
            "arn:aws:sqs:eu-west-1:123456789012:team-*",
            "arn:aws:events:*:*:event-bus/team",
        ),
    )
    for url in (
        "http://crm.example.com/hooks",
        "https://127.0.0.1/",
        "https://10.0.0.5/",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/",
        "https://localhost:8443/",
        "https://metadata.google.internal/",
    ):
        body = {"destination": {"type": "webhook", "url": url}}
        assert_error(send(client, "POST", "/endpoints", body), 400, "destination.url")
    create(client, {"destination": {"type": "webhook", "url": "https://93.184.215.14/hooks"}})
    create(client, {"destination": {"type": "sqs", "queueUrl": QUEUE}})
    create(client, {"destination": {"type": "eventbridge", "eventBusName": "team"}})
    for destination in (
        {"type": "sqs", "queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/payroll"},
        {"type": "sns", "topicArn": "arn:aws:sns:eu-west-1:123456789012:team-x"},
        {"type": "eventbridge", "eventBusName": "default"},
    ):
        field = "destination." + next(k for k in destination if k != "type")
        assert_error(send(client, "POST", "/endpoints", {"destination": destination}), 400, field)


def test_enable_recover_and_replay_are_admin_only_and_name_what_is_wrong(
    client: Client, container: bootstrap.Container, clock: ManualClock
) -> None:
    queue = MemoryQueue(clock)
    container.use(queue=queue)
    made = create(client)
    enabled = client.http.post(f"/endpoints/{made['id']}/enable")
    assert enabled.status_code == 200, enabled.body
    assert (
        enabled.json_body["status"],
        enabled.json_body["failingSince"],
        enabled.json_body["disabledAt"],
    ) == (
        "enabled",
        None,
        None,
    )
    since = iso_utc(clock.now() - timedelta(days=1))
    recovered = send(client, "POST", f"/endpoints/{made['id']}/recover", {"since": since})
    assert (recovered.status_code, recovered.json_body) == (202, {"queued": 0})  # nothing finished yet
    too_old = iso_utc(clock.now() - timedelta(days=31))
    assert_error(send(client, "POST", f"/endpoints/{made['id']}/recover", {"since": too_old}), 400, "since")
    assert_error(send(client, "POST", f"/endpoints/{made['id']}/recover", {"from": since}), 400, "from")
    assert_error(
        send(client, "POST", f"/endpoints/{made['id']}/recover", {"since": "yesterday"}), 400, "since"
    )
    assert_error(send(client, "POST", f"/endpoints/{uuid.uuid4()}/recover", {"since": since}), 404)
    assert_error(send(client, "POST", f"/events/{uuid.uuid4()}/replay", {"endpointId": made["id"]}), 404)
    assert_error(
        send(client, "POST", f"/events/{uuid.uuid4()}/replay", {"endpointId": "x"}), 400, "endpointId"
    )
    assert_error(send(client, "POST", f"/events/{uuid.uuid4()}/replay", {}), 400, "endpointId")
    headers = {"Content-Type": "application/json"} | bearer(token_for("service", "billing"))
    for path, payload in (
        (f"/endpoints/{made['id']}/enable", b""),
        (f"/endpoints/{made['id']}/recover", b'{"since": "2026-03-01"}'),
        (f"/events/{uuid.uuid4()}/replay", b'{"endpointId": "%s"}' % made["id"].encode()),
    ):
        assert_error(client.http.request("POST", path, headers=headers, body=payload), 403)
    assert queue.depth() == 0


def test_stats_are_the_last_24_hours_of_the_endpoints_attempts(
    client: Client, container: bootstrap.Container, clock: ManualClock
) -> None:
    ledger = MemoryLedger()
    container.use(ledger=ledger)
    made = create(client)
    endpoint_id = uuid.UUID(made["id"])
    now = clock.now()
    for n, (outcome, status, ms) in enumerate(
        [("success", 200, 12.0), ("transient", 503, 80.0), ("success", 200, 20.0)]
    ):
        error = "Service Unavailable" if status == 503 else None
        at = now - timedelta(hours=1) + timedelta(seconds=n)
        ledger.record_attempt(Attempt(uuid.uuid4(), "k", 1, at, outcome, status, error, ms, endpoint_id))
    ledger.record_attempt(
        Attempt(uuid.uuid4(), "k", 1, now - timedelta(days=2), "permanent", 410, "Gone", 1.0, endpoint_id)
    )
    response = client.http.get(f"/endpoints/{made['id']}/stats")
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "since": iso_utc(now - timedelta(hours=24)),
        "deliveries": 3,
        "successes": 2,
        "failures": 1,
        "p50Ms": 20.0,
        "p95Ms": 80.0,
        "lastError": "HTTP 503: Service Unavailable",
        "lastErrorAt": iso_utc(now - timedelta(hours=1) + timedelta(seconds=1)),
    }
    assert_error(client.http.get(f"/endpoints/{uuid.uuid4()}/stats"), 404)
