"""Fills secret settings from AWS Secrets Manager, once, when the container is first built.

In the cloud the functions get references, not values: `DB_SECRET_ARN` (the RDS secret:
username, password, dbname, port) with `DB_HOST` (the RDS Proxy endpoint) become
`DATABASE_URL`; `WEBHOOK_SECRET_ARN` and `JWT_SECRET_ARN` (plain-string secrets) become
`WEBHOOK_SECRET` and `JWT_SECRET`. A value already in the environment wins, so the local
stack and the tests never call AWS. Each function is given only the references it may read.

Where the AWS Parameters and Secrets Lambda Extension runs (its layer added, and
`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` set), secrets come from its local cache over HTTP:
no AWS SDK import and no client on the cold path (scripts/bench_cold.py measures both).
Otherwise one botocore client asks GetSecretValue. Either way, once per container.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

PLAIN_SECRETS = {"WEBHOOK_SECRET": "WEBHOOK_SECRET_ARN", "JWT_SECRET": "JWT_SECRET_ARN"}
EXTENSION_PORT = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_TIMEOUT_SECONDS = 5.0


class SecretsUnavailable(RuntimeError):
    """A referenced secret could not be read."""


class SecretsClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803 (boto3's name)


def resolve(env: Mapping[str, str], client: SecretsClient | None = None) -> dict[str, str]:
    """A copy of `env` with every referenced secret that has no value of its own filled in."""
    resolved = dict(env)
    wanted = {name: env[ref] for name, ref in PLAIN_SECRETS.items() if env.get(ref) and not env.get(name)}
    if env.get("JWKS_URL"):  # RS256: the HS256 secret is neither needed nor allowed alongside
        wanted.pop("JWT_SECRET", None)
    wants_database = bool(env.get("DB_SECRET_ARN")) and not env.get("DATABASE_URL")
    if not wanted and not wants_database:
        return resolved
    secrets = client if client is not None else _client(env)
    for name, arn in wanted.items():
        resolved[name] = _secret_string(secrets, arn)
    if wants_database:
        fields = json.loads(_secret_string(secrets, env["DB_SECRET_ARN"]))
        resolved["DATABASE_URL"] = database_url(fields, host=env.get("DB_HOST"))
    return resolved


def database_url(secret: Mapping[str, Any], host: str | None = None) -> str:
    """A libpq connection string from an RDS secret; TLS is required (RDS Proxy insists too)."""
    from psycopg import conninfo  # here, not at import: the authorizer never loads psycopg

    return conninfo.make_conninfo(
        host=host or secret["host"],
        port=str(secret.get("port", 5432)),
        dbname=secret.get("dbname", "postgres"),
        user=secret["username"],
        password=secret["password"],
        sslmode="require",
        connect_timeout="5",
    )


def _secret_string(client: SecretsClient, arn: str) -> str:
    return str(client.get_secret_value(SecretId=arn)["SecretString"])


class ExtensionClient:
    """GetSecretValue through the Parameters and Secrets Lambda Extension on localhost."""

    def __init__(self, port: int, token: str, timeout: float = EXTENSION_TIMEOUT_SECONDS) -> None:
        self._port = port
        self._token = token  # the extension accepts only callers holding the function's session token
        self._timeout = timeout

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]:  # noqa: N803 (boto3's name)
        import http.client  # the stdlib's smallest HTTP client; urllib.request would add more
        from urllib.parse import quote

        connection = http.client.HTTPConnection("localhost", self._port, timeout=self._timeout)
        try:
            connection.request(
                "GET",
                f"/secretsmanager/get?secretId={quote(SecretId, safe='')}",
                headers={"X-Aws-Parameters-Secrets-Token": self._token},
            )
            response = connection.getresponse()
            body = response.read()
        except OSError as exc:
            raise SecretsUnavailable(f"the secrets extension on port {self._port}: {exc}") from None
        finally:
            connection.close()
        if response.status != 200:
            detail = body[:200].decode(errors="replace")
            raise SecretsUnavailable(
                f"the secrets extension answered {response.status} for {SecretId}: {detail}"
            )
        value: Mapping[str, Any] = json.loads(body)
        return value


def _client(env: Mapping[str, str]) -> SecretsClient:
    port = env.get(EXTENSION_PORT)
    if port:
        return ExtensionClient(int(port), env.get("AWS_SESSION_TOKEN", ""))
    return sdk_client(env)


def sdk_client(env: Mapping[str, str]) -> SecretsClient:
    """GetSecretValue through botocore (imported only where a secret is fetched)."""
    from chalicelib.adapters import aws_clients

    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    client: SecretsClient = aws_clients.client("secretsmanager", region)
    return client
