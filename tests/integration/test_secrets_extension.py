"""Secrets through the Parameters and Secrets Lambda Extension's HTTP interface, served here by
a real local HTTP server that answers as the extension does (its path, header and JSON)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters import secrets

TOKEN = "session-token-of-the-function"
DB_SECRET = {"username": "scheduler", "password": "pw", "dbname": "events", "port": 5432, "host": "db"}
VALUES = {"arn:aws:secretsmanager:us-east-1:1:secret:db/x": json.dumps(DB_SECRET), "arn:jwt": "j" * 40}


class Extension(http.server.ThreadingHTTPServer):
    asked: list[str]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Extension

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        secret_id = parse_qs(url.query).get("secretId", [""])[0]
        if self.headers.get("X-Aws-Parameters-Secrets-Token") != TOKEN:
            status, body = 401, b"missing or wrong token"
        elif url.path != "/secretsmanager/get" or secret_id not in VALUES:
            status, body = 400, b"unknown secret"
        else:
            self.server.asked.append(secret_id)
            status, body = 200, json.dumps({"ARN": secret_id, "SecretString": VALUES[secret_id]}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def extension() -> Iterator[Extension]:
    server = Extension(("127.0.0.1", 0), Handler)
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_with_the_extensions_port_set_secrets_come_from_it(extension: Extension) -> None:
    env = {
        secrets.EXTENSION_PORT: str(extension.server_address[1]),
        "AWS_SESSION_TOKEN": TOKEN,
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:db/x",
        "DB_HOST": "proxy.internal",
        "JWT_SECRET_ARN": "arn:jwt",
    }
    resolved = secrets.resolve(env)
    assert resolved["JWT_SECRET"] == "j" * 40
    assert "host=proxy.internal" in resolved["DATABASE_URL"]
    assert "dbname=events" in resolved["DATABASE_URL"]
    assert sorted(extension.asked) == sorted(VALUES)  # each once


def test_a_refusal_by_the_extension_is_a_clear_error(extension: Extension) -> None:
    client = secrets.ExtensionClient(extension.server_address[1], "not-the-token")
    with pytest.raises(secrets.SecretsUnavailable, match="answered 401"):
        client.get_secret_value(SecretId="arn:jwt")


def test_an_extension_that_is_not_running_is_a_clear_error(extension: Extension) -> None:
    port = extension.server_address[1]
    extension.shutdown()
    extension.server_close()
    with pytest.raises(secrets.SecretsUnavailable, match=f"port {port}"):
        secrets.ExtensionClient(port, TOKEN, timeout=2).get_secret_value(SecretId="arn:jwt")
