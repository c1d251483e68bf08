from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[Client]:
    with Client(app) as test_client:
        yield test_client
