"""`externalId` and `metadata` belong to the team (issue 19, item 1), through the authorizer
with real tokens.

The attack it closes: a `user` token set its own record's externalId, learnt from 409/200
which of the team's CRM ids existed, and claimed one the team had not imported yet; the
team's import then *updated* that user with the victim's name, birth date and metadata, which
the attacker read back. Now a `user` token may not set either field (403 naming it, whatever
ids exist), and the import updates only the users it created, unless the team sends `adopt`.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from chalice.test import Client

from tests.functional.test_adoption_api import META, import_users, person
from tests.functional.test_users_api import ADA, JSON, assert_error, create, send
from tests.tokens import bearer, token_for

OWNED_BY_THE_TEAM = "is set by the team (admin or service tokens) only"


def as_user(client: Client, user_id: str, method: str, path: str, body: Any = None) -> Any:
    """A request with a `user` token whose subject is `user_id`."""
    headers = {**JSON, **bearer(token_for("user", user_id))}
    return client.http.request(
        method, path, headers=headers, body=json.dumps(body) if body is not None else b""
    )


def rows(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(b"SELECT * FROM users ORDER BY id").fetchall()


def test_the_takeover_of_issue_19_is_refused_and_the_import_creates_its_own_user(
    client: Client, database_url: str
) -> None:
    victim = person(1, externalId="crm-00001", metadata={"crm": "secret"})
    [imported] = import_users(client, [victim]).json_body["results"]
    assert imported["status"] == "created"
    mallory = create(client, firstName="Mallory")
    before = rows(database_url)

    # 1. No oracle: an id the team has and one it has not get the same 403, byte for byte.
    taken = as_user(client, mallory["id"], "PATCH", f"/user/{mallory['id']}", {"externalId": "crm-00001"})
    free = as_user(
        client, mallory["id"], "PATCH", f"/user/{mallory['id']}", {"externalId": "crm-not-yet-imported-42"}
    )
    error = assert_error(taken, 403)
    assert error == {
        "code": "forbidden",
        "message": "The caller's role does not allow this request.",
        "details": [{"field": "externalId", "message": OWNED_BY_THE_TEAM}],
    }
    assert free.status_code == 403
    assert free.body == taken.body
    assert rows(database_url) == before

    # 2. The team imports the id Mallory wanted: a new user, not Mallory.
    late = person(42, externalId="crm-not-yet-imported-42", metadata={"crm": "also secret"})
    [result] = import_users(client, [late]).json_body["results"]
    assert result["status"] == "created"
    assert result["id"] != mallory["id"]

    # 3. Mallory reads itself: its own record, none of the victims' data.
    seen = as_user(client, mallory["id"], "GET", f"/user/{mallory['id']}").json_body
    assert seen == mallory
    assert (seen["firstName"], seen["externalId"], seen["metadata"]) == ("Mallory", None, None)


@pytest.mark.parametrize(
    ("method", "body", "named"),
    [
        ("PATCH", {"externalId": "crm-1"}, ["externalId"]),
        ("PATCH", {"externalId": None}, ["externalId"]),
        ("PATCH", {"metadata": {"plan": "free"}}, ["metadata"]),
        ("PATCH", {"metadata": None, "firstName": "Augusta"}, ["metadata"]),
        ("PATCH", {"externalId": "x", "metadata": "not even valid"}, ["externalId", "metadata"]),
        ("PUT", {**ADA, "externalId": "crm-1"}, ["externalId"]),
        ("PUT", {**ADA, "metadata": META}, ["metadata"]),
        ("PUT", {**ADA, "externalId": None, "metadata": None}, ["externalId", "metadata"]),
    ],
)
def test_a_user_token_may_not_set_either_field_on_its_own_record(
    client: Client, database_url: str, method: str, body: dict[str, Any], named: list[str]
) -> None:
    me = create(client, externalId="crm-me", metadata=META)
    before = rows(database_url)
    error = assert_error(as_user(client, me["id"], method, f"/user/{me['id']}", body), 403)
    assert error["details"] == [{"field": name, "message": OWNED_BY_THE_TEAM} for name in named]
    assert rows(database_url) == before


def test_a_user_token_reads_both_and_changes_the_rest_while_put_keeps_them(client: Client) -> None:
    me = create(client, externalId="crm-me", metadata=META)
    assert as_user(client, me["id"], "GET", f"/user/{me['id']}").json_body == me  # read, both included

    patched = as_user(client, me["id"], "PATCH", f"/user/{me['id']}", {"lastName": "King"})
    assert patched.status_code == 200, patched.body
    assert (patched.json_body["lastName"], patched.json_body["externalId"]) == ("King", "crm-me")

    # PUT replaces what a user may set; externalId and metadata, which it may not, stay.
    put = as_user(client, me["id"], "PUT", f"/user/{me['id']}", {**ADA, "firstName": "Augusta"})
    assert put.status_code == 200, put.body
    assert (put.json_body["firstName"], put.json_body["externalId"], put.json_body["metadata"]) == (
        "Augusta",
        "crm-me",
        META,
    )


def test_a_user_token_is_still_refused_another_users_record_with_the_plain_403(client: Client) -> None:
    me, other = create(client), create(client, firstName="Other")
    error = assert_error(as_user(client, me["id"], "PATCH", f"/user/{other['id']}", {"externalId": "x"}), 403)
    assert error["details"] == []  # the route's access check comes first: nothing about the body


@pytest.mark.parametrize("role", ["admin", "service"])
def test_admin_and_service_set_and_change_both(client: Client, role: str) -> None:
    user = create(client)
    headers = {**JSON, **bearer(token_for(role, "3f1e9a52-8d4c-4b7e-9a61-2c5d8e0f4b13"))}
    body = json.dumps({"externalId": f"crm-{role}", "metadata": {"by": role}})
    changed = client.http.request("PATCH", f"/user/{user['id']}", headers=headers, body=body)
    assert changed.status_code == 200, changed.body
    assert (changed.json_body["externalId"], changed.json_body["metadata"]) == (f"crm-{role}", {"by": role})


# --- the import updates only its own users ------------------------------------------------------


def adopt(client: Client, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = send(client, "POST", "/user/import", {"users": users, "adopt": True})
    assert response.status_code == 200, response.body
    return list(response.json_body["results"])


def test_the_import_refuses_a_user_made_by_post_user_until_the_team_adopts_it(
    client: Client, database_url: str
) -> None:
    posted = create(client, externalId="crm-7", firstName="Posted")
    before = rows(database_url)
    [refused] = import_users(client, [person(7, externalId="crm-7")]).json_body["results"]
    assert refused["status"] == "conflict"
    assert set(refused) == {"index", "status", "error"}
    assert refused["error"]["code"] == "conflict"
    [detail] = refused["error"]["details"]
    assert detail["field"] == "externalId"
    assert '"adopt": true' in detail["message"]
    assert rows(database_url) == before  # nothing written

    [adopted] = adopt(client, [person(7, externalId="crm-7")])
    assert (adopted["status"], adopted["id"]) == ("updated", posted["id"])
    assert client.http.get(f"/user/{posted['id']}").json_body["firstName"] == "Person7"

    # Adopted, it is the import's: later imports update it without being told.
    [again] = import_users(client, [person(7, externalId="crm-7", lastName="King")]).json_body["results"]
    assert (again["status"], again["id"]) == ("updated", posted["id"])


def test_adopting_a_user_with_the_same_fields_takes_it_over_and_changes_nothing_else(client: Client) -> None:
    posted = create(client, **person(8, externalId="crm-8"))
    [adopted] = adopt(client, [person(8, externalId="crm-8")])
    assert (adopted["status"], adopted["id"]) == ("unchanged", posted["id"])
    assert client.http.get(f"/user/{posted['id']}").json_body == posted  # updatedAt included
    [later] = import_users(client, [person(8, externalId="crm-8", firstName="New")]).json_body["results"]
    assert later["status"] == "updated"


def test_an_external_id_set_by_patch_takes_the_user_out_of_the_imports_hands(client: Client) -> None:
    [made] = import_users(client, [person(1, externalId="crm-1")]).json_body["results"]
    renamed = send(client, "PATCH", f"/user/{made['id']}", {"firstName": "Renamed"})
    assert renamed.status_code == 200
    [same] = import_users(client, [person(1, externalId="crm-1")]).json_body["results"]
    assert same["status"] == "updated"  # still the import's: its externalId was not touched

    send(client, "PATCH", f"/user/{made['id']}", {"externalId": "crm-1b"})
    [moved] = import_users(client, [person(1, externalId="crm-1b")]).json_body["results"]
    assert moved["status"] == "conflict"


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_adopt_must_be_a_boolean(client: Client, database_url: str, value: Any) -> None:
    response = send(client, "POST", "/user/import", {"users": [person(0)], "adopt": value})
    assert_error(response, 400, "adopt")
    assert rows(database_url) == []
