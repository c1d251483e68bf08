"""`client`: chalice's in-process test client, sending an admin token unless told otherwise.

Tests that pass their own `Authorization` header send exactly that; `client.anonymous` sends
whatever headers it is given and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse, TestHTTPClient

from app import app
from chalicelib import bootstrap
from tests.tokens import admin_token, bearer


class AuthorizedHTTP(TestHTTPClient):
    def __init__(self, anonymous: TestHTTPClient, token: str) -> None:
        self._anonymous = anonymous
        self._token = token

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> HTTPResponse:
        sent = dict(headers or {})
        if not any(name.lower() == "authorization" for name in sent):
            sent.update(bearer(self._token))
        return self._anonymous.request(method, path, headers=sent, body=body)


class AuthorizedClient(Client):
    def __init__(self, *args: Any, token: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token = token

    @property
    def anonymous(self) -> TestHTTPClient:
        return super().http

    @property
    def http(self) -> TestHTTPClient:
        return AuthorizedHTTP(self.anonymous, self._token)


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[AuthorizedClient]:
    with AuthorizedClient(app, token=admin_token()) as test_client:
        yield test_client
