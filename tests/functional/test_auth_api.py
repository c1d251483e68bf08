"""Every route behind the authorizer, attacked through chalice's test client (the same gateway
code as `chalice local`): each bad token gets 401, each forbidden request 403, and the
database is left exactly as it was."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from chalice import test as chalice_test
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import bootstrap
from chalicelib.domain.errors import Forbidden
from chalicelib.settings import LOCAL_JWT_SECRET, AuthMode, AuthSettings
from tests.functional.conftest import AuthorizedClient
from tests.jwks import JwksServer, public_jwk, public_pem, rs256, rsa_key
from tests.tokens import bearer, claims, hs256, token_for, unsigned, with_payload

JSON = {"Content-Type": "application/json"}
ADA = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}
BOB = {"firstName": "Bob", "lastName": "Dylan", "dateOfBirth": "1941-05-24", "timezone": "America/Chicago"}


def snapshot(database_url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        users = conn.execute("SELECT * FROM users ORDER BY id").fetchall()
        events = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    return users, events


@pytest.fixture
def people(client: AuthorizedClient) -> dict[str, str]:
    """Two users, created by the admin client: their ids."""
    ids = {}
    for name, body in (("ada", ADA), ("bob", BOB)):
        created = client.http.post("/user", headers=JSON, body=json.dumps(body))
        assert created.status_code == 201, created.body
        ids[name] = created.json_body["id"]
    return ids


def every_request(
    http: chalice_test.TestHTTPClient, headers: dict[str, str], target: str
) -> list[chalice_test.HTTPResponse]:
    """One of each operation, aimed at `target` where it takes an id."""
    body = json.dumps({**BOB, "firstName": "Mallory"})
    return [
        http.get("/user", headers=headers),
        http.post("/user", headers={**JSON, **headers}, body=body),
        http.get(f"/user/{target}", headers=headers),
        http.put(f"/user/{target}", headers={**JSON, **headers}, body=body),
        http.patch(f"/user/{target}", headers={**JSON, **headers}, body=json.dumps({"firstName": "Mallory"})),
        http.delete(f"/user/{target}", headers=headers),
        http.get(f"/user/{target}/events", headers=headers),
    ]


def bad_tokens() -> list[Any]:
    """Header factories, called inside the test: minted at collection, `nbf = now + 600` would
    be valid, and the 60-second tokens expired (rejected for the wrong reason), by the time a
    long suite reached them."""
    wrong = "a-wrong-secret-that-is-long-enough-for-hs256"

    def now() -> int:
        return int(time.time())

    def user_token() -> str:
        return token_for("user", str(uuid.uuid4()), ttl=60)

    return [
        pytest.param(lambda: {"Authorization": "Basic YWRtaW46YWRtaW4="}, id="basic-scheme"),
        pytest.param(lambda: {"Authorization": token_for("admin", "x")}, id="token-without-scheme"),
        pytest.param(lambda: {"Authorization": "Bearer"}, id="bearer-without-token"),
        pytest.param(lambda: bearer("garbage"), id="garbage"),
        pytest.param(lambda: bearer("eyJhbGciOiJIUzI1NiJ9.e30.!!"), id="garbage-with-dots"),
        pytest.param(lambda: bearer(unsigned(claims())), id="alg-none"),
        pytest.param(lambda: bearer(hs256(claims(), wrong)), id="hs256-wrong-secret"),
        pytest.param(lambda: bearer(hs256(claims(), "")), id="hs256-empty-secret"),
        pytest.param(lambda: bearer(token_for("admin", "x", ttl=-120)), id="expired"),
        pytest.param(lambda: bearer(hs256(claims(nbf=now() + 600), LOCAL_JWT_SECRET)), id="not-yet-valid"),
        pytest.param(
            lambda: bearer(with_payload(user_token(), roles=["admin"])), id="role-raised-after-signing"
        ),
        pytest.param(
            lambda: bearer(with_payload(user_token(), exp=now() + 86400)), id="expiry-extended-after-signing"
        ),
        pytest.param(
            lambda: bearer(hs256({"sub": "x", "exp": now() + 60}, LOCAL_JWT_SECRET)), id="no-roles-claim"
        ),
        # The roles claim is an array of strings; a string is malformed, never split into roles.
        pytest.param(
            lambda: bearer(hs256(claims(roles="service user"), LOCAL_JWT_SECRET)), id="roles-a-string"
        ),
        pytest.param(lambda: bearer(hs256(claims(roles="admin"), LOCAL_JWT_SECRET)), id="roles-one-string"),
    ]


def test_no_header_gets_401_and_changes_nothing(
    client: AuthorizedClient, people: dict[str, str], database_url: str
) -> None:
    before = snapshot(database_url)
    for response in every_request(client.anonymous, {}, people["bob"]):
        assert response.status_code == 401, response.body
    assert snapshot(database_url) == before


@pytest.mark.parametrize("mint", bad_tokens())
def test_a_bad_token_gets_401_and_changes_nothing(
    client: AuthorizedClient, people: dict[str, str], database_url: str, mint: Callable[[], dict[str, str]]
) -> None:
    headers = mint()
    before = snapshot(database_url)
    for response in every_request(client.anonymous, headers, people["bob"]):
        assert response.status_code == 401, response.body
        assert response.json_body == {"message": "Unauthorized"}
    assert snapshot(database_url) == before


@pytest.mark.parametrize("target", ["bob", "nobody"])
def test_a_user_cannot_touch_another_user_or_list_and_learns_nothing(
    client: AuthorizedClient, people: dict[str, str], database_url: str, target: str
) -> None:
    ada = bearer(token_for("user", people["ada"]))
    target_id = people.get(target, str(uuid.uuid4()))
    before = snapshot(database_url)
    responses = every_request(client.http, ada, target_id)
    assert [r.status_code for r in responses] == [403] * len(responses)
    forbidden = {"code": "forbidden", "message": Forbidden().message, "details": []}
    assert all(r.json_body == {"error": forbidden} for r in responses)
    assert len({r.body for r in responses}) == 1  # byte for byte the same, whatever the target
    assert snapshot(database_url) == before


def test_a_user_reads_and_changes_itself(client: AuthorizedClient, people: dict[str, str]) -> None:
    ada_id = people["ada"]
    ada = bearer(token_for("user", ada_id))
    assert client.http.get(f"/user/{ada_id}", headers=ada).json_body["firstName"] == "Ada"
    patch = '{"lastName": "King"}'
    patched = client.http.patch(f"/user/{ada_id}", headers={**JSON, **ada}, body=patch)
    assert (patched.status_code, patched.json_body["lastName"]) == (200, "King")
    replaced = client.http.put(f"/user/{ada_id}", headers={**JSON, **ada}, body=json.dumps(ADA))
    assert replaced.status_code == 200
    assert client.http.get(f"/user/{ada_id}/events", headers=ada).status_code == 200
    assert client.http.delete(f"/user/{ada_id}", headers=ada).status_code == 204
    assert client.http.get(f"/user/{ada_id}", headers=ada).status_code == 404  # its own: it may know


@pytest.mark.parametrize("role", ["admin", "service"])
def test_admin_and_service_manage_any_user(
    client: AuthorizedClient, people: dict[str, str], role: str
) -> None:
    auth = bearer(token_for(role, "svc-billing"))
    created = client.http.post("/user", headers={**JSON, **auth}, body=json.dumps(ADA))
    assert created.status_code == 201
    assert len(client.http.get("/user", headers=auth).json_body["items"]) == 3
    bob = people["bob"]
    assert client.http.get(f"/user/{bob}", headers=auth).status_code == 200
    patched = client.http.patch(f"/user/{bob}", headers={**JSON, **auth}, body='{"firstName": "B"}')
    assert patched.status_code == 200
    assert client.http.get(f"/user/{bob}/events", headers=auth).status_code == 200
    assert client.http.delete(f"/user/{bob}", headers=auth).status_code == 204
    assert client.http.get(f"/user/{uuid.uuid4()}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "roles", [["superuser"], ["admin "], [" admin"], ["Admin"], ["service user"], ["admin,service"], []]
)
def test_a_token_with_no_known_role_may_do_nothing(
    client: AuthorizedClient, people: dict[str, str], database_url: str, roles: list[str]
) -> None:
    """A role counts on an exact match only: no trimming, case folding or splitting."""
    auth = bearer(hs256(claims(sub=people["ada"], roles=roles), LOCAL_JWT_SECRET))
    before = snapshot(database_url)
    assert {r.status_code for r in every_request(client.http, auth, people["ada"])} == {403}
    assert snapshot(database_url) == before


def test_health_and_the_document_need_no_token(client: AuthorizedClient) -> None:
    assert client.anonymous.get("/health").status_code == 200
    assert client.anonymous.get("/openapi.json").json_body["openapi"].startswith("3.")


@pytest.fixture
def use_auth(container: bootstrap.Container) -> Iterator[Callable[[AuthSettings], None]]:
    def install(auth: AuthSettings) -> None:
        swapped = bootstrap.Container(replace(container.settings, auth=auth), container.clock)
        swapped.use(db=container.db)
        bootstrap.install(swapped)

    yield install
    bootstrap.install(container)


def test_issuer_and_audience_are_enforced_when_configured(
    client: AuthorizedClient, use_auth: Callable[[AuthSettings], None]
) -> None:
    use_auth(AuthSettings(issuer="https://issuer.test/", audience="event-scheduler"))
    right = {"iss": "https://issuer.test/", "aud": "event-scheduler"}

    def status(**extra: Any) -> int:
        token = hs256(claims(**{**right, **extra}), LOCAL_JWT_SECRET)
        return client.http.get("/user", headers=bearer(token)).status_code

    assert status() == 200
    assert status(iss="https://evil.test/") == 401
    assert status(aud="another-api") == 401
    assert client.http.get("/user", headers=bearer(token_for("admin", "x"))).status_code == 401  # neither


def test_the_local_bypass_admits_any_header_as_admin(
    client: AuthorizedClient, use_auth: Callable[[AuthSettings], None]
) -> None:
    use_auth(AuthSettings(mode=AuthMode.OFF))
    assert client.http.get("/user", headers={"Authorization": "anything"}).status_code == 200
    assert client.anonymous.get("/user").status_code == 401  # the gateway still wants the header


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def jwks_server(idp_key: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    server = JwksServer()
    server.document = {"keys": [public_jwk(idp_key, "idp-1")]}
    yield server
    server.close()


def test_rs256_mode_against_a_jwks_over_http(
    client: AuthorizedClient,
    people: dict[str, str],
    database_url: str,
    use_auth: Callable[[AuthSettings], None],
    idp_key: rsa.RSAPrivateKey,
    jwks_server: JwksServer,
) -> None:
    use_auth(AuthSettings(jwks_url=jwks_server.url))
    good = rs256(claims("admin", sub="idp-admin"), idp_key, "idp-1")
    assert client.http.get("/user", headers=bearer(good)).status_code == 200
    attacks = {
        "public-key-as-hs256-secret": hs256(claims(), public_pem(idp_key), {"kid": "idp-1"}),
        "the-local-hs256-secret": token_for("admin", "x"),
        "alg-none": unsigned(claims()),
        "unknown-kid": rs256(claims(), idp_key, "idp-2"),
        "another-key": rs256(claims(), rsa_key(), "idp-1"),
        "role-raised": with_payload(rs256(claims("user"), idp_key, "idp-1"), roles=["admin"]),
        "expired": rs256(claims(ttl=-120), idp_key, "idp-1"),
    }
    before = snapshot(database_url)
    for name, token in attacks.items():
        for response in every_request(client.anonymous, bearer(token), people["bob"]):
            assert response.status_code == 401, (name, response.body)
    assert snapshot(database_url) == before
    assert jwks_server.fetches == 1  # the unknown kid within the refresh interval fetched nothing
