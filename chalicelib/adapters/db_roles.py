"""The application's database login: created and granted by the migrate step, used by the rest.

Only the migrations log in as the RDS master user. The API, the sweeper and the worker log in
as an application role that may read and write rows and nothing else (chalicelib/sql/roles/
app.sql): it cannot change the schema, drop a table or run a migration. Its password lives in
its own generated secret (APP_DB_SECRET_ARN, read by the migrate function only); RDS Proxy
serves both logins. Running this again changes nothing but the password, to the secret's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

GRANTS = Path(__file__).resolve().parents[1] / "sql" / "roles" / "app.sql"


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)


def login_from_env(env: Mapping[str, str] | None = None, client: Any = None) -> Login | None:
    """The application login from its secret (APP_DB_SECRET_ARN); None when none is configured
    (the local stack and the tests connect with one login)."""
    env = os.environ if env is None else env
    arn = env.get("APP_DB_SECRET_ARN")
    if not arn:
        return None
    if client is None:
        from chalicelib.adapters import aws_clients  # only the migrate function gets here

        client = aws_clients.client("secretsmanager", env.get("AWS_REGION") or None)
    secret = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    return Login(secret["username"], secret["password"])


def ensure(master_url: str, login: Login) -> None:
    """Creates (or re-passwords) the role and applies its grants, in one transaction."""
    role = sql.Identifier(login.username)
    with psycopg.connect(master_url) as conn:
        exists = conn.execute(b"SELECT 1 FROM pg_roles WHERE rolname = %s", (login.username,)).fetchone()
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        conn.execute(
            sql.SQL("{} {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                verb, role, sql.Literal(login.password)
            )
        )
        database = conn.execute(b"SELECT current_database()").fetchone()
        assert database is not None
        grants = sql.SQL(GRANTS.read_text()).format(role=role, database=sql.Identifier(database[0]))
        conn.execute(grants)
