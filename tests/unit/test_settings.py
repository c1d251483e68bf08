"""Settings from the environment: defaults, parsing, and a clear SettingsError for bad values."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.domain import event_types
from chalicelib.domain.occurrence import LeapDayPolicy
from chalicelib.settings import Settings, SettingsError, parse_duration


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.stage == "local"
    assert settings.database_url is None
    assert settings.db_pool_size == 4
    assert settings.delivery_times == {}
    assert settings.leap_day_policy is LeapDayPolicy.MAR1
    assert settings.max_event_age == timedelta(days=7)


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "STAGE": "prod",
            "DATABASE_URL": "postgresql://db.example/scheduler",
            "DB_POOL_SIZE": "10",
            "DELIVERY_TIME_BIRTHDAY": "08:30",
            "DELIVERY_TIME_ANNIVERSARY": "18:00",
            "LEAP_DAY_POLICY": "feb28",
            "MAX_EVENT_AGE": "36h",
        }
    )
    assert settings.stage == "prod"
    assert settings.database_url == "postgresql://db.example/scheduler"
    assert settings.db_pool_size == 10
    assert settings.delivery_times == {"birthday": time(8, 30), "anniversary": time(18, 0)}
    assert settings.leap_day_policy is LeapDayPolicy.FEB28
    assert settings.max_event_age == timedelta(hours=36)


def test_the_schedule_follows_the_settings() -> None:
    schedule = Settings.from_env({"DELIVERY_TIME_BIRTHDAY": "07:15", "LEAP_DAY_POLICY": "feb28"}).builtins()
    assert schedule.delivery_time(event_types.get("birthday")) == time(7, 15)
    assert schedule.delivery_time(event_types.get("anniversary")) == time(9, 0)
    assert schedule.leap_day_policy is LeapDayPolicy.FEB28


def test_empty_values_mean_unset() -> None:
    settings = Settings.from_env({"DATABASE_URL": "", "DELIVERY_TIME_BIRTHDAY": ""})
    assert settings.database_url is None
    assert settings.delivery_times == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("36h", timedelta(hours=36)),
        ("7d", timedelta(days=7)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration("MAX_EVENT_AGE", text) == expected


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"STAGE": "production"}, "STAGE must be one of local, dev, staging, prod, not 'production'"),
        ({"LEAP_DAY_POLICY": "march"}, "LEAP_DAY_POLICY must be mar1 or feb28, not 'march'"),
        (
            {"MAX_EVENT_AGE": "7 days"},
            "MAX_EVENT_AGE must be a duration like 90s, 15m, 36h or 7d, not '7 days'",
        ),
        ({"MAX_EVENT_AGE": "-1d"}, "MAX_EVENT_AGE must be a duration like 90s, 15m, 36h or 7d, not '-1d'"),
        ({"MAX_EVENT_AGE": "1w"}, "MAX_EVENT_AGE must be a duration like 90s, 15m, 36h or 7d, not '1w'"),
        ({"MAX_EVENT_AGE": "0"}, "MAX_EVENT_AGE must be longer than zero, not '0'"),
        ({"MAX_EVENT_AGE": "0d"}, "MAX_EVENT_AGE must be longer than zero, not '0d'"),
        (
            {"DELIVERY_TIME_BIRTHDAY": "25:00"},
            "DELIVERY_TIME_BIRTHDAY must be a time like 09:00, not '25:00'",
        ),
        ({"DELIVERY_TIME_BIRTHDAY": "9am"}, "DELIVERY_TIME_BIRTHDAY must be a time like 09:00, not '9am'"),
        (
            {"DELIVERY_TIME_ANNIVERSARY": "09:00+02:00"},
            "DELIVERY_TIME_ANNIVERSARY is a wall time in each user's zone; give no offset, not '09:00+02:00'",
        ),
        ({"DB_POOL_SIZE": "many"}, "DB_POOL_SIZE must be a whole number of at least 1, not 'many'"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be a whole number of at least 1, not '0'"),
        ({"DB_POOL_SIZE": "-3"}, "DB_POOL_SIZE must be a whole number of at least 1, not '-3'"),
    ],
)
def test_bad_values_raise_a_clear_settings_error(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == says


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.stage = "prod"  # type: ignore[misc]


def test_the_container_reads_the_environment_once_and_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "not-a-stage")
    bootstrap.install(None)
    try:
        # Nothing read it yet; the first use does, and says what is wrong.
        with pytest.raises(SettingsError, match="STAGE"):
            bootstrap.container()
        monkeypatch.setenv("STAGE", "dev")
        first = bootstrap.container()
        monkeypatch.setenv("STAGE", "prod")
        assert bootstrap.container() is first
        assert first.settings.stage == "dev"
    finally:
        bootstrap.install(None)


def test_without_a_database_url_the_database_is_a_settings_error() -> None:
    container = bootstrap.Container(Settings.from_env({}))
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        _ = container.db


def test_prepared_statements_can_be_switched_off_for_rds_proxy() -> None:
    assert Settings.from_env({}).db_prepare_threshold == 5
    assert Settings.from_env({"DB_PREPARE_THRESHOLD": "off"}).db_prepare_threshold is None
    assert Settings.from_env({"DB_PREPARE_THRESHOLD": "2"}).db_prepare_threshold == 2
    with pytest.raises(SettingsError, match="DB_PREPARE_THRESHOLD"):
        Settings.from_env({"DB_PREPARE_THRESHOLD": "never"})


CLOUD_JWT = "a cloud stage's own signing key, 32+ bytes"


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_a_cloud_worker_without_a_webhook_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """Unsigned webhooks from a deployed stage are ones anybody could forge: the worker's
    container (the only function given WEBHOOK_URL) refuses to be built, naming the setting."""
    for name, value in {
        "STAGE": stage,
        "WEBHOOK_URL": "https://hooks.example/in",
        "JWT_SECRET": CLOUD_JWT,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("WEBHOOK_SECRET_ARN", raising=False)
    bootstrap.install(None)
    try:
        with pytest.raises(SettingsError, match=f"WEBHOOK_SECRET is not set: STAGE={stage}"):
            bootstrap.container()
        monkeypatch.setenv("WEBHOOK_SECRET", "whsec_c2VjcmV0")
        assert bootstrap.container().settings.webhook_secret == "whsec_c2VjcmV0"
    finally:
        bootstrap.install(None)


def test_functions_that_send_no_webhook_and_the_local_stack_need_no_webhook_secret() -> None:
    assert Settings.from_env({"STAGE": "prod", "JWT_SECRET": CLOUD_JWT}).webhook_secret is None  # the API
    local = Settings.from_env({"WEBHOOK_URL": "http://127.0.0.1:8002/"})  # make run warns instead
    assert (local.webhook_url, local.webhook_secret) == ("http://127.0.0.1:8002/", None)


def test_endpoint_destinations_are_open_locally_and_closed_in_a_cloud_stage_until_listed() -> None:
    local = Settings.from_env({})
    assert (local.endpoint_allowed_arns, local.endpoint_private_urls) == (None, True)
    cloud = {"STAGE": "dev", "JWKS_URL": "https://auth.example.com/jwks.json"}
    dev = Settings.from_env(cloud)
    assert (dev.endpoint_allowed_arns, dev.endpoint_private_urls) == ((), False)
    listed = Settings.from_env(cloud | {"ENDPOINT_ALLOWED_ARNS": " arn:aws:sqs:*:1:a , arn:aws:sns:*:1:b,"})
    assert listed.endpoint_allowed_arns == ("arn:aws:sqs:*:1:a", "arn:aws:sns:*:1:b")
    with pytest.raises(SettingsError, match="ENDPOINT_PRIVATE_URLS"):
        Settings.from_env({"ENDPOINT_PRIVATE_URLS": "yes"})
