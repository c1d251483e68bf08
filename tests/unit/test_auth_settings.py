from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.jwt_verifier import JwksKeys, SharedSecret
from chalicelib.settings import LOCAL_JWT_SECRET, AuthMode, AuthSettings, Settings, SettingsError
from scripts import mint_token as token_script

CLOUD_SECRET = "a-cloud-secret-from-secrets-manager-0123456789"


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_the_bypass_is_refused_outside_the_local_stage(stage: str) -> None:
    with pytest.raises(SettingsError, match="AUTH_MODE=off is honoured only when STAGE=local"):
        Settings.from_env({"STAGE": stage, "AUTH_MODE": "off", "JWT_SECRET": CLOUD_SECRET})
    with pytest.raises(SettingsError):
        Settings(stage=stage, auth=AuthSettings(mode=AuthMode.OFF))


def test_the_bypass_is_explicit_and_local_only() -> None:
    assert Settings.from_env({}).auth.mode is AuthMode.JWT
    assert Settings.from_env({"STAGE": "local", "AUTH_MODE": "off"}).auth.mode is AuthMode.OFF
    with pytest.raises(SettingsError, match="AUTH_MODE must be jwt or off"):
        Settings.from_env({"AUTH_MODE": "none"})


def test_the_local_secret_is_the_default_on_the_local_stage_only() -> None:
    assert Settings.from_env({}).auth.secret_for("local") == LOCAL_JWT_SECRET
    cloud = Settings.from_env({"STAGE": "prod"})
    assert cloud.auth.secret_for("prod") is None
    with pytest.raises(SettingsError, match="needs JWT_SECRET or JWKS_URL"):
        _ = bootstrap.Container(cloud).verifier
    with pytest.raises(SettingsError, match="local development JWT secret"):
        Settings.from_env({"STAGE": "prod", "JWT_SECRET": LOCAL_JWT_SECRET})


def test_one_mode_at_a_time_and_a_long_enough_secret() -> None:
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"JWT_SECRET": CLOUD_SECRET, "JWKS_URL": "https://idp.test/jwks.json"})
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        Settings.from_env({"JWT_SECRET": "short"})
    with pytest.raises(SettingsError, match="JWT_LEEWAY"):
        Settings.from_env({"JWT_LEEWAY": "1h"})


def test_the_container_builds_the_verifier_the_settings_ask_for() -> None:
    rs = Settings.from_env({"STAGE": "prod", "JWKS_URL": "https://idp.test/jwks.json", "JWT_ISSUER": "i"})
    assert isinstance(bootstrap.Container(rs).verifier._keys, JwksKeys)
    hs = Settings.from_env({"STAGE": "prod", "JWT_SECRET": CLOUD_SECRET, "JWT_LEEWAY": "10s"})
    assert hs.auth.leeway == timedelta(seconds=10)
    assert isinstance(bootstrap.Container(hs).verifier._keys, SharedSecret)


def test_token_script_prints_a_verifiable_token_on_its_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert token_script.main(["--role", "user", "--sub", "u-1", "--ttl", "60"], env={}) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    payload = jwt.decode(last, LOCAL_JWT_SECRET, algorithms=["HS256"])
    assert payload["sub"] == "u-1"
    assert payload["roles"] == ["user"]
    assert payload["exp"] - payload["iat"] == 60


def test_token_script_negative_ttl_gives_an_expired_token(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"JWT_ISSUER": "https://issuer.test/", "JWT_AUDIENCE": "api"}
    assert token_script.main(["--role", "admin", "--ttl", "-5"], env=env) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(
            last, LOCAL_JWT_SECRET, algorithms=["HS256"], audience="api", issuer="https://issuer.test/"
        )


def test_token_script_refuses_a_cloud_stage_without_a_secret() -> None:
    with pytest.raises(SystemExit) as exited:
        token_script.main(["--role", "admin"], env={"STAGE": "prod"})
    assert exited.value.code == 2
