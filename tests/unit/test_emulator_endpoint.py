"""Where `make run` looks for (or starts) its AWS emulator."""

from __future__ import annotations

import pytest

from scripts.devstack.aws import emulator_endpoint


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_is_the_loopback_edge_port() -> None:
    assert emulator_endpoint() == "http://127.0.0.1:4566"


def test_aws_endpoint_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4599/")
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4577")
    assert emulator_endpoint() == "http://127.0.0.1:4599"


def test_localstacks_own_settings_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4577")
    monkeypatch.setenv("USE_SSL", "1")
    assert emulator_endpoint() == "https://127.0.0.1:4577"
