"""`client`: chalice's in-process test client, sending an admin token unless told otherwise.

Tests that pass their own `Authorization` header send exactly that; `client.anonymous` sends
whatever headers it is given and nothing more. Every response either one gets is checked
against the OpenAPI document (tests/contract.py): status, content type and body, with no
undeclared field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse, TestHTTPClient

from app import app
from chalicelib import bootstrap
from tests import contract
from tests.tokens import admin_token, bearer


class ContractHTTP(TestHTTPClient):
    """Sends through chalice's client; fails the test on a response the document does not describe."""

    def __init__(self, inner: TestHTTPClient) -> None:
        self._inner = inner

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> HTTPResponse:
        response = self._inner.request(method, path, headers=headers, body=body)
        contract.check(method, path, response.status_code, response.headers, response.body)
        return response


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
        return ContractHTTP(super().http)

    @property
    def http(self) -> TestHTTPClient:
        return AuthorizedHTTP(self.anonymous, self._token)


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[AuthorizedClient]:
    with AuthorizedClient(app, token=admin_token()) as test_client:
        yield test_client
