from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.settings import Settings, SettingsError


def test_pipeline_defaults() -> None:
    s = Settings.from_env({})
    assert (s.lease, s.max_attempts, s.backoff_base, s.backoff_cap) == (
        timedelta(minutes=15),
        10,
        timedelta(seconds=10),
        timedelta(minutes=15),
    )
    assert (s.sweep_batch_size, s.sweep_time_budget, s.webhook_connect_timeout, s.webhook_read_timeout) == (
        500,
        timedelta(seconds=50),
        2.0,
        5.0,
    )
    assert s.webhook_concurrency == 10


def test_pipeline_settings_come_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DELIVERY_LEASE": "20m",
            "MAX_ATTEMPTS": "4",
            "BACKOFF_BASE": "30s",
            "BACKOFF_CAP": "1h",
            "SWEEP_BATCH_SIZE": "1000",
            "SWEEP_TIME_BUDGET": "240s",
            "WEBHOOK_READ_TIMEOUT": "2.5",
            "WEBHOOK_CONCURRENCY": "4",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        }
    )
    assert (s.lease, s.max_attempts, s.backoff_base, s.backoff_cap) == (
        timedelta(minutes=20),
        4,
        timedelta(seconds=30),
        timedelta(hours=1),
    )
    assert (s.sweep_batch_size, s.sweep_time_budget, s.webhook_read_timeout) == (
        1000,
        timedelta(minutes=4),
        2.5,
    )
    assert s.aws_endpoint_url == "http://127.0.0.1:4566"
    assert s.webhook_concurrency == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_ATTEMPTS", "0"),
        ("MAX_ATTEMPTS", "ten"),
        ("SWEEP_BATCH_SIZE", "-1"),
        ("WEBHOOK_READ_TIMEOUT", "0"),
        ("WEBHOOK_CONCURRENCY", "0"),
    ],
)
def test_unusable_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_sweep_looks_ahead_150_s_by_default_and_at_most_as_far_as_sqs_can_delay() -> None:
    assert Settings.from_env({}).sweep_lookahead == timedelta(seconds=150)
    assert Settings.from_env({"SWEEP_LOOKAHEAD": "15m"}).sweep_lookahead == timedelta(seconds=900)
    assert Settings.from_env({"SWEEP_LOOKAHEAD": "0"}).sweep_lookahead == timedelta(0)
    with pytest.raises(SettingsError, match="SWEEP_LOOKAHEAD must be from 0s to 900s"):
        Settings.from_env({"SWEEP_LOOKAHEAD": "901s"})
