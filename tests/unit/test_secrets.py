from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from psycopg import conninfo

from chalicelib.adapters import secrets

DB_SECRET = {
    "username": "scheduler",
    "password": "p@ss w'rd",
    "dbname": "event_scheduler",
    "port": 5432,
    "host": "instance.internal",
    "engine": "postgres",
}


class FakeSecretsManager:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]:  # noqa: N803
        self.asked.append(SecretId)
        return {"ARN": SecretId, "SecretString": self.values[SecretId]}


def test_nothing_is_fetched_when_no_reference_is_set() -> None:
    env = {"STAGE": "local", "DATABASE_URL": "postgresql://x"}
    # No client is given: one would be built from botocore if anything were fetched.
    assert secrets.resolve(env) == env


def test_values_already_set_win_over_references() -> None:
    client = FakeSecretsManager({})
    env = {
        "DATABASE_URL": "postgresql://local",
        "DB_SECRET_ARN": "arn:db",
        "WEBHOOK_SECRET": "w",
        "WEBHOOK_SECRET_ARN": "a",
    }
    assert secrets.resolve(env, client) == env
    assert client.asked == []


def test_the_database_url_is_built_from_the_rds_secret_and_the_proxy_host() -> None:
    client = FakeSecretsManager({"arn:db": json.dumps(DB_SECRET)})
    resolved = secrets.resolve({"DB_SECRET_ARN": "arn:db", "DB_HOST": "proxy.internal"}, client)
    params = conninfo.conninfo_to_dict(resolved["DATABASE_URL"])
    assert params["host"] == "proxy.internal"
    assert (params["user"], params["password"], params["dbname"]) == (
        "scheduler",
        "p@ss w'rd",
        "event_scheduler",
    )
    assert params["port"] == "5432"
    assert params["sslmode"] == "require"
    assert client.asked == ["arn:db"]


def test_without_a_host_the_secrets_own_host_is_used() -> None:
    url = secrets.database_url(DB_SECRET)
    assert conninfo.conninfo_to_dict(url)["host"] == "instance.internal"


def test_plain_secrets_fill_their_variables_and_only_referenced_ones_are_fetched() -> None:
    client = FakeSecretsManager({"arn:webhook": "whsec-value", "arn:jwt": "jwt-value"})
    resolved = secrets.resolve({"WEBHOOK_SECRET_ARN": "arn:webhook", "STAGE": "prod"}, client)
    assert resolved["WEBHOOK_SECRET"] == "whsec-value"
    assert "JWT_SECRET" not in resolved
    assert resolved["STAGE"] == "prod"
    assert client.asked == ["arn:webhook"]


def test_the_real_client_is_built_for_the_functions_region_without_calling_aws() -> None:
    client = secrets.sdk_client({"AWS_REGION": "eu-west-1"})
    assert client.meta.region_name == "eu-west-1"  # type: ignore[attr-defined]


def test_with_a_jwks_url_the_hs256_secret_is_not_fetched() -> None:
    # The stack gives the authorizer both references; RS256 needs only the JWKS, and a filled
    # JWT_SECRET next to JWKS_URL would be refused by the settings.
    client = FakeSecretsManager({"arn:jwt": "j" * 40})
    env = {"JWT_SECRET_ARN": "arn:jwt", "JWKS_URL": "https://issuer.example/jwks.json", "STAGE": "prod"}
    assert secrets.resolve(env, client) == env
    assert client.asked == []
